"""The rule-file format as Falco reads it: version requirements, override/append for
every key Falco allows, exceptions, enabled, warn_evttypes, skip-if-unknown-filter,
lists of lists, evt.dir, Falco's operators and transformers. Our own rule files."""

from __future__ import annotations

import base64
import textwrap

import pytest

from tracehound.filters.falco.engine import RuleEngine, RuleSource, load_rules

from .conftest import ev, exec_ev, open_ev, proc


def load(*texts: str, **kw: object) -> tuple[RuleEngine, list[str], object]:
    sources = [RuleSource(f"f{i}.yaml", textwrap.dedent(t)) for i, t in enumerate(texts)]
    compiled, issues, loader = load_rules(sources, **kw)  # type: ignore[arg-type]
    return RuleEngine(compiled), [str(i) for i in issues], loader


def fired(engine: RuleEngine, e: object) -> list[str]:
    return [a.rule for a in engine.evaluate(e)]  # type: ignore[arg-type]


BASE = """
- list: shells
  items: [bash, sh]
- list: more_shells
  items: [shells, zsh, '"fish"']
- macro: spawned
  condition: evt.type in (execve, execveat) and evt.dir = <
- rule: Shell
  desc: a shell ran
  condition: spawned and proc.name in (more_shells)
  output: shell %proc.name
  priority: WARNING
  tags: [shell]
  exceptions:
    - name: allowed_parents
      fields: [proc.pname, proc.cmdline]
      comps: [=, startswith]
      values:
        - [make, "sh -c true"]
"""


def test_lists_of_lists_and_quoted_items() -> None:
    engine, issues, _ = load(BASE)
    assert issues == []
    for name in ("bash", "sh", "zsh", "fish"):
        assert fired(engine, exec_ev(proc(name))) == ["Shell"], name
    assert fired(engine, exec_ev(proc("python3"))) == []


def test_exceptions_and_exception_append_by_name() -> None:
    make = proc("make")
    engine, _, _ = load(BASE)
    assert fired(engine, exec_ev(proc("sh -c true", parent=make))) == []
    assert fired(engine, exec_ev(proc("sh -c id", parent=make))) == ["Shell"]
    more = """
    - rule: Shell
      exceptions:
        - name: allowed_parents
          values:
            - [make, "sh -c id"]
        - name: by_name
          fields: proc.name
          values: [zsh]
      override:
        exceptions: append
    """
    engine, issues, _ = load(BASE, more)
    assert issues == []
    assert fired(engine, exec_ev(proc("sh -c id", parent=make))) == []
    assert fired(engine, exec_ev(proc("zsh"))) == []
    assert fired(engine, exec_ev(proc("bash"))) == ["Shell"]


@pytest.mark.parametrize(
    ("override", "check"),
    [
        ("condition: and proc.pname = tini\n  override:\n    condition: append", "cond_append"),
        (
            "condition: spawned and proc.name = zsh\n  override:\n    condition: replace",
            "cond_repl",
        ),
        ("output: (appended)\n  override:\n    output: append", "output"),
        ("priority: CRITICAL\n  override:\n    priority: replace", "priority"),
        ("tags: [extra]\n  override:\n    tags: append", "tags"),
        ("tags: [only]\n  override:\n    tags: replace", "tags_repl"),
        ("enabled: false\n  override:\n    enabled: replace", "enabled"),
        ("enabled: false", "enabled"),
        ("desc: new\n  override:\n    desc: replace", "desc"),
    ],
)
def test_rule_overrides(override: str, check: str) -> None:
    engine, issues, loader = load(BASE, f"- rule: Shell\n  {override}\n")
    assert issues == []
    alerts = engine.evaluate(exec_ev(proc("bash")))
    rules = {r.name: r for r in engine.rules}
    if check == "cond_append":
        assert len(alerts) == 1  # the parent is tini
        other = proc("bash", parent=proc("init"))
        assert engine.evaluate(exec_ev(other)) == []
    elif check == "cond_repl":
        assert alerts == [] and fired(engine, exec_ev(proc("zsh"))) == ["Shell"]
    elif check == "output":
        assert alerts[0].output == "shell bash (appended)"
    elif check == "priority":
        assert alerts[0].priority == "Critical"
    elif check == "tags":
        assert alerts[0].tags == ("shell", "extra")
    elif check == "tags_repl":
        assert alerts[0].tags == ("only",)
    elif check == "enabled":
        assert alerts == [] and "Shell" not in rules
        assert loader.stats["f0.yaml"].disabled == 1  # type: ignore[attr-defined]
    elif check == "desc":
        assert rules["Shell"].desc == "new"


