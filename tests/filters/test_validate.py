"""Broken configs: each gives a clear message naming the problem and where it is."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tracehound.agent.config import ConfigError, default_config_text, parse_config
from tracehound.filters.config import FiltersConfig, check_filters

BAD_RULES = """\
- rule: Bad field
  desc: d
  condition: evt.type = execve and proc.nmae = sh
  output: o
  priority: warning
- rule: Bad paren
  desc: d
  condition: (evt.type = execve and proc.name = sh
  output: o
  priority: warning
"""

# (config text, key path the error must name, words the message must contain)
CASES: list[tuple[str, str, str]] = [
    ("[filters.sampling]\nrates = { read = 2.0 }", "filters.sampling", "<= 1.0"),
    (
        '[filters.sampling]\nrates = { read = "half" }',
        "filters.sampling.rates.read",
        "Expected `float`",
    ),
    ("[filters.sampling]\nper_process = 1", "filters.sampling.per_process", "Expected `bool`"),
    ("[filters.sampling]\nrate = { read = 0.5 }", "filters.sampling.rate", "unknown key `rate`"),
    ("[filters.bogus]\nx = 1", "filters.bogus", "unknown key `bogus`"),
    (
        '[filters.baseline]\nmode = "watch"',
        "filters.baseline.mode",
        "invalid value 'watch' (expected",
    ),
    ('[filters.baseline]\nmode = "detect"', "filters.baseline.file", "needs a baseline file"),
    (
        '[filters.baseline]\npriority = "loud"',
        "filters.baseline.priority",
        "unknown priority 'loud'",
    ),
    (
        '[filters.rules]\nminimum_priority = "urgent"',
        "filters.rules.minimum_priority",
        "unknown priority",
    ),
    ('[filters.rules]\nfiles = ["missing.yaml"]', "filters.rules.files.0", "cannot read rule file"),
    (
        '[filters.rules]\nfiles = ["builtin:nope.yaml"]',
        "filters.rules.files.0",
        "no shipped rule file",
    ),
    (
        '[filters.rules]\nfiles = ["bad.yaml"]',
        "filters.rules.files.0",
        "rule 'Bad paren': condition column 1: unbalanced '(': missing ')'",
    ),
    (
        '[filters.rules]\ndisabled = ["No such rule"]',
        "filters.rules.disabled.0",
        "no rule named 'No such rule'",
    ),
    ('[filters.rules]\nmatch = "any"', "filters.rules.match", "'any' (expected one of 'all'"),
    (
        '[filters.sensitive_paths]\nglobs = ["/etc/[abc"]',
        "filters.sensitive_paths.globs.0",
        "bad glob '/etc/[abc': unbalanced '['",
    ),
    (
        '[filters.sensitive_paths]\nglobs = ["relative/*.key"]',
        "filters.sensitive_paths.globs.0",
        "must be an absolute path or start with **",
    ),
    (
        '[filters.sensitive_paths]\nprefixes = ["etc/shadow"]',
        "filters.sensitive_paths.prefixes.0",
        "must be an absolute path",
    ),
    ("[filters.enrich]\nancestor_levels = 99", "filters.enrich", "<= 16"),
    ("[filters.rules.rate_limit]\nburst = 0", "filters.rules.rate_limit", ">= 1"),
    ('[sinks.out]\ntype = "carrier_pigeon"', "sinks.out.type", "unknown type 'carrier_pigeon'"),
    (
        '[sinks.out]\ntype = "stdout"\ninputs = ["alerts"]\nminimum_priority = "meh"',
        "sinks.out",
        "priority",
    ),
    (
        '[sinks.siem]\ntype = "webhook"\ninputs = ["alerts"]\nurl = "https://siem.example/x"\nauth.strategy = "bearer"\nauth.token_env = "TH_TEST_UNSET_TOKEN"',  # noqa: E501
        "sinks.siem.auth.token_env",
        "environment variable TH_TEST_UNSET_TOKEN is not set",
    ),
    ("[tracer]\nprofile = 3", "tracer.profile", "Expected `str`"),
    ("[filters.rules]\nfiles = [", "(syntax)", ""),
]


def _issues(text: str, base: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.toml", base)
    return [f"{i.path}|{i.line}|{i.message}" for i in info.value.issues]


@pytest.fixture
def base(tmp_path: Path) -> Path:
    (tmp_path / "bad.yaml").write_text(BAD_RULES)
    return tmp_path


@pytest.mark.parametrize(("text", "path", "words"), CASES, ids=[c[2][:40] or c[1] for c in CASES])
def test_broken_config_names_the_problem(
    text: str, path: str, words: str, base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TH_TEST_UNSET_TOKEN", raising=False)
    issues = _issues(text, base)
    hits = [i for i in issues if i.split("|")[0].startswith(path) and words in i.split("|", 2)[2]]
    assert hits, issues


def test_errors_carry_line_numbers(base: Path) -> None:
    text = '# comment\n[filters.rules]\nmatch = "first"\nfiles = ["bad.yaml"]\n'
    issues = _issues(text, base)
    assert len(issues) == 1  # the syntax error; the unknown field only skips its rule
    assert all(i.split("|")[1] == "4" for i in issues)


def test_many_errors_reported_at_once(base: Path) -> None:
    text = textwrap.dedent(
        """
        [filters.sensitive_paths]
        globs = ["/etc/[x", "rel"]
        [filters.rules]
        files = ["bad.yaml", "missing.yaml"]
        disabled = ["nope"]
        """
    )
    assert len(_issues(text, base)) >= 5


def test_default_config_is_valid_and_matches_struct_defaults() -> None:
    cfg = parse_config(default_config_text(), "default.toml", Path.cwd())
    assert cfg.filters == FiltersConfig()
    assert check_filters(cfg.filters, ("filters",), Path.cwd()) == []


def test_user_rules_file_appends_to_defaults(tmp_path: Path) -> None:
    (tmp_path / "local.yaml").write_text(
        textwrap.dedent(
            """
            - list: package_mgmt_binaries
              items: [npm]
              append: true
            - rule: Write below etc
              enabled: false
            """
        )
    )
    text = '[filters.rules]\nfiles = ["builtin:default_rules.yaml", "local.yaml"]\n'
    cfg = parse_config(text, "t.toml", tmp_path)
    assert cfg.filters.rules.files[1] == "local.yaml"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracehound.agent.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_validate_prints_every_error_and_exits_1(base: Path) -> None:
    cfg = base / "broken.toml"
    cfg.write_text(
        '[filters.rules]\nfiles = ["bad.yaml"]\n[filters.sensitive_paths]\nglobs = ["/x/[a"]\n'
    )
    r = subprocess.run(
        ["tracehound", "validate", str(cfg)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 1, r
    out = r.stdout + r.stderr
    assert "unbalanced '('" in out and "bad glob" in out
    assert "line 2" in out


def test_cli_validate_counts_rules_and_strict_fails_on_skipped(base: Path) -> None:
    (base / "skip.yaml").write_text(BAD_RULES.split("- rule: Bad paren")[0])
    cfg = base / "skip.toml"
    cfg.write_text('[filters.rules]\nfiles = ["builtin:default_rules.yaml", "skip.yaml"]\n')
    cmd = ["tracehound", "validate", str(cfg)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skip.yaml: 0 rules loaded, 0 disabled, 1 skipped" in r.stdout
    assert "warning: rule 'Bad field' skipped: proc.nmae is not supported" in r.stdout
    assert "builtin:default_rules.yaml: " in r.stdout
    strict = subprocess.run([*cmd, "--strict"], capture_output=True, text=True, timeout=60)
    assert strict.returncode == 1, strict.stdout
    assert "--strict: 1 rule(s) skipped" in strict.stdout


def test_rule_disabled_by_config_is_not_compiled(base: Path) -> None:
    cfg = base / "off.toml"
    cfg.write_text('[filters.rules]\nfiles = ["bad.yaml"]\ndisabled = ["Bad paren"]\n')
    r = subprocess.run(
        ["tracehound", "validate", str(cfg)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "bad.yaml: 0 rules loaded, 1 disabled, 1 skipped" in r.stdout


def test_validate_notes_rules_the_profile_never_traces(base: Path) -> None:
    (base / "sym.yaml").write_text(
        "- rule: Symlink\n  desc: d\n  condition: evt.type = symlinkat\n"
        "  output: o\n  priority: warning\n"
        "- rule: Opened\n  desc: d\n  condition: evt.type = openat and fd.num >= 0\n"
        "  output: o\n  priority: warning\n"
    )
    cfg = base / "sym.toml"
    text = '[tracer]\nprofile = "minimal"\n[filters.rules]\nfiles = ["sym.yaml"]\n'
    cfg.write_text(text)
    r = subprocess.run(
        ["tracehound", "validate", str(cfg)], capture_output=True, text=True, timeout=60
    )
    assert "rule 'Symlink' can never fire: profile 'minimal' traces none" in r.stdout
    assert "pins a set without symlinkat (rule 'Symlink')" in r.stdout
    # The exit stops still follow the rules: openat's, for fd.num.
    assert "  openat: rule 'Opened' reads fd.num" in r.stdout
    custom = base / "custom.toml"
    custom.write_text(
        '[tracer]\nprofile = "custom"\nverify = false\nsyscalls = ["openat", "symlinkat"]\n'
        '[filters.rules]\nfiles = ["sym.yaml"]\n'
    )
    r = subprocess.run(
        ["tracehound", "validate", str(custom)], capture_output=True, text=True, timeout=60
    )
    assert "rule 'Opened' reads fd.num, known only for syscalls in tracer.capture_results" in (
        r.stdout
    )


def test_validate_says_what_auto_derived_and_why(base: Path) -> None:
    (base / "sym.yaml").write_text(
        "- rule: Symlink\n  desc: d\n  condition: evt.type = symlinkat\n"
        "  output: o\n  priority: warning\n"
        "- rule: Opened\n  desc: d\n  condition: evt.type = openat and fd.num >= 0\n"
        "  output: o\n  priority: warning\n"
    )
    cfg = base / "auto.toml"
    cfg.write_text('[filters.rules]\nfiles = ["sym.yaml"]\n')
    r = subprocess.run(
        ["tracehound", "validate", str(cfg)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "can never fire" not in r.stdout
    assert "tracer: profile 'auto': 4 syscalls stop (derived from the rules and sinks)" in r.stdout
    assert "  symlinkat: rule 'Symlink'" in r.stdout
    assert "  execve: the process table follows execs" in r.stdout
    assert "tracer: exit stops (with ptrace): openat" in r.stdout
    # A sink taking events brings the balanced set; print-config says the same.
    cfg.write_text(
        cfg.read_text() + '[sinks.all]\ntype = "file"\npath = "x.jsonl"\ninputs = ["events"]\n'
    )
    r = subprocess.run(["tracehound", "print-config", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "# tracer: profile 'auto'" in r.stdout
    assert "# {}".format('  accept4: a sink takes "events": the balanced set') in r.stdout


def test_cli_validate_accepts_the_default(tmp_path: Path) -> None:
    cfg = tmp_path / "ok.toml"
    cfg.write_text(default_config_text())
    r = subprocess.run(
        ["tracehound", "validate", str(cfg)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr


# An out-of-range or mistyped value: the error names the key, its line and the value.
EXACT: list[tuple[str, str]] = [
    (
        "[filters.sampling.rates]\nopenat = 1.5",
        "filters.sampling.rates.openat|2|Expected `float` <= 1.0, got 1.5",
    ),
    (
        "[filters.sampling]\nrates = { read = -1 }",
        "filters.sampling.rates.read|2|Expected `float` >= 0.0, got -1",
    ),
    (
        "\n[filters.enrich]\nancestor_levels = 99",
        "filters.enrich.ancestor_levels|3|Expected `int` <= 16, got 99",
    ),
    (
        "[filters.rules.rate_limit]\nburst = 0",
        "filters.rules.rate_limit.burst|2|Expected `float` >= 1.0, got 0",
    ),
    ("[tracer]\nprofile = 3", "tracer.profile|2|Expected `str`, got `int` (3)"),
]


@pytest.mark.parametrize(("text", "issue"), EXACT, ids=[e[1].split("|")[0] for e in EXACT])
def test_bad_value_names_key_line_and_value(text: str, issue: str, base: Path) -> None:
    assert _issues(text, base) == [issue]
