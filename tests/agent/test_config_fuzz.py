"""Hostile configs and rule files: every input is a config error naming where it
went wrong, or a valid config; never a traceback. Hypothesis mutates the shipped
files and builds the shapes that broke the loader before (deep TOML, deep
conditions and macro chains, Unicode digits, non-UTF-8 bytes, huge integers, a
sink's `type` as a table), then `tracehound validate` and the loader run on them."""

from __future__ import annotations

import contextlib
import io
import subprocess
import time
from importlib import resources
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from th_support import AGENT

from tracehound.agent.cli import main
from tracehound.agent.config import Config, ConfigError, load_config, parse_config

DEFAULT_TOML = resources.files("tracehound.config").joinpath("default.toml").read_text()
DEFAULT_RULES = resources.files("tracehound.config").joinpath("default_rules.yaml").read_text()
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _validate(tmp: Path, config: bytes, rules: bytes | None = None) -> tuple[int, str]:
    """`tracehound validate` in this process: its exit status and what it printed.
    An exception escaping main() fails the test with its traceback."""
    if rules is not None:
        (tmp / "rules.yaml").write_bytes(rules)
    (tmp / "t.toml").write_bytes(config)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["validate", str(tmp / "t.toml")])
    assert status in (0, 1), out.getvalue()
    return status, out.getvalue()


def _loads_or_errs(text: str) -> Config | ConfigError:
    try:
        return parse_config(text, "t.toml")
    except ConfigError as exc:
        for issue in exc.issues:
            assert issue.path and issue.message, exc
        return exc


# ---- configs --------------------------------------------------------------------

_edits = st.lists(
    st.tuples(
        st.integers(0, len(DEFAULT_TOML)),
        st.sampled_from(["", "[", "]", "=", '"', "\n", "0", "-1", "{", "}", ".", "inf", "٣"]),
        st.integers(0, 3),
    ),
    max_size=6,
)


@FUZZ
@given(_edits)
def test_mutated_default_config_is_valid_or_a_config_error(
    edits: list[tuple[int, str, int]],
) -> None:
    text = DEFAULT_TOML
    for pos, insert, cut in edits:
        pos = min(pos, len(text))
        text = text[:pos] + insert + text[pos + cut :]
    _loads_or_errs(text)


