"""Every field a rule condition or output may use, one module per family.

registry.py holds the table (FieldSpec: type, expression, cost, /proc needs) and
`define`; evt.py, proc.py, fd.py, user.py and container.py each define their
family's fields once. A new field goes into its family's module. The helpers
generated code calls read per-chain state from a FieldContext (context.py).
"""

# Importing the family modules defines their fields.
from tracehound.filters.falco.fields import container, evt, fd, proc, user  # noqa: F401
from tracehound.filters.falco.fields.container import container_privileged, detect_privileged
from tracehound.filters.falco.fields.context import FieldContext, WrittenFiles, is_open_write
from tracehound.filters.falco.fields.registry import (
    FIELDS,
    HELPERS,
    FieldSpec,
    field_names,
    generic_field,
    proc_level_fields,
)

__all__ = [
    "FIELDS",
    "HELPERS",
    "FieldContext",
    "FieldSpec",
    "WrittenFiles",
    "container_privileged",
    "detect_privileged",
    "field_names",
    "generic_field",
    "is_open_write",
    "proc_level_fields",
]
