"""The Falco-syntax rule engine: operators, macros, lists, overrides, errors, rate limit."""

from __future__ import annotations

import textwrap

import pytest

from tracehound.event import Event
from tracehound.filters.falco.engine import RuleEngine, RuleSource, load_rules
from tracehound.filters.falco.syntax import ConditionError, parse_condition

from .conftest import connect_ev, ev, exec_ev, open_ev, proc

PY = proc("python3 app.py", exe="/usr/bin/python3.11", name="python3")


def engine(yaml_text: str, **kw: object) -> RuleEngine:
    rules, issues, _ = load_rules([RuleSource("test.yaml", textwrap.dedent(yaml_text))])
    assert not issues, [str(i) for i in issues]
    return RuleEngine(rules, **kw)  # type: ignore[arg-type]


def issues_of(yaml_text: str) -> list[str]:
    _, issues, _ = load_rules([RuleSource("test.yaml", textwrap.dedent(yaml_text))])
    return [str(i) for i in issues]


def rule(cond: str, output: str = "hit %proc.name") -> str:
    return textwrap.dedent(
        f"""
        - rule: R
          desc: d
          condition: {cond!r}
          output: {output!r}
          priority: WARNING
        """
    )


def matches(cond: str, e: Event) -> bool:
    return bool(engine(rule(cond)).evaluate(e))


OPEN = open_ev(PY, "/etc/app/conf.yaml", "O_WRONLY|O_CREAT")


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("fd.name = /etc/app/conf.yaml", True),
        ("fd.name == /etc/app/conf.yaml", True),
        ("fd.name != /etc/app/conf.yaml", False),
        ("fd.name in (/x, /etc/app/conf.yaml)", True),
        ("fd.name contains app/conf", True),
        ("fd.name icontains APP/CONF", True),
        ("fd.name startswith /etc/", True),
        ("fd.name endswith .yaml", True),
        ("fd.name glob '/etc/*/conf.*'", True),
        ("fd.name glob '/usr/*'", False),
        ("fd.name pmatch (/etc/app)", True),
        ("fd.name pmatch (/etc/ap)", False),
        ("fd.directory = /etc/app", True),
        ("fd.filename = conf.yaml", True),
        ("fd.name exists", True),
        ("fd.sip exists", False),
        ("fd.sip != 1.2.3.4", False),  # missing values never compare, as in Falco
        ("not fd.sip = 1.2.3.4", True),
        ("proc.pid > 0 and proc.pid >= 1 and proc.pid < 99999999 and proc.pid <= 99999999", True),
        ("user.uid = 0 and proc.name = python3", True),
        ("evt.is_open_write = true and evt.is_open_read = false", True),
        ("evt.arg.flags contains O_CREAT", True),
        ("(fd.name = /a or fd.name = /etc/app/conf.yaml) and not (proc.name = sh)", True),
        ("evt.type = openat and evt.dir = <", True),
        ("proc.aname[1] = tini and proc.aname = tini and proc.pname = tini", True),
        ("proc.aname[3] exists", False),
        ("evt.tags contains sensitive_path", False),
        ('proc.cmdline = "python3 app.py"', True),
    ],
)
def test_operators(cond: str, expected: bool) -> None:
    assert matches(cond, OPEN) is expected


def test_macros_lists_and_nested_lists() -> None:
    e = engine(
        """
        - list: a
          items: [sh, bash]
        - list: b
          items: [a, zsh]
        - macro: shell
          condition: proc.name in (b)
        - macro: spawned_process
          condition: evt.type = execve
        - rule: Shell
          desc: d
          condition: spawned_process and shell
          output: shell %proc.name under %proc.pname (%proc.aname[2])
          priority: notice
        """
    )
    bash = proc("bash -i", exe="/bin/bash", parent=PY)
    (a,) = e.evaluate(exec_ev(bash))
    assert a.priority == "Notice"
    assert a.output == "shell bash under python3 (tini)"
    assert not e.evaluate(exec_ev(proc("ls", parent=PY)))
    assert e.types() == {"execve"}


def test_append_override_enabled_and_exceptions() -> None:
    e = engine(
        """
        - list: bins
          items: [cat]
        - rule: Read etc
          desc: d
          condition: evt.type = openat and fd.name startswith /etc/
          output: read %fd.name by %proc.name
          priority: warning
          exceptions:
            - name: known
              fields: [proc.name, fd.name]
              comps: [=, startswith]
              values:
                - [python3, /etc/ssl/]
        - list: bins
          items: [less]
          append: true
        - rule: Read etc
          condition: and not proc.name in (bins)
          append: true
        - rule: Other
          desc: d
          condition: evt.type = openat
          output: o
          priority: debug
        - rule: Other
          enabled: false
        - rule: Read etc
          exceptions:
            - name: one_field
              fields: fd.name
              values: [/etc/hostname]
          override:
            exceptions: append
        """
    )
    assert [a.rule for a in e.evaluate(open_ev(PY, "/etc/app.conf"))] == ["Read etc"]
    assert not e.evaluate(open_ev(PY, "/etc/ssl/certs/x.pem"))  # first exception
    assert not e.evaluate(open_ev(proc("less /etc/x"), "/etc/x"))  # appended condition + list
    assert not e.evaluate(open_ev(PY, "/etc/hostname"))  # appended exception
    assert e.evaluate(open_ev(proc("cat2"), "/etc/ssl/x"))


