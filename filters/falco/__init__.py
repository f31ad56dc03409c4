"""The Falco rules engine: condition syntax, code generation, output formatting,
rule-file reader, collector and compiler, the engine, and the fields (fields/).

A rule file goes reader -> collector -> compiler -> RuleEngine; the stage chain
(filters/chain.py) and the tests run it through RuleEngine.run.
"""

from tracehound.filters.falco.compiler import CompiledRule, RuleLoader
from tracehound.filters.falco.engine import (
    RuleEngine,
    load_configured_rules,
    load_rules,
)
from tracehound.filters.falco.reader import LoadIssue, RuleSource, read_rule_file
from tracehound.filters.falco.syntax import ConditionError, UnsupportedError

__all__ = [
    "CompiledRule",
    "ConditionError",
    "LoadIssue",
    "RuleEngine",
    "RuleLoader",
    "RuleSource",
    "UnsupportedError",
    "load_configured_rules",
    "load_rules",
    "read_rule_file",
]
