"""The `tracehound` command line: run, validate, print-config, baseline, ecs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio
import msgspec

from tracehound.agent.config import (
    Config,
    ConfigError,
    effective_config,
    load_config,
    parse_config,
)
from tracehound.agent.config_env import CONFIG_ENV

USAGE_EXIT = 2


def _load(path: str | None) -> Config | None:
    try:
        env_text = os.environ.get(CONFIG_ENV)
        if path is None and env_text:
            # `tracehound ecs instrument --config` puts the TOML here: no file in the image.
            return parse_config(env_text, f"${CONFIG_ENV}", Path.cwd())
        return load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            sys.stderr.write(f"tracehound: {exc.source}: {issue}\n")
        return None


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=level.upper(), format="tracehound: %(levelname)s %(message)s"
    )


def cmd_run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        args.parser.print_usage(sys.stderr)
        sys.stderr.write(
            "tracehound run: missing the command to run (tracehound run -- APP ARGS)\n"
        )
        return USAGE_EXIT
    cfg = _load(args.config)
    if cfg is None:
        return USAGE_EXIT
    _setup_logging(cfg.agent.log_level)
    from tracehound.agent.entrypoint import run  # imports the tracer: only needed here

    base = Path(args.config).resolve().parent if args.config else Path.cwd()
    return run(cfg, command, base)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"{exc.source}: {issue}")
        print(f"{exc.source}: {len(exc.issues)} error(s)")
        return 1
    sinks = ", ".join(f"{n} ({c.type})" for n, c in cfg.sinks.items()) or "none"
    print(f"{args.file}: valid; tracer profile {cfg.tracer.profile}; sinks: {sinks}")
    from tracehound.agent.tracer.profiles import resolve
    from tracehound.filters.report import print_rules_report

    tracer = cfg.tracer
    if not print_rules_report(
        cfg.filters,
        Path(args.file).resolve().parent,
        profile=tracer.profile,
        # auto: derived from these very rules, so none of them can be left out
        traced=None if tracer.profile == "auto" else resolve(tracer.profile, tracer.syscalls),
        capture_results=list(tracer.results_known()),
        strict=args.strict,
    ):
        return 1
    from tracehound.agent.selection import describe_config

    print("\n".join(describe_config(cfg, Path(args.file).resolve().parent)))
    if args.check_sinks:
        from tracehound.sinks import check_sinks_health

        results = anyio.run(check_sinks_health, cfg.sinks)
        failed = 0
        for name, error in results:
            print(f"sink {name}: {'ok' if error is None else 'FAILED: ' + error}")
            failed += error is not None
        return 1 if failed else 0
    return 0


def cmd_print_config(args: argparse.Namespace) -> int:
    cfg = _load(args.file)
    if cfg is None:
        return USAGE_EXIT
    sys.stdout.write(msgspec.toml.encode(effective_config(cfg)).decode())
    from tracehound.agent.selection import describe_config

    base = Path(args.file).resolve().parent if args.file else Path.cwd()
    sys.stdout.write("".join(f"# {line}\n" for line in describe_config(cfg, base)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracehound",
        description="Runtime security for containers: trace an application with "
        "seccomp-filtered ptrace and ship what it does to your SIEM.",
    )
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run APP under the tracer (the container entrypoint)")
    run.add_argument("--config", "-c", help="TOML config (default: the shipped default.toml)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- APP ARGS...")
    run.set_defaults(func=cmd_run, parser=run)

    val = sub.add_parser("validate", help="check a config file; print every error")
    val.add_argument("file")
    val.add_argument("--check-sinks", action="store_true", help="also run each sink's healthcheck")
    val.add_argument(
        "--strict", action="store_true", help="fail when a rule is skipped as unsupported"
    )
    val.set_defaults(func=cmd_validate)

    pc = sub.add_parser("print-config", help="print the effective config, defaults filled in")
    pc.add_argument("file", nargs="?")
    pc.set_defaults(func=cmd_print_config)

    from tracehound.agent.ecs.cli import register as register_ecs

    register_ecs(sub)
    try:
        from tracehound.filters.cli import register_commands
    except ImportError:  # pragma: no cover - filters not installed
        pass
    else:
        register_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