def test_rules_index_by_event_type() -> None:
    e = engine(
        rule("evt.type in (connect, accept) and fd.sport = 443")
        + rule("proc.name = x").replace("R\n", "Any\n")
    )
    assert len(e.candidates("connect")) == 2
    assert len(e.candidates("read")) == 1  # only the rule without an evt.type check
    assert e.evaluate(connect_ev(PY, "1.2.3.4", 443))


def test_rate_limit_counts_suppressed_identical_alerts() -> None:
    e = engine(rule("evt.type = openat", "open %fd.name"), rate=1.0, burst=2)
    hits = [e.evaluate(ev("openat", PY, ts=1_000_000_000 + i, fd__name="/x")) for i in range(10)]
    assert sum(map(len, hits)) == 2
    assert e.suppressed == 8 and e.suppressed_per_rule == {"R": 8}
    # a different output is a different alert
    assert e.evaluate(ev("openat", PY, ts=1_000_000_100, fd__name="/y"))
    # a second later a token is back
    assert e.evaluate(ev("openat", PY, ts=2_100_000_000, fd__name="/x"))


def test_match_first_stops_at_first_rule() -> None:
    text = rule("evt.type = openat") + rule("evt.type = openat").replace("rule: R", "rule: R2")
    assert len(engine(text, match_all=True).evaluate(OPEN)) == 2
    assert len(engine(text, match_all=False).evaluate(OPEN)) == 1


def test_non_syscall_sources_are_skipped() -> None:
    e = engine(
        """
        - rule: K8s
          desc: d
          condition: ka.verb = create
          output: o
          priority: info
          source: k8s_audit
        - required_engine_version: 9
        """
    )
    assert e.rules == []


@pytest.mark.parametrize(
    ("cond", "message", "column"),
    [
        ("proc.nme = x", "unknown or unsupported field 'proc.nme' (did you mean 'proc.name'?)", 1),
        ("evt.type = open and fd.nam = x", "unknown or unsupported field 'fd.nam'", 21),
        ("(evt.type = open", "unbalanced '(': missing ')'", 1),
        ("evt.type = open)", "unbalanced ')'", 16),
        ("proc.name regex '(x'", "bad regex '(x'", 17),
        ("proc.name like x", "expected an operator after 'proc.name', got 'like'", 11),
        ("proc.name =", "value expected after '=', got end of condition", 12),
        ("proc.pid = abc", "proc.pid is a number; 'abc' is not", 12),
        ("proc.pid contains 1", "operator 'contains' needs a text field", 1),
        ("proc.name < x", "operator '<' needs a numeric field", 1),
        ("no_such_macro and proc.name = x", "unknown macro 'no_such_macro'", 1),
        ("proc.name in (a, b", "unbalanced '(': list is missing ')'", 14),
        ("proc.aname[x] = a", "index of 'proc.aname' must be a number", 1),
        ("proc.name = 'abc", "unterminated quoted string", 13),
        ("proc.name = x proc.pid = 1", "expected 'and', 'or' or end of condition", 15),
        ("proc.name = val(proc.pnme)", "unknown or unsupported field 'proc.pnme'", 17),
        ("proc.name bendswith 00", "operator 'bendswith' is not supported", 11),
        ("join(proc.name) = x", "transformer join() is not supported", 1),
    ],
)
def test_condition_errors_name_problem_and_column(cond: str, message: str, column: int) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(cond, lambda n: None, lambda n: None)
        # type errors are found at compile time
        from tracehound.filters.falco.codegen import compile_condition

        compile_condition(parse_condition(cond, lambda n: None, lambda n: None))
    if "is a number" in message or "needs a" in message:
        pass
    assert message in info.value.message
    assert info.value.pos == column


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            rule("proc.nme = x"),
            "test.yaml line 2: warning: rule 'R' skipped: proc.nme is not supported (condition column 1: unknown or unsupported field 'proc.nme'",  # noqa: E501
        ),
        (rule("proc.pid = abc"), "rule 'R': condition column 12: proc.pid is a number"),
        (
            rule("proc.name = x", "%proc.nmae"),
            "rule 'R' skipped: proc.nmae is not supported (output column 1: unknown field 'proc.nmae' in output",  # noqa: E501
        ),
        (rule("evt.type = x").replace("WARNING", "LOUD"), "unknown priority 'LOUD'"),
        (rule("x").replace("condition", "condtion"), "rule 'R': unknown key(s) condtion"),
        (rule("evt.type = x") + rule("evt.type = y"), "duplicate rule name 'R' in the same file"),
        (
            "- macro: m\n  condition: fd.nam = 1\n" + rule("m"),
            "rule 'R' skipped: fd.nam is not supported (condition column 1: in macro 'm' (test.yaml line 1): unknown or unsupported field 'fd.nam'",  # noqa: E501
        ),
        ("- macro: m\n  condition: m\n" + rule("m"), "macro 'm' refers to itself"),
        (
            "- rule: Missing\n  enabled: false\n",
            "rule 'Missing': changes a rule that is not defined",
        ),
        ("- rule: R\n  desc: x\n", "changes a rule that is not defined"),
        (
            "- rule: R\n  condition: evt.type = x\n  output: o\n",
            "missing required key(s): priority",
        ),
        ("- list: l\n  items: [a, [b]]\n", "list 'l': items must be a list of strings"),
        ("- rule: [unclosed\n", "invalid YAML"),
        ("rule: x\n", "a rules file must be a YAML list"),
        ("- foo: bar\n", "expected rule, macro or list"),
        (
            rule("evt.type = x").replace(
                "priority: WARNING",
                "priority: WARNING\n  exceptions:\n    - name: e\n      fields: [proc.nme]\n      values: [[x]]",  # noqa: E501
            ),
            "unknown or unsupported field 'proc.nme'",
        ),
    ],
)
def test_load_errors(text: str, message: str) -> None:
    issues = issues_of(text)
    assert any(message in i for i in issues), issues


