"""Shipped configuration: default.toml and the default rules (data only)."""
