"""Shipped configuration: default.toml and the default rules (data only)."""

__all__: list[str] = []