def test_macro_and_list_overrides() -> None:
    more = """
    - list: shells
      items: [dash]
      override:
        items: append
    - list: more_shells
      items: [shells]
      override:
        items: replace
    - macro: spawned
      condition: and proc.pid > 0
      override:
        condition: append
    """
    engine, issues, _ = load(BASE, more)
    assert issues == []
    assert fired(engine, exec_ev(proc("dash"))) == ["Shell"]
    assert fired(engine, exec_ev(proc("zsh"))) == []  # replaced away


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            "- rule: Shell\n  priority: INFO\n  override:\n    priority: append",
            "cannot be overridden with 'append'",
        ),
        (
            "- rule: Shell\n  override:\n    output: append",
            "override.output given but 'output' is missing",
        ),
        (
            "- rule: Shell\n  tags: [x]\n  append: true\n  override:\n    tags: append",
            "either append or override",
        ),
        (
            "- rule: Shell\n  priority: INFO\n",
            "changes priority of a defined rule without override",
        ),
        (
            "- rule: Shell\n  output: x\n  tags: [y]\n  override:\n    output: append",
            "key 'tags' is not listed under override",
        ),
        (
            "- macro: spawned\n  condition: x\n  override:\n    condition: prepend",
            "must be 'append' or 'replace'",
        ),
        ("- required_engine_version: 99.0.0", "newer than the Falco engine version"),
        ("- required_engine_version: banana", "is not a version"),
        (
            "- required_plugin_versions:\n    - name: k8saudit\n      version: 0.1.0",
            "required plugin k8saudit 0.1.0 is not available",
        ),
        (
            "- required_plugin_versions:\n    - name: container\n      version: 1.0.0",
            "required plugin container 1.0.0",
        ),
    ],
)
def test_format_errors(item: str, message: str) -> None:
    _, issues, _ = load(BASE, item)
    assert any(message in i for i in issues), issues


def test_version_requirements_that_hold() -> None:
    text = """
    - required_engine_version: 8
    - required_engine_version: 0.57.0
    - required_plugin_versions:
        - name: container
          version: 0.3.1
        - name: nosuch
          version: 1.0.0
          alternatives:
            - name: container
              version: 0.1.0
    """
    _, issues, _ = load(text, BASE)
    assert issues == []


def test_skip_if_unknown_filter_by_override_and_warn_evttypes() -> None:
    text = """
    - rule: Future
      desc: uses a field tracehound lacks
      condition: evt.type = execve and proc.nosuchfield = 1
      output: o
      priority: NOTICE
    """
    _, issues, loader = load(text)
    assert len(issues) == 1 and "warning: rule 'Future' skipped: proc.nosuchfield" in issues[0]
    quiet = "- rule: Future\n  skip-if-unknown-filter: true\n  warn_evttypes: false\n  override:\n    skip-if-unknown-filter: replace\n    warn_evttypes: replace\n"  # noqa: E501
    _, issues, loader = load(text, quiet)
    assert ["info" in i or "skip-if-unknown-filter" in i for i in issues] == [True]
    assert loader.stats["f0.yaml"].skipped == 1  # type: ignore[attr-defined]
    assert loader.rules["Future"].warn_evttypes is False  # type: ignore[attr-defined]


def test_rule_disabled_by_config_is_not_compiled() -> None:
    broken = (
        BASE
        + "- rule: Broken\n  desc: d\n  condition: (evt.type = execve\n  output: o\n  priority: DEBUG\n  tags: [noisy]\n"  # noqa: E501
    )
    _, issues, _ = load(broken)
    assert any("unbalanced" in i for i in issues)
    for kw in (
        {"disabled": ["Broken"]},
        {"disabled_tags": ["noisy"]},
        {"minimum_priority": "info"},
    ):
        engine, issues, loader = load(broken, **kw)
        assert issues == [], kw
        assert [r.name for r in engine.rules] == ["Shell"]
        assert loader.stats["f0.yaml"].disabled == 1  # type: ignore[attr-defined]


def test_foreign_source_rules_are_disabled_not_errors() -> None:
    text = "- rule: Audit\n  desc: d\n  condition: ka.verb = create\n  output: o\n  priority: INFO\n  source: k8s_audit\n"  # noqa: E501
    engine, issues, loader = load(text)
    assert issues == [] and engine.rules == []
    assert loader.stats["f0.yaml"].disabled == 1  # type: ignore[attr-defined]


