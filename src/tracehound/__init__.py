"""tracehound: runtime security for containers without kernel access.

The only top-level name this distribution installs, and the ground floor every
package stands on: event.py, record.py, task.py, families.py, the config-error kit
(config_checks.py, config_validate.py, toml_lines.py) and periodic.py. Its
subpackages live in the repository's top-level folders (see pyproject.toml's
package-dir): tracehound.filters (filters/), tracehound.sinks (sinks/),
tracehound.agent (agent/, the roof) and tracehound.config (config/, data only).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
