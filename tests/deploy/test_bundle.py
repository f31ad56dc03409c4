"""The self-contained bundle (deploy/bundle/build.sh): built once per session, then run
from a directory where no project Python is importable, with a poisoned PYTHONPATH to
prove it imports only what it carries."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3
import pytest
from deploy_examples import run_nginx, run_python_app
from deploy_run import execs, file_sink_config, read_records

pytestmark = pytest.mark.slow


def _poisoned(tmp: Path) -> Path:
    """A PYTHONPATH whose `agent` and `sinks` packages explode when imported."""
    poison = tmp / "poison"
    for pkg in ("agent", "sinks", "msgspec"):
        (poison / pkg).mkdir(parents=True)
        (poison / pkg / "__init__.py").write_text("raise ImportError('imported from outside')\n")
    return poison


def _clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "PYTHONPATH": str(_poisoned(tmp)), **extra}


def test_layout(bundle_bin: Path) -> None:
    internal = bundle_bin.parent / "_internal"
    assert bundle_bin.name == "tracehound" and os.access(bundle_bin, os.X_OK)
    assert bundle_bin.parent.name == "bin"  # DIST/bin/tracehound -> /opt/tracehound/bin/...
    assert (internal / "tracehound" / "config" / "default.toml").is_file()
    models = {p.name for p in (internal / "botocore" / "data").iterdir() if p.is_dir()}
    assert {"logs", "lambda"} <= models and "ec2" not in models  # pruned to what sinks use
    assert list(internal.glob("libpython3*.so*")), "bundle must carry its own libpython"


def test_traces_a_real_program(bundle_bin: Path, tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    cfg = file_sink_config(tmp_path, records)
    done = subprocess.run(
        [str(bundle_bin), "run", "--config", str(cfg), "--", "/bin/sh", "-c", "cat /etc/hostname"],
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    recs = read_records(records)
    assert [e["fd.name"] for e in execs(recs)] == ["/bin/sh", "/usr/bin/cat"]
    opened = {r["output_fields"].get("fd.name") for r in recs}
    assert "/etc/hostname" in opened


def test_validate_and_print_config(bundle_bin: Path, tmp_path: Path) -> None:
    from deploy_files import AGENT_CONFIG

    env = _clean_env(tmp_path, TRACEHOUND_WEBHOOK_TOKEN="t")
    out = subprocess.run(
        [str(bundle_bin), "print-config"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "[tracer]" in out.stdout, out.stderr
    val = subprocess.run(
        [str(bundle_bin), "validate", str(AGENT_CONFIG)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert val.returncode == 0, val.stdout + val.stderr


def test_cloudwatch_sink_from_the_bundle(bundle_bin: Path, tmp_path: Path, aws_env: str) -> None:
    """botocore's models and aiobotocore made it into the bundle: records reach (moto) Logs."""
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="/tracehound/bundle")
    records = tmp_path / "records.jsonl"
    extra = (
        '\n[sinks.cw]\ntype = "cloudwatch_logs"\ninputs = ["events"]\n'
        f'group_name = "/tracehound/bundle"\nstream_name = "t1"\nendpoint_url = "{aws_env}"\n'
        'region = "us-east-1"\n'
    )
    cfg = file_sink_config(tmp_path, records, extra)
    aws = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    done = subprocess.run(
        [str(bundle_bin), "run", "--config", str(cfg), "--", "/bin/true"],
        cwd=tmp_path,
        env=_clean_env(tmp_path, **aws),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    events = logs.get_log_events(logGroupName="/tracehound/bundle", logStreamName="t1")["events"]
    assert events and '"evt.type":"execve"' in events[0]["message"], done.stderr


def test_python_app_entrypoint_with_bundle(bundle_bin: Path, tmp_path: Path) -> None:
    run_python_app([str(bundle_bin)], tmp_path)


def test_nginx_entrypoint_with_bundle(bundle_bin: Path, tmp_path: Path) -> None:
    run_nginx([str(bundle_bin)], tmp_path)


def test_init_container_copy_then_trace_from_the_volume(bundle_bin: Path, tmp_path: Path) -> None:
    """What `tracehound ecs instrument`'s init container does: the image's command
    copies the bundle into the task volume; the wrapped container then runs the
    copy from there (here: a temporary directory stands for the volume)."""
    volume = tmp_path / "volume"
    env = _clean_env(tmp_path)
    done = subprocess.run(
        [str(bundle_bin), "install-bundle", str(volume)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    copied = volume / "bin" / "tracehound"
    assert os.access(copied, os.X_OK)
    records = tmp_path / "records.jsonl"
    toml = f'[sinks.out]\ntype = "file"\npath = "{records}"\ninputs = ["events"]\n'
    done = subprocess.run(
        [str(copied), "run", "--", "/bin/sh", "-c", "cat /etc/hostname"],
        cwd=tmp_path,
        env={**env, "TRACEHOUND_CONFIG_TOML": toml},  # the config as instrument embeds it
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "/etc/hostname" in {r["output_fields"].get("fd.name") for r in read_records(records)}