def one(cond: str, **kw: object) -> RuleEngine:
    engine, issues, _ = load(
        f"- rule: R\n  desc: d\n  condition: {cond!r}\n  output: o %proc.name\n  priority: INFO\n",
        **kw,
    )
    assert issues == [], issues
    return engine


@pytest.mark.parametrize(
    ("cond", "hit", "miss"),
    [
        ("proc.name regex 'ba.h'", "bash", "bashy"),
        ("proc.name iglob 'B*H'", "bash", "zsh"),
        ("proc.name bcontains 6173", "bash", "zsh"),  # "as"
        ("proc.name bstartswith 62", "bash", "sh"),
        ("tolower(proc.name) = bash", "BaSh", "zsh"),
        ("toupper(proc.name) = BASH", "bash", "zsh"),
        ("basename(proc.exepath) = bash", "bash", "zsh"),
        ("len(proc.name) = 4", "bash", "zsh"),
        ("tolower(toupper(proc.name)) = bash", "BASH", "zsh"),
        ("proc.name = val(proc.pname)", "tini", "bash"),
        ("proc.name != val(proc.pname)", "bash", "tini"),
        ("proc.exepath pmatch (/usr/bin, /opt)", "bash", None),
        ("proc.aname intersects (tini, init)", "bash", None),
        ("proc.name icontains AS", "bash", "zsh"),
        ("evt.dir = > and evt.dir = <", "bash", None),
        ("proc.pid exists and not proc.nosuch_never_here exists", None, None),
    ],
)
def test_operators_and_transformers(cond: str, hit: str | None, miss: str | None) -> None:
    if "nosuch" in cond:
        _, issues, _ = load(
            f"- rule: R\n  desc: d\n  condition: {cond!r}\n  output: o\n  priority: INFO\n"
        )
        assert "skipped" in issues[0]
        return
    engine = one(f"evt.type = execve and {cond}")
    if hit:
        assert fired(engine, exec_ev(proc(hit))) == ["R"], cond
    if miss:
        assert fired(engine, exec_ev(proc(miss))) == [], cond


def test_b64_transformer_and_env_key() -> None:
    engine = one("evt.type = openat and b64(fd.filename) = secret")
    name = base64.b64encode(b"secret").decode()
    assert fired(engine, open_ev(proc("cat"), f"/tmp/{name}")) == ["R"]
    assert fired(engine, open_ev(proc("cat"), "/tmp/plain")) == []


def test_net_fields_and_uid_names() -> None:
    from tracehound.filters.falco.fields import FieldContext

    engine = one(
        'evt.type = connect and fd.snet in ("10.0.0.0/8", "192.168.0.0/16") and fd.port = 443'
    )
    p = proc("curl")
    hit = ev("connect", p, fd__sip="10.1.2.3", fd__sport=443, fd__rip="10.1.2.3", fd__rport=443)
    miss = ev("connect", p, fd__sip="8.8.8.8", fd__sport=443)
    assert fired(engine, hit) == ["R"] and fired(engine, miss) == []
    engine = one(
        "evt.type = setuid and evt.arg.uid = www-data", ctx=FieldContext(users={33: "www-data"})
    )
    assert fired(engine, ev("setuid", p, evt__arg__uid=33)) == ["R"]
    assert fired(engine, ev("setuid", p, evt__arg__uid=0)) == []


def test_container_privileged_from_the_bounding_set() -> None:
    from tracehound.filters.falco.fields import container_privileged, detect_privileged

    full = "Name:\tx\nCapBnd:\t000001ffffffffff\n"
    docker_default = "CapBnd:\t00000000a80425fb\n"
    assert container_privileged(full, 40) is True
    assert container_privileged(docker_default, 40) is False
    with open("/proc/self/status") as f:
        status = f.read()
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    assert detect_privileged() == container_privileged(status, last)


def test_ecs_start_time_and_mounts() -> None:
    from tracehound.filters.enrich import ecs_fields, ecs_mounts

    doc = {
        "StartedAt": "2026-11-22T10:20:05.123456789Z",
        "Volumes": [{"Source": "/var/lib/ecs/x", "Destination": "/data"}, {"Source": "y"}],
    }
    assert ecs_fields(None, doc)["container.start_ts"] == 1795342805123456789
    assert ecs_mounts(doc) == [("/var/lib/ecs/x", "/data")]
    assert "container.start_ts" not in ecs_fields(None, {"StartedAt": "yesterday"})
