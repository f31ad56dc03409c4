"""The hand-off micro-benchmark: `python -m bench.handoff.run` (docs/performance.md)."""
