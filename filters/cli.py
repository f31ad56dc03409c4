"""`tracehound baseline show FILE` and `tracehound baseline merge OUT IN...`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tracehound.filters.baseline import KINDS, BaselineStore, write_atomic


def register_commands(subparsers: Any) -> None:
    """Add the `baseline` command group to the CLI's argparse subparsers."""
    p = subparsers.add_parser("baseline", help="inspect and combine learned baselines")
    sub = p.add_subparsers(dest="baseline_command", metavar="{show,merge}", required=True)
    show = sub.add_parser("show", help="print a baseline file in readable form")
    show.add_argument("file")
    show.set_defaults(func=cmd_show)
    merge = sub.add_parser("merge", help="combine baselines (union) into OUT")
    merge.add_argument("out")
    merge.add_argument("inputs", nargs="+", metavar="IN")
    merge.set_defaults(func=cmd_merge)


def _load(path: str) -> BaselineStore | None:
    try:
        return BaselineStore.load(path)
    except FileNotFoundError:
        print(f"{path}: no such file", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
    return None


def cmd_show(args: argparse.Namespace) -> int:
    store = _load(args.file)
    if store is None:
        return 1
    out = sys.stdout
    print(f"{args.file}: {len(store.exes)} executables, {store.item_count()} items", file=out)
    verbs = {"exec": "runs", "write": "writes", "connect": "connects to"}
    for exe in sorted(store.exes):
        print(exe, file=out)
        kinds = store.exes[exe]
        for kind in KINDS:
            for item in sorted(kinds.get(kind, ())):
                print(f"  {verbs[kind]:<12} {item}", file=out)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    merged = BaselineStore()
    for path in args.inputs:
        store = _load(path)
        if store is None:
            return 1
        merged.merge(store)
    try:
        write_atomic(args.out, merged.dumps())
    except OSError as exc:
        print(f"{args.out}: {exc}", file=sys.stderr)
        return 1
    print(
        f"merged {len(args.inputs)} baselines into {args.out}: "
        f"{len(merged.exes)} executables, {merged.item_count()} items"
    )
    return 0
