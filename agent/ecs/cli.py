"""`tracehound ecs instrument` and `tracehound install-bundle`."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from tracehound.agent.config_env import CONFIG_ENV
from tracehound.agent.ecs.instrument import InstrumentError, Options, instrument
from tracehound.agent.ecs.registry import cached, image_defaults
from tracehound.agent.ecs.taskdef import registrable

USAGE_EXIT = 2


def _per_container(values: list[str], flag: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in values:
        name, sep, raw = v.partition("=")
        try:
            parsed = json.loads(raw) if sep else None
        except json.JSONDecodeError as exc:
            raise InstrumentError(f"--{flag} {v!r}: not JSON ({exc.msg})") from None
        if not isinstance(parsed, list) or not all(isinstance(x, str) for x in parsed):
            raise InstrumentError(f"--{flag} {v!r}: expected NAME='[\"arg\", ...]'")
        out[name] = parsed
    return out


def _config_text(path: str) -> str:
    """Validated now, with the same loader `tracehound run` uses."""
    from tracehound.agent.config import ConfigError, parse_config

    text = Path(path).read_text()
    try:
        parse_config(text, path, Path(path).resolve().parent)
    except ConfigError as exc:
        raise InstrumentError("; ".join(f"{exc.source}: {i}" for i in exc.issues)) from None
    return text


def cmd_instrument(args: argparse.Namespace) -> int:
    try:
        doc: Any = json.loads(Path(args.file).read_text())
        td = registrable(doc)
        opts = Options(
            image=args.image,
            containers=tuple(args.container),
            backend=args.backend,
            entrypoints=_per_container(args.entrypoint, "entrypoint"),
            commands=_per_container(args.command, "command"),
            config_toml=_config_text(args.config) if args.config else None,
            config_from=args.config_from,
            resolve=None if args.no_registry else cached(image_defaults),
        )
        result = instrument(td, opts)
    except (OSError, ValueError, InstrumentError) as exc:
        sys.stderr.write(f"tracehound ecs instrument: {exc}\n")
        return USAGE_EXIT
    if not result.changed:
        sys.stderr.write(f"tracehound ecs instrument: {args.file} is already instrumented\n")
    if args.check:
        for line in result.changes or ["nothing to change"]:
            print(line)
        return 0
    text = json.dumps(result.taskdef, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_install_bundle(args: argparse.Namespace) -> int:
    """Copy this self-contained tracehound (the bundle it runs from) into DEST:
    the init container's command, in an image that has no shell."""
    if not getattr(sys, "frozen", False):
        sys.stderr.write("tracehound install-bundle: runs only from the bundle (deploy/bundle)\n")
        return USAGE_EXIT
    root = Path(sys.executable).resolve().parent.parent  # DIST/bin/tracehound -> DIST
    dest = Path(args.dest)
    shutil.copytree(root, dest, symlinks=True, dirs_exist_ok=True)
    print(f"tracehound: bundle copied to {dest}")
    return 0


def register(sub: Any) -> None:
    ecs = sub.add_parser("ecs", help="ECS tools: guard a task without rebuilding its image")
    ecs_sub = ecs.add_subparsers(dest="ecs_cmd", required=True, metavar="COMMAND")
    ins = ecs_sub.add_parser(
        "instrument",
        help="rewrite a task definition: an init container brings tracehound, "
        "the application containers run under it",
    )
    ins.add_argument("file", help="RegisterTaskDefinition JSON or describe-task-definition output")
    ins.add_argument("--image", required=True, help="the tracehound image (deploy/docker)")
    ins.add_argument(
        "--container", action="append", default=[], help="wrap this container (default: essential)"
    )
    ins.add_argument(
        "--backend",
        choices=("auto", "seccomp_notify", "ptrace"),
        default="auto",
        help="seccomp_notify needs no SYS_PTRACE capability",
    )
    ins.add_argument(
        "--entrypoint",
        action="append",
        default=[],
        help="NAME='[...]': overrides what the image's registry says",
    )
    ins.add_argument(
        "--command",
        action="append",
        default=[],
        help="NAME='[...]': overrides what the image's registry says",
    )
    ins.add_argument(
        "--no-registry",
        action="store_true",
        help="never read an image's entrypoint/command from its registry "
        "(then --entrypoint/--command are required where the task omits them)",
    )
    cfg = ins.add_mutually_exclusive_group()
    cfg.add_argument("--config", help=f"agent config TOML, embedded as {CONFIG_ENV}")
    cfg.add_argument("--config-from", help="SSM parameter or Secrets Manager ARN holding it")
    ins.add_argument("--check", action="store_true", help="only say what would change")
    ins.add_argument("-o", "--output", help="write here instead of stdout")
    ins.set_defaults(func=cmd_instrument)

    inst = sub.add_parser("install-bundle", help="copy the self-contained tracehound to DEST")
    inst.add_argument("dest")
    inst.set_defaults(func=cmd_install_bundle)
