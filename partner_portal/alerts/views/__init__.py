"""The analysts' console: list, detail, incidents, health (one module per page family)."""
