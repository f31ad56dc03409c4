"""[filters.*] configuration: enrichment, sampling, sensitive paths, baseline, rules.

The structs check types and ranges (msgspec, unknown keys rejected); `check_filters`
does everything that needs more than one value or the file system: rule files
exist and compile, globs are valid, rule names given in the config exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from tracehound.event import parse_priority

Issues = list[tuple[tuple[str, ...], str]]


class EnrichConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    # Ancestors added to exec events and alerts as proc.aname[N] / proc.acmdline[N].
    ancestor_levels: Annotated[int, msgspec.Meta(ge=0, le=16)] = 4
    # user.name / group.name come from the container's own files.
    passwd_file: str = "/etc/passwd"
    group_file: str = "/etc/group"
    # Task and container metadata from ECS_CONTAINER_METADATA_URI_V4 (skipped when unset).
    ecs_metadata: bool = True
    ecs_timeout_secs: Annotated[float, msgspec.Meta(gt=0, le=60)] = 2.0
    # 0: never refresh
    ecs_refresh_secs: Annotated[float, msgspec.Meta(ge=0, le=7 * 86400)] = 3600.0


class SamplingConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Fraction of events kept per event type; types not listed are all kept.
    # Process executions and events a rule would alert on are never sampled out.
    rates: dict[str, Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]] = {}
    # true: keep or drop all of one process's events of a type (stable per pid);
    # false: decide per event.
    per_process: bool = False
    seed: Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] = 0


DEFAULT_SENSITIVE_PREFIXES = [
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/root",
    "/var/run/secrets",
    "/run/secrets",
    "/etc/ssl/private",
]
DEFAULT_SENSITIVE_GLOBS = [
    "/home/*/.ssh/**",
    "**/.aws/credentials",
    "**/.aws/config",
    "/proc/*/environ",
    "**/id_rsa",
    "**/id_dsa",
    "**/id_ecdsa",
    "**/id_ed25519",
    "**/*.key",
    "**/*key.pem",
    "**/*.p12",
    "**/*.pfx",
    "**/.netrc",
    "**/.git-credentials",
    "**/.docker/config.json",
]
DEFAULT_SENSITIVE_WRITE_PREFIXES = ["/etc/passwd", "/etc/group"]


class SensitivePathsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    # The tag added to matching events (rules test it with `evt.tags contains ...`).
    tag: Annotated[str, msgspec.Meta(min_length=1, pattern=r"^\S+$")] = "sensitive_path"
    # Any access: a prefix matches itself and everything below it.
    prefixes: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_SENSITIVE_PREFIXES))
    # Any access: `*` stays within one path component, `**` crosses them.
    globs: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_SENSITIVE_GLOBS))
    # Only when opened for writing (or created, renamed, removed, chmod'ed).
    write_prefixes: list[str] = msgspec.field(
        default_factory=lambda: list(DEFAULT_SENSITIVE_WRITE_PREFIXES)
    )
    write_globs: list[str] = []


class BaselineConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # off | learn | detect | learn-then-detect (learn for learn_secs, then detect)
    mode: Literal["off", "learn", "detect", "learn-then-detect"] = "off"
    # JSON file: loaded at start (if present), saved every save_interval_secs and on exit.
    file: str = ""
    learn_secs: Annotated[float, msgspec.Meta(gt=0, le=366 * 86400)] = 3600.0
    save_interval_secs: Annotated[float, msgspec.Meta(ge=0, le=86400)] = 300.0  # 0: only on exit
    # Priority of "Unexpected behaviour" alerts.
    priority: str = "Notice"
    # What is learned per executable.
    kinds: list[Literal["exec", "write", "connect"]] = msgspec.field(
        default_factory=lambda: ["exec", "write", "connect"]
    )
    # Bound on items per executable, so a runaway program cannot grow the file forever.
    max_items_per_exe: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 2000
    # file = "s3://BUCKET/KEY": one baseline shared by a service's tasks
    # (filters/baseline_s3.py). Region (default AWS_REGION) and endpoint (VPC endpoint).
    region: str | None = None
    endpoint_url: str | None = None


class RateLimitConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Identical alerts (same rule, same output text): `burst` at once, then `rate` per second.
    # rate = 0 turns rate limiting off.
    rate: Annotated[float, msgspec.Meta(ge=0, le=1e6)] = 0.1
    burst: Annotated[float, msgspec.Meta(ge=1, le=1e6)] = 5.0


class RulesConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    # Rule files in order; later files may append to or override earlier items.
    # "builtin:NAME" is a file shipped with tracehound; other paths are relative to
    # the config file's directory.
    files: list[str] = msgspec.field(default_factory=lambda: ["builtin:default_rules.yaml"])
    # Rules switched off by name or by tag.
    disabled: list[str] = []
    disabled_tags: list[str] = []
    # Rules below this priority are not loaded.
    minimum_priority: str = "Debug"
    # "all": every matching rule alerts; "first": only the first in file order (Falco's default).
    match: Literal["all", "first"] = "all"
    rate_limit: RateLimitConfig = msgspec.field(default_factory=RateLimitConfig)


class FiltersConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enrich: EnrichConfig = msgspec.field(default_factory=EnrichConfig)
    sampling: SamplingConfig = msgspec.field(default_factory=SamplingConfig)
    sensitive_paths: SensitivePathsConfig = msgspec.field(default_factory=SensitivePathsConfig)
    baseline: BaselineConfig = msgspec.field(default_factory=BaselineConfig)
    rules: RulesConfig = msgspec.field(default_factory=RulesConfig)


def check_filters(cfg: FiltersConfig, path: tuple[str, ...], base_dir: Path) -> Issues:
    """Semantic checks; every problem with the key path it belongs to."""
    from tracehound.filters.falco.engine import load_rules, read_rule_file
    from tracehound.filters.globs import glob_error

    errs: Issues = []
    sp = (*path, "sensitive_paths")
    for key in ("prefixes", "write_prefixes"):
        for i, p in enumerate(getattr(cfg.sensitive_paths, key)):
            if not p.startswith("/"):
                errs.append(((*sp, key, str(i)), f"prefix {p!r} must be an absolute path"))
    for key in ("globs", "write_globs"):
        for i, g in enumerate(getattr(cfg.sensitive_paths, key)):
            problem = glob_error(g)
            if problem:
                errs.append(((*sp, key, str(i)), f"bad glob {g!r}: {problem}"))

    bl = cfg.baseline
    try:
        parse_priority(bl.priority)
    except ValueError as exc:
        errs.append(((*path, "baseline", "priority"), str(exc)))
    if bl.mode != "off" and not bl.file:
        errs.append(((*path, "baseline", "file"), f'mode = "{bl.mode}" needs a baseline file'))
    from tracehound.filters.baseline_s3 import is_s3_url, s3_url_problem

    if is_s3_url(bl.file) and (problem := s3_url_problem(bl.file)):
        errs.append(((*path, "baseline", "file"), problem))

    rp = (*path, "rules")
    rc = cfg.rules
    try:
        parse_priority(rc.minimum_priority)
    except ValueError as exc:
        errs.append(((*rp, "minimum_priority"), str(exc)))
    if not rc.enabled:
        return errs
    seen: set[str] = set()
    sources = []
    for i, entry in enumerate(rc.files):
        if entry in seen:
            errs.append(((*rp, "files", str(i)), f"rule file {entry!r} is listed twice"))
        seen.add(entry)
        src = read_rule_file(entry, base_dir)
        if src.text is None:
            errs.append(((*rp, "files", str(i)), src.error))
        sources.append(src)
    _compiled, issues, loader = load_rules(
        (s for s in sources if s.text is not None),
        disabled=rc.disabled,
        disabled_tags=rc.disabled_tags,
        minimum_priority=rc.minimum_priority,
    )
    index = {e: str(i) for i, e in enumerate(rc.files)}
    for issue in issues:
        if issue.severity == "error":  # skipped rules are reported by `validate`, not errors
            errs.append(((*rp, "files", index.get(issue.source, "0")), str(issue)))
    for i, name in enumerate(rc.disabled):
        if name not in loader.rules:
            errs.append(((*rp, "disabled", str(i)), f"no rule named {name!r} in the rule files"))
    return errs
