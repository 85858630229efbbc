"""Skills: the YAML unit of orchestration (schema, loader, templates, selection)."""
