"""tracehound: runtime security for containers without kernel access.

The only top-level name this distribution installs. Its subpackages live in the
repository's top-level folders (see pyproject.toml's package-dir):
tracehound.agent (agent/), tracehound.filters (filters/), tracehound.sinks
(sinks/) and tracehound.config (config/, data only).
"""

__version__ = "0.1.0"
