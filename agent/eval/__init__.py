"""Offline evaluation over labelled case bundles (the agent itself never imports this)."""
