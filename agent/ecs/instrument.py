"""The rewrite: add the init container and volume, wrap the chosen containers.

It works on ECS's JSON names (RegisterTaskDefinition, camelCase) and on
CloudFormation's (PascalCase) through a `Style` that names the few keys it
touches; everything else in the task definition is left exactly as it was.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from tracehound.agent.config_env import CONFIG_ENV
from tracehound.agent.ecs.registry import ARCHITECTURES, RegistryError, Resolver

WRAPPER = "/opt/tracehound/bin/tracehound"
MOUNT = "/opt/tracehound"  # where wrapped containers see the bundle (read-only)
INIT_NAME = "tracehound-init"
INIT_MOUNT = "/tracehound"  # where the init container copies it
VOLUME = "tracehound-bin"
# The agent flushes within 25 s after the application exits (agent.shutdown_timeout_secs);
# ECS allows 120 s at most.
STOP_TIMEOUT = 30
MAX_STOP_TIMEOUT = 120


class InstrumentError(Exception):
    """The task definition cannot be rewritten as asked (exit 2)."""


@dataclass(frozen=True)
class Style:
    """Key names of one dialect of task definitions."""

    containers: str
    volumes: str
    name: str
    image: str
    essential: str
    entry_point: str
    command: str
    linux: str
    caps: str
    add: str
    stop_timeout: str
    mount_points: str
    source_volume: str
    container_path: str
    read_only: str
    depends_on: str
    container_name: str
    condition: str
    environment: str
    secrets: str
    value: str
    value_from: str
    firelens: str
    runtime_platform: str
    cpu_architecture: str


JSON = Style(
    "containerDefinitions", "volumes", "name", "image", "essential", "entryPoint", "command",
    "linuxParameters", "capabilities", "add", "stopTimeout", "mountPoints", "sourceVolume",
    "containerPath", "readOnly", "dependsOn", "containerName", "condition", "environment",
    "secrets", "value", "valueFrom", "firelensConfiguration", "runtimePlatform",
    "cpuArchitecture",
)  # fmt: skip
CFN = Style(*(k[0].upper() + k[1:] for k in JSON.__dict__.values()))


@dataclass(frozen=True)
class Options:
    image: str  # the tracehound image (deploy/docker)
    containers: tuple[str, ...] = ()  # empty: every essential container
    backend: str = "auto"  # "seccomp_notify" needs no SYS_PTRACE
    entrypoints: dict[str, list[str]] = field(default_factory=dict)  # name -> entryPoint
    commands: dict[str, list[str]] = field(default_factory=dict)  # name -> command
    config_toml: str | None = None  # embedded as CONFIG_ENV
    config_from: str | None = None  # SSM parameter or Secrets Manager ARN -> CONFIG_ENV
    # Reads an image's Entrypoint/Cmd from its registry (registry.image_defaults);
    # None: they must be given (entrypoints/commands) when the task omits them.
    resolve: Resolver | None = None


@dataclass
class Result:
    taskdef: dict[str, Any]
    changes: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def instrument(td: dict[str, Any], opts: Options, s: Style = JSON) -> Result:
    """A rewritten copy of `td`, and what changed (nothing if already instrumented)."""
    td = copy.deepcopy(td)
    containers: list[dict[str, Any]] = td.get(s.containers) or []
    by_name = {c.get(s.name): c for c in containers}
    # Default: the essential containers, except a FireLens log router (it ships
    # the logs; it is not the application).
    names = list(opts.containers) or [
        c[s.name]
        for c in containers
        if c.get(s.essential, True) and s.firelens not in c and c[s.name] != INIT_NAME
    ]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise InstrumentError(
            f"no container named {', '.join(map(repr, unknown))}; "
            f"the task has {', '.join(map(repr, by_name))}"
        )
    if INIT_NAME in names:
        raise InstrumentError(f"{INIT_NAME!r} is tracehound's own init container")
    todo = [by_name[n] for n in names if not _wrapped(by_name[n], s)]
    if opts.resolve is not None:
        opts = _from_images(td, todo, opts, opts.resolve, s)
    missing = [
        f"container {c[s.name]!r}: its {what} comes from the image; pass it with "
        f"--{flag} {c[s.name]}='[\"...\"]' (JSON list, [] when the image has none)"
        for c in todo
        for what, key, flag, given in (
            ("entryPoint", s.entry_point, "entrypoint", opts.entrypoints),
            ("command", s.command, "command", opts.commands),
        )
        if key not in c and c[s.name] not in given
    ]
    if missing:
        raise InstrumentError("; ".join(missing))
    changes: list[str] = []
    if not todo:
        return Result(td, changes)
    if INIT_NAME not in by_name:
        containers.insert(0, _init_container(opts.image, s))
        changes.append(f"add init container {INIT_NAME!r} ({opts.image})")
    volumes = td.setdefault(s.volumes, [])
    if not any(v.get(s.name) == VOLUME for v in volumes):
        volumes.append({s.name: VOLUME})
        changes.append(f"add task volume {VOLUME!r}")
    for c in todo:
        changes += _wrap(c, opts, s)
    return Result(td, changes)


def _from_images(
    td: dict[str, Any], todo: list[dict[str, Any]], opts: Options, resolve: Resolver, s: Style
) -> Options:
    """Options with the entrypoint and command of each container that leaves them to
    its image, as the runtime merges them (Docker's rule: a container that sets its
    own entryPoint does not inherit the image's Cmd)."""
    arch_name = (td.get(s.runtime_platform) or {}).get(s.cpu_architecture) or "X86_64"
    arch = ARCHITECTURES.get(str(arch_name).upper())
    entrypoints, commands = dict(opts.entrypoints), dict(opts.commands)
    for c in todo:
        name = c[s.name]
        need_entry = s.entry_point not in c and name not in entrypoints
        need_cmd = s.command not in c and name not in commands
        if not (need_entry or need_cmd):
            continue
        own_entry = c.get(s.entry_point) or entrypoints.get(name)
        if not need_entry and own_entry:
            commands[name] = []  # the image's Cmd is not used under another entrypoint
            continue
        image = c.get(s.image)
        if not isinstance(image, str):
            raise InstrumentError(
                f"container {name!r}: image {json.dumps(image)} is not a plain reference; "
                "pass --entrypoint/--command"
            )
        if arch is None:
            raise InstrumentError(f"runtimePlatform cpuArchitecture {arch_name!r} is unknown")
        try:
            found = resolve(image, arch)
        except RegistryError as exc:
            raise InstrumentError(
                f"container {name!r}: {exc}; or pass --entrypoint {name}='[...]' and "
                f"--command {name}='[...]' (JSON lists, [] when the image has none)"
            ) from None
        if need_entry:
            entrypoints[name] = found.entrypoint
        if need_cmd:
            commands[name] = found.cmd
    return dataclasses.replace(opts, entrypoints=entrypoints, commands=commands)


def _wrapped(c: dict[str, Any], s: Style) -> bool:
    ep = c.get(s.entry_point) or []
    return bool(ep) and ep[0] == WRAPPER


def _init_container(image: str, s: Style) -> dict[str, Any]:
    return {
        s.name: INIT_NAME,
        s.image: image,
        s.essential: False,
        # The image's default command; stated so the task definition says what runs.
        s.command: [WRAPPER, "install-bundle", INIT_MOUNT],
        s.mount_points: [{s.source_volume: VOLUME, s.container_path: INIT_MOUNT}],
    }


def _wrap(c: dict[str, Any], opts: Options, s: Style) -> list[str]:
    name = c[s.name]
    entry = opts.entrypoints.get(name, c.get(s.entry_point, []))
    command = opts.commands.get(name, c.get(s.command, []))
    c[s.entry_point] = [WRAPPER, "run", "--", *entry]
    c[s.command] = list(command)
    done = [f"{name}: entryPoint {json.dumps(c[s.entry_point])}, command {json.dumps(command)}"]
    c.setdefault(s.mount_points, []).append(
        {s.source_volume: VOLUME, s.container_path: MOUNT, s.read_only: True}
    )
    deps = c.setdefault(s.depends_on, [])
    if not any(d.get(s.container_name) == INIT_NAME for d in deps):
        deps.append({s.container_name: INIT_NAME, s.condition: "SUCCESS"})
    done.append(f"{name}: mounts {VOLUME!r} at {MOUNT}, starts after {INIT_NAME!r} succeeded")
    if opts.backend != "seccomp_notify":
        add = c.setdefault(s.linux, {}).setdefault(s.caps, {}).setdefault(s.add, [])
        if "SYS_PTRACE" not in add:
            add.append("SYS_PTRACE")
            done.append(f"{name}: capability SYS_PTRACE added")
    timeout = c.get(s.stop_timeout)
    if timeout is None or timeout < STOP_TIMEOUT:
        c[s.stop_timeout] = STOP_TIMEOUT
        done.append(f"{name}: stopTimeout {STOP_TIMEOUT} (room for the agent's final flush)")
    elif timeout > MAX_STOP_TIMEOUT:
        raise InstrumentError(f"container {name!r}: stopTimeout {timeout} is over ECS's 120")
    if opts.config_toml is not None:
        env = [e for e in c.get(s.environment, []) if e.get(s.name) != CONFIG_ENV]
        c[s.environment] = [*env, {s.name: CONFIG_ENV, s.value: opts.config_toml}]
        done.append(f"{name}: agent config in environment variable {CONFIG_ENV}")
    elif opts.config_from is not None:
        sec = [e for e in c.get(s.secrets, []) if e.get(s.name) != CONFIG_ENV]
        c[s.secrets] = [*sec, {s.name: CONFIG_ENV, s.value_from: opts.config_from}]
        done.append(f"{name}: agent config from {opts.config_from} (secrets)")
    return done
