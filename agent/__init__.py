"""The roof: CLI (cli.py, the `tracehound` command), config, entrypoint, pipeline,
router, and the tracer (tracer/). Nothing below imports it, and it exports nothing
itself: importing the package stays free, and its modules are reached by name."""

__all__: list[str] = []
