"""The periodic loop behind baseline saves and ECS refreshes."""

from __future__ import annotations

import anyio
import pytest

from tracehound.periodic import Periodic


async def test_a_failing_job_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("boom")

    loop = Periodic(0.01, broken)
    async with anyio.create_task_group() as tg:
        loop.start(tg)
        with anyio.fail_after(10):
            while calls < 3:
                await anyio.sleep(0.01)
        await loop.stop()
    assert "periodic broken failed" in caplog.text and "boom" in caplog.text
