"""The stage chain between the tracer and the sinks.

enrich -> sampling -> sensitive paths -> baseline -> rules (Falco rule syntax).
Exports the config struct and check, `build_chain` and `StageChain`.
"""

from tracehound.filters.chain import RulesLoadError, StageChain, build_chain
from tracehound.filters.config import FiltersConfig, check_filters

__all__ = ["FiltersConfig", "RulesLoadError", "StageChain", "build_chain", "check_filters"]
