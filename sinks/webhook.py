"""webhook sink: POST/PUT batches of records to an HTTP(S) endpoint (a SIEM, Splunk HEC...)."""

from __future__ import annotations

import base64
import email.utils
import gzip
import hashlib
import hmac
import os
import ssl
import time
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import anyio
import msgspec

from tracehound.config_checks import Problem, raise_problems
from tracehound.record import Record, encode, encode_array, encode_lines
from tracehound.sinks._common import BaseSink, SinkBase
from tracehound.sinks.errors import FatalError, RetryableError
from tracehound.sinks.ocsf import to_ocsf

if TYPE_CHECKING:  # imported where used: a config without a webhook never loads aiohttp
    import aiohttp

_json = msgspec.json.Encoder()


class AuthConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # bearer: "Authorization: Bearer $token_env"; splunk: "Authorization: Splunk $token_env"
    # (Splunk HEC); basic: user and password from user_env / password_env.
    strategy: Literal["bearer", "basic", "splunk"]
    token_env: str | None = None
    user_env: str | None = None
    password_env: str | None = None

    def __post_init__(self) -> None:
        needs = ("user_env", "password_env") if self.strategy == "basic" else ("token_env",)
        raise_problems(
            [
                (key, f'is required with strategy = "{self.strategy}", got none')
                for key in needs
                if not getattr(self, key)
            ]
        )


class TlsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    verify_certificate: bool = True
    ca_file: str | None = None  # PEM bundle trusted instead of the system store
    crt_file: str | None = None  # client certificate (mutual TLS)
    key_file: str | None = None  # its private key, if not inside crt_file


class SplunkConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """HEC envelope fields, used with encoding = "splunk_hec"."""

    sourcetype: str = "falco"
    source: str = "tracehound"
    index: str | None = None


class WebhookSinkConfig(SinkBase, tag="webhook", kw_only=True):
    url: str
    method: Literal["POST", "PUT"] = "POST"
    # json: one JSON array per request; ndjson: one record per line;
    # splunk_hec: HEC event envelopes, newline-separated (POST to /services/collector/event);
    # falco: one alert object per request, as Falco's http_output (what falcosidekick reads);
    # ocsf: a JSON array of OCSF 1.7 objects (sinks/ocsf.py).
    encoding: Literal["json", "ndjson", "splunk_hec", "falco", "ocsf"] = "json"
    # encoding = "falco": requests in flight at once, so one-alert requests keep up.
    max_parallel_requests: int = 16
    compression: Literal["none", "gzip"] = "none"
    headers: dict[str, str] = {}
    auth: AuthConfig | None = None
    # HMAC-SHA256 over "<timestamp>." + body, sent as `hmac_header: sha256=<hex>` with the
    # timestamp in X-Tracehound-Timestamp; the key comes from this environment variable.
    hmac_secret_env: str | None = None
    hmac_header: str = "X-Tracehound-Signature"
    tls: TlsConfig = msgspec.field(default_factory=TlsConfig)
    splunk: SplunkConfig = msgspec.field(default_factory=SplunkConfig)

    def problems(self) -> list[Problem | None]:
        out: list[Problem | None] = []
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            out.append(("url", f"must be an http:// or https:// URL, got {self.url!r}"))
        if self.tls.key_file and not self.tls.crt_file:
            out.append(("tls.key_file", f"needs tls.crt_file as well, got {self.tls.key_file!r}"))
        if not 1 <= self.max_parallel_requests <= 256:
            out.append(
                (
                    "max_parallel_requests",
                    f"must be between 1 and 256, got {self.max_parallel_requests}",
                )
            )
        if self.encoding == "falco" and "events" in self.inputs:
            out.append(
                (
                    "inputs",
                    'encoding = "falco" sends Falco alerts; a Falco receiver rejects plain '
                    'events: use inputs = ["alerts"]',
                )
            )
        return out


def env_names(cfg: WebhookSinkConfig) -> list[tuple[tuple[str, ...], str]]:
    """(key path, variable name) of every secret this sink reads from the environment."""
    out: list[tuple[tuple[str, ...], str]] = []
    if cfg.auth:
        for key in ("token_env", "user_env", "password_env"):
            var = getattr(cfg.auth, key)
            if var:
                out.append((("auth", key), var))
    if cfg.hmac_secret_env:
        out.append((("hmac_secret_env",), cfg.hmac_secret_env))
    return out


def tls_files(cfg: WebhookSinkConfig) -> list[tuple[tuple[str, ...], str]]:
    return [
        (("tls", key), path)
        for key in ("ca_file", "crt_file", "key_file")
        if (path := getattr(cfg.tls, key))
    ]


_CONTENT_TYPES = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "splunk_hec": "application/json",
    "falco": "application/json",
    "ocsf": "application/json",
}


