"""lambda sink against a real moto server (Lambda without Docker), through aiobotocore."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sinkhelp import FAST_REQUEST, Moto, create_function, make_event, route_all, seqs, sink_cfg

from tracehound.agent.router import Router
from tracehound.record import event_record
from tracehound.sinks import check_sinks_health
from tracehound.sinks.aws_lambda import PAYLOAD_LIMITS, LambdaSink


def lambda_cfg(moto: Moto, function: str, **extra: Any) -> Any:
    raw = {
        "type": "lambda",
        "function_name": function,
        "endpoint_url": moto.url,
        "inputs": ["events"],
        "batch": {"max_events": 100, "max_bytes": 20_000_000, "timeout_secs": 0.05},
        "request": FAST_REQUEST,
        **extra,
    }
    return sink_cfg(**raw)


async def deliver(cfg: Any, events: list[Any]) -> Router:
    router = Router.from_config({"fn": cfg})
    await router.start()
    await router.route(events, [])
    await router.stop(60)
    return router


@pytest.mark.parametrize("invocation_type", ["Event", "RequestResponse"])
async def test_batches_are_json_arrays(aws_env: Moto, invocation_type: str) -> None:
    fn = await create_function(aws_env)
    router = Router.from_config({"fn": lambda_cfg(aws_env, fn, invocation_type=invocation_type)})
    await router.start()
    await route_all(router, 250, chunk=50)
    await router.stop(30)
    payloads = aws_env.lambda_payloads(fn)
    assert all(isinstance(p, list) for p in payloads)
    assert seqs([r for p in payloads for r in p]) == list(range(250))
    st = router.stats()["fn"]
    assert st["sent_records"] == 250 and st["dropped_total"] == 0
    assert st["sent_batches"] == len(payloads) >= 3


async def test_split_to_payload_limits(aws_env: Moto) -> None:
    fn = await create_function(aws_env)
    events = [make_event(i, blob="x" * 400_000) for i in range(5)]
    await deliver(lambda_cfg(aws_env, fn), events)  # Event: 1 MB -> two 400 KB records a call
    await deliver(lambda_cfg(aws_env, fn, invocation_type="RequestResponse"), events)  # 6 MB
    payloads = aws_env.lambda_payloads(fn)
    assert [len(p) for p in payloads] == [2, 2, 1, 5]
    assert seqs([r for p in payloads for r in p]) == [0, 1, 2, 3, 4] * 2
    sink = LambdaSink("fn", lambda_cfg(aws_env, fn))
    for chunk in sink.split([event_record(e) for e in events]):
        assert len(json.dumps(chunk, separators=(",", ":")).encode()) <= PAYLOAD_LIMITS["Event"]


async def test_record_too_large_for_any_payload_is_counted(aws_env: Moto) -> None:
    fn = await create_function(aws_env)
    events = [make_event(0), make_event(1, blob="x" * 1_100_000), make_event(2)]
    router = await deliver(lambda_cfg(aws_env, fn), events)
    assert seqs([r for p in aws_env.lambda_payloads(fn) for r in p]) == [0, 2]
    st = router.stats()["fn"]
    assert st["dropped"] == {"too_large": 1} and st["sent_records"] == 2


async def test_function_error_is_counted_and_retried(aws_env: Moto) -> None:
    fn = await create_function(aws_env)
    aws_env.fail_lambda(fn, 2)
    cfg = lambda_cfg(aws_env, fn, invocation_type="RequestResponse")
    router = await deliver(cfg, [make_event(i) for i in range(10)])
    assert seqs([r for p in aws_env.lambda_payloads(fn) for r in p]) == list(range(10))
    st = router.stats()["fn"]
    assert st["function_errors"] == 2 and st["retries"] == 2 and st["dropped_total"] == 0
    assert "FunctionError" in st["last_error"]


async def test_function_error_beyond_retries_is_dropped(aws_env: Moto) -> None:
    fn = await create_function(aws_env)
    aws_env.fail_lambda(fn, 100)
    cfg = lambda_cfg(
        aws_env,
        fn,
        invocation_type="RequestResponse",
        request={**FAST_REQUEST, "retry_attempts": 1},
    )
    router = await deliver(cfg, [make_event(i) for i in range(4)])
    aws_env.fail_lambda(fn, 0)
    st = router.stats()["fn"]
    assert st["dropped"] == {"retries_exhausted": 4} and st["function_errors"] == 2


async def test_missing_function(aws_env: Moto) -> None:
    cfg = lambda_cfg(aws_env, "does-not-exist")
    [(name, err)] = await check_sinks_health({"fn": cfg})
    assert name == "fn" and err is not None
    router = await deliver(cfg, [make_event(1)])
    st = router.stats()["fn"]
    assert st["dropped"] == {"rejected": 1}  # 404 ResourceNotFoundException is final


async def test_healthcheck_ok(aws_env: Moto) -> None:
    fn = await create_function(aws_env)
    assert await check_sinks_health({"fn": lambda_cfg(aws_env, fn)}) == [("fn", None)]
