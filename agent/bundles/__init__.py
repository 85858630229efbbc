"""Case bundles: one incident, release or inspection window as plain files."""
