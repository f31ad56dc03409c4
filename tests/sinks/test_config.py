"""Sink configuration: the shipped defaults, the documented examples, and the errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tracehound.agent.config import ConfigError, default_config_text, parse_config
from tracehound.sinks import REGISTRY, SinkConfig
from tracehound.sinks.aws_lambda import LambdaSinkConfig
from tracehound.sinks.cloudwatch import CloudWatchLogsSinkConfig
from tracehound.sinks.console import ConsoleSinkConfig, StdoutSinkConfig
from tracehound.sinks.file import FileSinkConfig
from tracehound.sinks.firehose import FirehoseSinkConfig
from tracehound.sinks.s3 import S3SinkConfig
from tracehound.sinks.webhook import WebhookSinkConfig

EXAMPLE = re.compile(r"^#(?=[\[a-z])")  # "#key = ..." / "#[sinks.x]", not "# prose"


def sinks_region() -> str:
    text = default_config_text()
    start = text.index("# ===== sinks (owned by sinks/) =====")
    end = text.index("# ===== end sinks =====")
    return text[start:end]


def test_default_config_has_a_console_sink() -> None:
    cfg = parse_config(default_config_text(), "default.toml")
    assert list(cfg.sinks) == ["console"]
    console = cfg.sinks["console"]
    # Alerts only, for a person, never on the application's stdout.
    assert isinstance(console, ConsoleSinkConfig) and not isinstance(console, StdoutSinkConfig)
    assert console.inputs == ["alerts"] and console.target == "stderr"
    assert console.format == "auto"


def test_stdout_type_is_a_deprecated_alias_of_console(caplog: pytest.LogCaptureFixture) -> None:
    cfg = parse_config('[sinks.out]\n\ntype = "stdout"\n', "t.toml")
    assert caplog.messages == [
        "tracehound: warning: t.toml: sinks.out.type (line 3): "
        '"stdout" is deprecated: use type = "console" with target = "stdout"'
        " (or the default target, stderr, to keep the application's stdout clean)"
    ]
    out = cfg.sinks["out"]
    assert isinstance(out, ConsoleSinkConfig) and out.target == "stdout"
    assert parse_config('[sinks.out]\ntype = "console"\n', "t.toml").sinks["out"].target == (
        "stderr"
    )


def test_documented_examples_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIEM_TOKEN", "x")
    monkeypatch.setenv("SIEM_HMAC_KEY", "y")
    text = "\n".join(EXAMPLE.sub("", line) for line in sinks_region().splitlines())
    cfg = parse_config(text, "examples")
    kinds = {name: type(s) for name, s in cfg.sinks.items()}
    assert kinds == {
        "console": ConsoleSinkConfig,
        "archive": FileSinkConfig,
        "siem": WebhookSinkConfig,
        "cloudwatch": CloudWatchLogsSinkConfig,
        "responder": LambdaSinkConfig,
        "lake": FirehoseSinkConfig,
        "archive_s3": S3SinkConfig,
    }
    assert set(REGISTRY) == set(SinkConfig.__args__)
    assert StdoutSinkConfig in REGISTRY  # the deprecated spelling still builds a sink
    assert [s.type for s in cfg.sinks.values()] == [
        "console",
        "file",
        "webhook",
        "cloudwatch_logs",
        "lambda",
        "firehose",
        "s3",
    ]
    assert cfg.sinks["lake"].buffer.type == "disk"


def test_every_error_is_reported_with_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    text = """
[sinks.a]
type = "webhook"
url = "ftp://x"

[sinks.b]
type = "cloudwatch_logs"
group_name = "g"
buffer.when_full = "sometimes"
batch.max_evnts = 3

[sinks.c]
type = "webhook"
url = "https://siem.example"
auth.strategy = "bearer"
auth.token_env = "NOT_SET_TOKEN"

[sinks.d]
type = "kafka"
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    paths = [i.path for i in info.value.issues]
    # Type errors first (all of them); semantic checks run once the types are right.
    assert "sinks.a.url" in paths  # url scheme (__post_init__)
    assert "sinks.b.buffer.when_full" in paths
    assert "sinks.b.batch.max_evnts" in paths
    assert "sinks.d.type" in paths
    fixed = text.replace('"ftp://x"', '"http://x"').replace('"sometimes"', '"block"')
    fixed = fixed.replace("max_evnts", "max_events").replace('"kafka"', '"stdout"')
    with pytest.raises(ConfigError) as info:
        parse_config(fixed, "t.toml")
    [issue] = info.value.issues
    assert issue.path == "sinks.c.auth.token_env"
    assert "NOT_SET_TOKEN" in issue.message


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "webhook", "url": "https://x", "auth": {"strategy": "basic", "user_env": "U"}},
        {"type": "webhook", "url": "https://x", "tls": {"key_file": "k.pem"}},
        {"type": "file", "path": ""},
        {"type": "lambda", "function_name": "f", "invocation_type": "DryRun"},
        {"type": "stdout", "inputs": []},
        {"type": "stdout", "buffer": {"max_events": 0}},
        {"type": "cloudwatch_logs", "group_name": "g", "max_event_bytes": 2_000_000},
    ],
)
def test_invalid_sink_options(raw: dict[str, object]) -> None:
    import msgspec

    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(raw, SinkConfig)


def test_print_config_round_trips_unset_options(tmp_path: Path) -> None:
    """Options left unset (None: an AWS region, a buffer path, the baseline's endpoint)
    are left out of print-config's TOML, which parses back to the same config."""
    from tracehound.agent.config import effective_config

    text = """
[filters.baseline]
mode = "learn"
file = "s3://b/k.json"
[sinks.lake]
type = "firehose"
stream_name = "s"
encoding = "ocsf"
buffer.type = "disk"
buffer.path = "/tmp/buf"
[sinks.arch]
type = "s3"
bucket = "b"
[sinks.cw]
type = "cloudwatch_logs"
group_name = "g"
"""
    cfg = parse_config(text, "t.toml")
    printed = subprocess.run(
        [sys.executable, "-m", "tracehound.agent.cli", "print-config", str(_write(tmp_path, text))],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    again = parse_config(printed.stdout, "printed.toml")
    assert effective_config(again) == effective_config(cfg)
    assert "region" not in effective_config(cfg)["sinks"]["cw"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_text(text)
    return path
