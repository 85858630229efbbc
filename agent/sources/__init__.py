"""Data sources: metrics, logs, changes and topology, each behind one interface."""
