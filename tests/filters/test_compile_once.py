"""`tracehound run` reads the config (whose check loads the rules) and then builds the
chain: the rules are compiled once, and the chain's compiled rules read the chain's own
state (FieldContext), not the check's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracehound.agent.config import default_config_text, parse_config
from tracehound.event import Event, ProcInfo
from tracehound.filters.chain import build_chain
from tracehound.filters.falco import compiler, engine


def test_check_then_chain_compiles_each_rule_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine._last_load.clear()
    calls: list[int] = []
    real = compiler.compile_condition

    def counting(node, ctx=None):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(node, ctx)

    monkeypatch.setattr(compiler, "compile_condition", counting)
    cfg = parse_config(default_config_text(), "default.toml", tmp_path)
    checked = len(calls)
    assert checked > 10  # the default rules were compiled by the check
    chain = build_chain(cfg.filters, tmp_path)
    assert len(calls) == checked  # and not again for the chain
    assert chain.rules is not None and chain.rules.rules
    second = build_chain(cfg.filters, tmp_path)
    assert len(calls) == 2 * checked  # another chain gets its own, never a shared one
    assert second.rules is not None
    # The first chain's rules read the first chain's state.
    rule = next(r for r in chain.rules.rules if "proc.is_exe_upper_layer" in r.code
                or "_ctx" in r.code)  # fmt: skip
    assert rule.match.__globals__["_ctx"] is chain.ctx
    other = next(r for r in second.rules.rules if r.name == rule.name)
    assert other.match.__globals__["_ctx"] is second.ctx


def test_a_chain_rule_sees_its_chains_written_files(tmp_path: Path) -> None:
    """drop-and-exec style: a file written then executed, seen through the chain's ctx."""
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "- rule: upper\n  desc: d\n"
        "  condition: evt.type = execve and proc.is_exe_upper_layer = true\n"
        "  output: ran %proc.exepath\n  priority: WARNING\n"
    )
    import msgspec

    from tracehound.filters.config import FiltersConfig

    cfg = msgspec.convert({"rules": {"files": [str(rules)]}}, FiltersConfig)
    a, b = build_chain(cfg, tmp_path), build_chain(cfg, tmp_path)
    p = ProcInfo(5, 1, "sh", "/bin/sh", ("sh",), "/", 0, 0)
    w = Event(1, "openat", 5, p, {"fd.name": "/tmp/x", "evt.arg.flags": 0o101})
    x = ProcInfo(5, 1, "x", "/tmp/x", ("x",), "/", 0, 0)
    run = Event(2, "execve", 5, x, {"fd.name": "/tmp/x"})
    assert [al.rule for al in a.process([w, run])[1]] == ["upper"]
    assert b.process([run])[1] == []  # b never saw the write
