"""Data sources: metrics, logs and changes, each behind one interface (the topology model is agent.topology)."""
