"""Config errors name the exact key, the line that sets it and the bad value."""

from __future__ import annotations

import pytest

from tracehound.agent.config import ConfigError, parse_config

CASES = [
    (
        '[sinks.x]\ntype = "file"\npath = "/tmp/x"\n\n\n\n\nbatch.max_events = -5\n',
        "sinks.x.batch.max_events (line 8): must be a positive integer, got -5",
    ),
    (
        '[sinks.x]\ntype = "file"\npath = "/tmp/x"\n[sinks.x.batch]\nmax_bytes = 0\n',
        "sinks.x.batch.max_bytes (line 5): must be a positive integer, got 0",
    ),
    (
        '[sinks.x]\ntype = "file"\npath = "/tmp/x"\nbatch.timeout_secs = -1.5\n',
        "sinks.x.batch.timeout_secs (line 4): must be a positive number, got -1.5",
    ),
    (
        '[sinks.x]\ntype = "file"\npath = "/tmp/x"\nbuffer.max_events = 0\n',
        "sinks.x.buffer.max_events (line 4): must be a positive integer, got 0",
    ),
    (
        '[sinks.x]\ntype = "file"\npath = "/tmp/x"\nrequest.retry_attempts = -1\n',
        "sinks.x.request.retry_attempts (line 4): must be >= 0, got -1",
    ),
    (
        '[sinks.x]\ntype = "file"\npath = "/tmp/x"\nrequest.timeout_secs = 0\n',
        "sinks.x.request.timeout_secs (line 4): must be a positive number, got 0.0",
    ),
    (
        '[sinks.hook]\ntype = "webhook"\ninputs = ["alerts"]\n\nurl = "ftp://siem"\n',
        "sinks.hook.url (line 5): must be an http:// or https:// URL, got 'ftp://siem'",
    ),
    (
        '[sinks.hook]\ntype = "webhook"\nurl = "https://siem"\nauth.strategy = "bearer"\n',
        'sinks.hook.auth.token_env (line 4): is required with strategy = "bearer", got none',
    ),
    (
        '[sinks.x]\ntype = "file"\npath = ""\n',
        "sinks.x.path (line 3): must not be empty, got ''",
    ),
    (
        '[sinks.cw]\ntype = "cloudwatch_logs"\ngroup_name = "g"\nmax_event_bytes = 10\n',
        "sinks.cw.max_event_bytes (line 4): must be within 256..1048550, got 10",
    ),
    ("[tracer]\nargv_max = 0\n", "tracer.argv_max (line 2): must be a positive integer, got 0"),
    (
        "[tracer]\nprofile = 'balanced'\narg_max_bytes = 8\n",
        "tracer.arg_max_bytes (line 3): must be an integer >= 16, got 8",
    ),
    (
        "[tracer]\nbatch_max_events = -1\n",
        "tracer.batch_max_events (line 2): must be a positive integer, got -1",
    ),
    (
        "[tracer]\nqueue.max_events = 0\n",
        "tracer.queue.max_events (line 2): must be a positive integer, got 0",
    ),
    (
        "[agent]\nshutdown_timeout_secs = 0\n",
        "agent.shutdown_timeout_secs (line 2): must be a positive number, got 0.0",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_error_names_key_line_and_value(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    assert [str(i) for i in info.value.issues] == [expected]


def test_every_problem_of_one_table_is_reported() -> None:
    text = "[tracer]\nargv_max = 0\narg_max_bytes = 1\nbatch_max_events = 0\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    assert [i.path for i in info.value.issues] == [
        "tracer.argv_max",
        "tracer.arg_max_bytes",
        "tracer.batch_max_events",
    ]
