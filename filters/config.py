"""[filters.*] configuration: enrichment, sampling, sensitive paths, baseline, rules."""

from __future__ import annotations

from pathlib import Path

import msgspec


class FiltersConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


def check_filters(
    cfg: FiltersConfig, path: tuple[str, ...], base_dir: Path
) -> list[tuple[tuple[str, ...], str]]:
    return []
