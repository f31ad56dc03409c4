"""A small Dockerfile reader: stages, instructions, and exec-form JSON arguments."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

TRACEHOUND_BIN = "/opt/tracehound/bin/tracehound"
CONFIG_PATH = "/etc/tracehound/tracehound.toml"
ENTRYPOINT = [TRACEHOUND_BIN, "run", "--config", CONFIG_PATH, "--"]


@dataclass
class Stage:
    base: str
    alias: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]

    def exec_form(self, keyword: str) -> list[str]:
        """The last ENTRYPOINT/CMD, which must be exec form (JSON): no shell in between."""
        (*_, arg) = self.all(keyword)
        value = json.loads(arg)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value)
        return value


def parse(path: Path) -> list[Stage]:
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in lines:
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arg.split()
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], alias))
        elif stages:
            stages[-1].instructions.append((keyword, arg.strip()))
    return stages