def test_skip_if_unknown_filter() -> None:
    text = rule("proc.nosuch = 1").replace(
        "priority: WARNING", "priority: WARNING\n  skip-if-unknown-filter: true"
    )
    _, issues, loader = load_rules([RuleSource("test.yaml", textwrap.dedent(text))])
    assert [i.severity for i in issues] == ["info"]
    assert loader.skipped == {"R": "proc.nosuch"}
    assert loader.stats["test.yaml"].skipped == 1


def test_skip_if_unknown_filter_does_not_hide_syntax_errors() -> None:
    text = rule("(proc.nosuch = 1").replace(
        "priority: WARNING", "priority: WARNING\n  skip-if-unknown-filter: true"
    )
    issues = issues_of(text)
    assert len(issues) == 1 and "unbalanced '('" in issues[0], issues


def test_all_errors_are_collected() -> None:
    text = rule("proc.nme = x") + rule("fd.nam = y").replace("rule: R", "rule: S")
    assert len(issues_of(text)) == 2


# ---- run_cached: verdicts reused between equal events ----

TWO_RULES = """
- rule: Shadow
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "shadow by %proc.name at %evt.time"
  priority: WARNING
- rule: Late
  desc: d
  condition: evt.type = openat and evt.rawtime > 5000
  output: "late %fd.name"
  priority: NOTICE
"""


def _opens(n: int, path: str, ts0: int) -> list[Event]:
    return [ev("openat", PY, ts=ts0 + i, **{"fd.name": path, "evt.arg.flags": 0}) for i in range(n)]


def test_run_cached_gives_what_run_gives_and_reuses_steady_verdicts() -> None:
    cached, plain = engine(TWO_RULES), engine(TWO_RULES)
    rules_c, rules_p = cached.candidates("openat"), plain.candidates("openat")
    # evt.rawtime varies per event: "Late" is evaluated every time, "Shadow" once.
    events = [*_opens(3, "/etc/shadow", 4999), *_opens(3, "/etc/hosts", 4999)]
    got_c: list = []
    got_p: list = []
    for e in events:
        cached.run_cached(rules_c, e, got_c)
        plain.run(rules_p, e, got_p)
    assert [(a.rule, a.output) for a in got_c] == [(a.rule, a.output) for a in got_p]
    assert [a.rule for a in got_c].count("Shadow") == 3  # each event fires its own alert
    assert [a.rule for a in got_c].count("Late") == 2  # only ts 5001 of each path is > 5000
    assert cached.memo_hits == 4  # the 2nd and 3rd of each path


def test_a_verdict_is_not_reused_for_another_snapshot_or_other_fields() -> None:
    e = engine(TWO_RULES)
    rules = e.candidates("openat")
    other = proc("cat /etc/shadow", exe="/bin/cat", name="cat")
    alerts: list = []
    e.run_cached(rules, ev("openat", PY, ts=1, **{"fd.name": "/etc/hosts"}), alerts)
    e.run_cached(rules, ev("openat", other, ts=2, **{"fd.name": "/etc/shadow"}), alerts)
    e.run_cached(rules, ev("openat", other, ts=3, **{"fd.name": "/etc/shadow", "x": 1}), alerts)
    assert [a.rule for a in alerts] == ["Shadow", "Shadow"]
    assert e.memo_hits == 0
