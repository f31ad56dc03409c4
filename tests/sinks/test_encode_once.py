"""Every record is encoded once: the router measures the bytes for the buffer bound,
and every sink that takes the record writes those same bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sinkhelp import make_alert, make_event, sink_cfg

import tracehound.record as record_mod
from tracehound.agent.router import Router


class CountingEncoder:
    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def encode(self, obj: Any) -> bytes:
        self.calls += 1
        return bytes(self.real.encode(obj))


async def test_three_sinks_one_encoding_per_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountingEncoder(record_mod._json_encoder)
    monkeypatch.setattr(record_mod, "_json_encoder", counter)
    sinks = {
        f"f{i}": sink_cfg(
            type="file", path=str(tmp_path / f"{i}.jsonl"), inputs=["events", "alerts"]
        )
        for i in range(3)
    }
    router = Router.from_config(sinks)
    await router.start()
    await router.route([make_event(i) for i in range(10)], [make_alert(i) for i in range(5)])
    await router.stop(10)
    assert counter.calls == 15  # 10 events + 5 alerts, whatever the number of sinks
    outputs = [(tmp_path / f"{i}.jsonl").read_bytes() for i in range(3)]
    assert outputs[0] == outputs[1] == outputs[2]
    recs = [json.loads(line) for line in outputs[0].splitlines()]
    assert len(recs) == 15 and sum("rule" in r for r in recs) == 5


def test_a_record_keeps_its_time_in_ns_and_names_open_flags() -> None:
    e = make_event(1, ts=1_795_342_805_123_456_789, **{"evt.arg.flags": 0o1101})
    rec = record_mod.event_record(e)
    assert rec.ts_ns == e.ts
    assert rec["time"] == "2026-11-22T10:20:05.123456789Z"
    assert rec["output_fields"]["evt.arg.flags"] == "O_WRONLY|O_CREAT|O_TRUNC"
    assert e.fields["evt.arg.flags"] == 0o1101  # the event keeps the int
    assert json.loads(rec.data) == json.loads(json.dumps(dict(rec)))
    lines = record_mod.encode_lines([rec, rec])
    assert lines == rec.data + b"\n" + rec.data + b"\n"
    assert json.loads(record_mod.encode_array([rec, rec])) == [dict(rec), dict(rec)]
