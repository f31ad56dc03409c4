"""Build the C capture core; everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tracehound.agent.tracer._core",
            ["agent/tracer/_core.c", "agent/tracer/pathwatch.c", "agent/tracer/keyhash.c"],
            depends=["agent/tracer/pathwatch.h", "agent/tracer/keyhash.h"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
        )
    ]
)
