"""The agent's memory under a flood of events whose only sink is down.

The application is W2's open loop running for a fixed time; the sink is a webhook
to a loopback port nothing listens on, so every send fails and is retried. What
must stay bounded is the agent's RSS: the sink buffer blocks, the tracer's queue
fills and then drops (and counts) instead of growing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench import _counts, _proc
from bench._net import free_port
from bench._setups import tracehound_cmd
from bench._workloads import Ctx

_CONFIG = """\
[agent]
stats_interval_secs = 5
log_level = "error"
shutdown_timeout_secs = 3

[tracer]
profile = "balanced"

[sinks.down]
type = "webhook"
url = "http://127.0.0.1:{port}/ingest"
inputs = ["events", "alerts"]
"""


GRACE = 30


@dataclass
class FloodResult:
    seconds: int
    peak_rss_mb: float | None = None
    final_rss_mb: float | None = None
    stats: dict[str, Any] | None = None
    series: list[tuple[float, int]] | None = None  # (s, VmRSS kB)
    exited: bool = False  # did the agent exit within the grace period after the app?
    wall: float = 0.0
    error: str | None = None


def flood(ctx: Ctx, env: dict[str, str], seconds: int) -> FloodResult:
    res = FloodResult(seconds)
    cfg = ctx.work / "flood.toml"
    cfg.write_text(_CONFIG.format(port=free_port()))  # a port nobody listens on
    argv = [*tracehound_cmd(), "run", "--config", str(cfg), "--",
            ctx.build.bin("open_loop"), str(ctx.build.files), "-d", str(seconds)]  # fmt: skip
    # ECS sends SIGKILL stopTimeout (30 s by default) after the app ends: the agent has
    # that long to give up on the dead sink and exit.
    out = _proc.run(argv, cwd=ctx.work, env=env, timeout=seconds + GRACE, rss_series_every=1.0)
    res.wall = round(out.wall, 1)
    res.exited = out.returncode >= 0
    res.stats = _counts.tracer_stats(out.stderr)
    res.series = out.rss_series
    res.peak_rss_mb = out.vmhwm_kb / 1024 if out.vmhwm_kb else None
    if out.rss_series:
        res.final_rss_mb = out.rss_series[-1][1] / 1024
    if not res.exited:
        res.error = f"agent still running {GRACE} s after the application ended: killed"
    elif out.returncode != 0 or res.stats is None:
        res.error = f"exit {out.returncode}: {out.stderr[-800:]}"
    return res
