"""A real moto server (subprocess), with Lambda invocations recorded for the tests.

Run as: python _moto_server.py PORT RECORD_DIR

moto itself is unchanged except for one bug fix for JSON-array payloads (see below).

The test fixture switches Lambda to run without Docker through moto's documented
/moto-api/config endpoint (moto's simple backend then echoes the payload). Each invoke
body is appended to RECORD_DIR/<function>.jsonl. If RECORD_DIR/fail_<function> holds
a number N > 0, the next N invocations answer with a FunctionError and N is decremented,
as a crashing function would.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend

_lock = threading.Lock()


def main() -> None:
    port, record_dir = int(sys.argv[1]), Path(sys.argv[2])
    original = LambdaSimpleBackend.invoke

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> str | bytes | None:
        name = function_name.rsplit(":", 1)[-1]
        # Like real Lambda (and unlike moto's simple backend): no function, no invocation.
        self.get_function(function_name, qualifier)
        if headers.get("X-Amz-Invocation-Type") == "DryRun":
            return original(self, function_name, qualifier, body, headers, response_headers)
        with _lock:
            fail = record_dir / f"fail_{name}"
            left = int(fail.read_text() or 0) if fail.exists() else 0
            if left > 0:
                fail.write_text(str(left - 1))
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorMessage": "boom", "errorType": "Crash"}).encode()
            with open(record_dir / f"{name}.jsonl", "a") as f:
                f.write((body if isinstance(body, str) else body.decode()) + "\n")
        return original(self, function_name, qualifier, body, headers, response_headers)

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]

    # moto looks for the optional `qualifier` parameter by indexing the request body as a
    # JSON object; an array payload (valid for real Lambda, and what our sink sends) makes
    # that raise TypeError. Treat it as "no such parameter", which is what it means.
    original_get_param = LambdaResponse._get_param

    def get_param(self: LambdaResponse, name: str, if_none: Any = None) -> Any:
        try:
            return original_get_param(self, name, if_none)
        except TypeError:
            return if_none

    LambdaResponse._get_param = get_param  # type: ignore[method-assign,assignment]
    os.environ.setdefault("MOTO_PORT", str(port))
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", str(port)])


if __name__ == "__main__":
    main()
