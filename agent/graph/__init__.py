"""The investigation graph: triage → select_skill → gather → analyze → reason → report → memory."""