def encode_body(cfg: WebhookSinkConfig, records: list[Record]) -> bytes:
    if cfg.encoding == "falco":
        assert len(records) == 1, "falco encoding: one alert per request"
        return encode(records[0])
    if cfg.encoding == "json":
        return encode_array(records)
    if cfg.encoding == "ocsf":
        return _json.encode([to_ocsf(r) for r in records])
    if cfg.encoding == "ndjson":
        return encode_lines(records)
    hec = cfg.splunk
    envelopes = []
    for rec in records:
        env = {
            "time": round(rec.ts_ns / 1e9, 6),
            "host": rec.get("hostname", ""),
            "source": hec.source,
            "sourcetype": hec.sourcetype,
            "event": msgspec.Raw(rec.data),  # the record's JSON, not encoded again
        }
        if hec.index:
            env["index"] = hec.index
        envelopes.append(env)
    return b"\n".join([_json.encode(e) for e in envelopes]) + b"\n"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature a receiver recomputes: hex HMAC-SHA256 of b"<timestamp>." + body."""
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def retry_after_secs(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _retryable_status(status: int) -> bool:
    return status in (408, 429) or (500 <= status < 600 and status != 501)


class WebhookSink(BaseSink):
    def __init__(self, name: str, cfg: WebhookSinkConfig) -> None:
        super().__init__(name)
        self.cfg = cfg
        self._session: aiohttp.ClientSession | None = None
        self._headers: dict[str, str] = {}
        self._hmac_key: bytes | None = None
        # encoding = "falco": records of the current chunk already delivered, so a retry of
        # the chunk (after some of its requests failed) does not send them twice.
        self._chunk: list[Record] | None = None
        self._delivered: set[int] = set()

    def _secret(self, var: str) -> str:
        value = os.environ.get(var)
        if value is None:
            raise FatalError(f"environment variable {var} is not set")
        return value

    def _ssl(self) -> ssl.SSLContext | bool:
        tls = self.cfg.tls
        if not self.cfg.url.startswith("https:"):
            return True  # aiohttp's default; unused for http://
        ctx = ssl.create_default_context(cafile=tls.ca_file)
        if not tls.verify_certificate:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if tls.crt_file:
            ctx.load_cert_chain(tls.crt_file, tls.key_file)
        return ctx

    async def open(self) -> None:
        import aiohttp

        cfg = self.cfg
        headers = {"Content-Type": _CONTENT_TYPES[cfg.encoding], "User-Agent": "tracehound"}
        if cfg.compression == "gzip":
            headers["Content-Encoding"] = "gzip"
        if cfg.auth:
            a = cfg.auth
            if a.strategy == "basic":
                assert a.user_env and a.password_env
                pair = f"{self._secret(a.user_env)}:{self._secret(a.password_env)}"
                headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            else:
                assert a.token_env
                scheme = "Bearer" if a.strategy == "bearer" else "Splunk"
                headers["Authorization"] = f"{scheme} {self._secret(a.token_env)}"
        headers.update(cfg.headers)
        self._headers = headers
        if cfg.hmac_secret_env:
            self._hmac_key = self._secret(cfg.hmac_secret_env).encode()
        limit = max(4, cfg.max_parallel_requests) if cfg.encoding == "falco" else 4
        connector = aiohttp.TCPConnector(ssl=self._ssl(), limit=limit)
        # One session per sink, for its whole life: connections are reused across batches.
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=cfg.request.timeout_secs),
            auto_decompress=True,
        )

    async def healthcheck(self) -> None:
        """Reachable, TLS accepted, credentials not refused. Any other answer (405...) is fine."""
        import aiohttp

        assert self._session is not None
        try:
            async with self._session.head(self.cfg.url, headers=self._headers) as resp:
                if resp.status in (401, 403) or resp.status >= 500:
                    raise RuntimeError(f"HEAD {self.cfg.url} answered {resp.status}")
        except aiohttp.ClientError as exc:
            raise RuntimeError(f"{self.cfg.url}: {exc}") from exc

    async def send(self, records: list[Record]) -> int:
        """Deliver a chunk; returns how many records the destination refused for good."""
        if self.cfg.encoding == "falco":
            return await self._send_each(records)
        await self._request(records)
        return 0

    async def _send_each(self, records: list[Record]) -> int:
        """One request per alert, at most max_parallel_requests at a time."""
        if records is not self._chunk:
            self._chunk, self._delivered = records, set()
        todo = [i for i in range(len(records)) if i not in self._delivered]
        gate = anyio.Semaphore(self.cfg.max_parallel_requests)
        rejected: list[str] = []
        retry: list[RetryableError] = []

        async def one(i: int) -> None:
            async with gate:
                try:
                    await self._request([records[i]])
                except FatalError as exc:
                    rejected.append(str(exc))
                except RetryableError as exc:
                    retry.append(exc)
                    return
                self._delivered.add(i)  # refused for good also counts as done

        async with anyio.create_task_group() as tg:
            for i in todo:
                tg.start_soon(one, i)
        if retry:
            waits = [e.retry_after for e in retry if e.retry_after is not None]
            raise RetryableError(
                f"{len(retry)} of {len(todo)} requests failed: {retry[0]}",
                retry_after=max(waits) if waits else None,
            )
        self._chunk, self._delivered = None, set()
        if rejected:
            self.count("rejected_requests", len(rejected))
        return len(rejected)

    async def _request(self, records: list[Record]) -> None:
        import aiohttp

        assert self._session is not None
        body = encode_body(self.cfg, records)
        if self.cfg.compression == "gzip":
            body = gzip.compress(body, compresslevel=5)
        headers = self._headers
        if self._hmac_key is not None:
            ts = str(int(time.time()))
            headers = {
                **headers,
                "X-Tracehound-Timestamp": ts,
                self.cfg.hmac_header: "sha256=" + sign(self._hmac_key, ts, body),
            }
        try:
            async with self._session.request(
                self.cfg.method, self.cfg.url, data=body, headers=headers
            ) as resp:
                if 200 <= resp.status < 300:
                    await resp.read()
                    return
                detail = (await resp.text(errors="replace"))[:200]
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except (aiohttp.ClientError, OSError) as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
        msg = f"HTTP {status}: {detail}".strip()
        if _retryable_status(status):
            raise RetryableError(msg, retry_after=retry_after_secs(retry_after))
        raise FatalError(msg)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