_scalars = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.booleans(),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_KEYS = {
    "agent": ["shutdown_timeout_secs", "stats_interval_secs", "log_level"],
    "tracer": ["profile", "backend", "argv_max", "arg_max_bytes", "batch_max_events", "queue",
               "syscalls", "capture_results", "io_uring"],
    "filters": ["rules", "sampling", "baseline", "enrich", "sensitive_paths"],
    "sinks": ["a", "b"],
}  # fmt: skip
_ALL_KEYS = [k for keys in _KEYS.values() for k in keys]


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(sorted(_KEYS)),
        st.dictionaries(
            st.sampled_from([k for keys in _KEYS.values() for k in keys]), _values, max_size=4
        ),
        max_size=4,
    )
)
def test_any_typed_document_is_valid_or_a_config_error(doc: dict[str, object]) -> None:
    import tomli_w

    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):  # not expressible in TOML (nan keys...): nothing to test
        return
    _loads_or_errs(text)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("a = " + "[" * 3000 + "]" * 3000, "nested too deeply"),
        ("[agent]\nshutdown_timeout_secs = " + "9" * 5000, "(line 2)"),
        ("[sinks.s]\ntype = { x = 1 }\n", "sinks.s.type (line 2): must be a string, got dict"),
        ("[tracer]\narg_max_bytes = 9223372036854775807\n", "tracer.arg_max_bytes (line 2)"),
        ("[tracer]\nargv_max = 100000000\n", "tracer.argv_max (line 2): must be at most 4096"),
        ("[agent]\nshutdown_timeout_secs = inf\n", "at most 3600 seconds"),
        ("[tracer.queue]\nmax_bytes = 1e3\n", "tracer.queue.max_bytes"),
        ("[filters.baseline]\nlearn_secs = 1e300\n", "filters.baseline.learn_secs"),
    ],
)
def test_hostile_configs_name_key_and_line(text: str, said: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    assert said in str(info.value)


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_bytes(b'[agent]\nlog_level = "info"\n# caf\xe9\n')
    with pytest.raises(ConfigError, match=r"\(file\) \(line 3\): not UTF-8 text"):
        load_config(tmp_path / "t.toml")


def test_no_sinks_keeps_the_console_and_says_so(tmp_path: Path) -> None:
    """A config with a [tracer] table and no sink: alerts still reach stderr."""
    cfg = tmp_path / "t.toml"
    cfg.write_text('[tracer]\nprofile = "balanced"\n')
    done = subprocess.run(
        [*AGENT, "run", "--config", str(cfg), "--", "cat", "/etc/shadow"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no [sinks.*] table: alerts go to the default console sink" in done.stderr
    assert "Read sensitive file by unexpected program" in done.stderr


# ---- rule files -----------------------------------------------------------------

_RULES_CFG = b'[filters.rules]\nfiles = ["rules.yaml"]\n'


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(DEFAULT_RULES)),
            st.sampled_from(["", "(", ")", "not ", " and ", "[", "]", ":", "- ", "\n", "'", "٣"]),
            st.integers(0, 4),
        ),
        max_size=6,
    )
)
def test_mutated_rule_file_validates_or_names_the_rule(
    tmp_path: Path, edits: list[tuple[int, str, int]]
) -> None:
    text = DEFAULT_RULES
    for pos, insert, cut in edits:
        pos = min(pos, len(text))
        text = text[:pos] + insert + text[pos + cut :]
    _validate(tmp_path, _RULES_CFG, text.encode())


def _rule(cond: str) -> str:
    return (
        f"- rule: deep\n  desc: d\n  condition: {cond}\n  output: x %proc.name\n"
        "  priority: WARNING\n"
    )


@pytest.mark.parametrize(
    ("rules", "said"),
    [
        (_rule("(" * 300 + "proc.name = a" + ")" * 300), "nested too deeply"),
        (_rule("not " * 500 + "proc.name = a"), "nested too deeply"),
        (
            "".join(
                f"- macro: m{i}\n  condition: (m{i + 1} and proc.pid > {i})\n" for i in range(300)
            )
            + "- macro: m300\n  condition: proc.name = a\n"
            + _rule("m0"),
            "rule 'deep'",
        ),
        (_rule("proc.aname[٣] = sh"), "index of 'proc.aname' must be a number"),
        (
            _rule("proc.name = a").replace("x %proc.name", "x %proc.aname[0) or (1]"),
            "index of 'proc.aname' must be a number",
        ),
        ("- rule: " + "[" * 5000 + "]" * 5000 + "\n", "rules.yaml"),
        ("- rule: r\n  desc: caf\xe9\n", "not UTF-8 text (line 2"),
    ],
)
def test_hostile_rule_files_are_errors_naming_file_rule_and_line(
    tmp_path: Path, rules: str, said: str
) -> None:
    data = rules.encode("latin-1") if "caf\xe9" in rules else rules.encode()
    status, out = _validate(tmp_path, _RULES_CFG, data)
    assert status == 1, out
    assert said in out, out


def test_a_200k_item_list_validates_in_reasonable_time(tmp_path: Path) -> None:
    items = "".join(f"    - /usr/bin/prog{i}\n" for i in range(200_000))
    rules = "- list: many\n  items:\n" + items + _rule("proc.exepath in (many)")
    yaml.safe_load("[]")  # import cost out of the timing
    start = time.process_time()  # CPU time: other jobs on the machine do not count
    status, out = _validate(tmp_path, _RULES_CFG, rules.encode())
    took = time.process_time() - start
    assert status == 0, out
    assert took < 8, f"validate took {took:.1f} s of CPU"
