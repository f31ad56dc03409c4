"""A container registry on loopback that answers as Docker Hub, GHCR and ECR do.

OCI distribution API (GET /v2/NAME/manifests/REF, GET /v2/NAME/blobs/DIGEST) with
content negotiation by Accept, digests in Docker-Content-Digest, a multi-platform
index in front of per-architecture image manifests, and auth:

- bearer: a 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`;
  tokens come from /token for that scope (anonymous);
- basic: ECR's scheme, `Authorization: Basic base64(AWS:password)` with the token
  GetAuthorizationToken returned.

Blobs are redirected (307) to a "blob store" on another host name (localhost instead
of 127.0.0.1) that, like S3 with a presigned URL, refuses any Authorization header.
The server runs in a thread with its own event loop, so synchronous code (the CLI,
the macro) can be tested against it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG = "application/vnd.oci.image.config.v1+json"


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass
class Registry:
    auth: str = "bearer"  # or "basic"
    basic_token: str = ""  # the base64 part of "Basic ..." it accepts
    port: int = 0
    manifests: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> scope
    log: list[str] = field(default_factory=list)  # "METHOD path auth-scheme"

    def add_image(
        self,
        name: str,
        tag: str,
        per_arch: dict[str, dict[str, Any]],
        *,
        docker_types: bool = False,
    ) -> None:
        """An index under `tag`, one image manifest and config per architecture
        (a single-architecture image without an index when docker_types)."""
        entries = []
        for arch, config in per_arch.items():
            blob = json.dumps(
                {"architecture": arch, "os": "linux", "config": config, "rootfs": {}}
            ).encode()
            self.blobs[_digest(blob)] = blob
            media = DOCKER_MANIFEST if docker_types else MANIFEST
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": media,
                    "config": {"mediaType": CONFIG, "digest": _digest(blob), "size": len(blob)},
                    "layers": [],
                }
            ).encode()
            self.manifests[(name, _digest(manifest))] = (media, manifest)
            entries.append(
                {
                    "mediaType": media,
                    "digest": _digest(manifest),
                    "size": len(manifest),
                    "platform": {"os": "linux", "architecture": arch},
                }
            )
            if docker_types:
                self.manifests[(name, tag)] = (media, manifest)
        if not docker_types:
            index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries})
            self.manifests[(name, tag)] = (INDEX, index.encode())

    # --- the HTTP side ---------------------------------------------------------

    def _challenge(self, name: str) -> web.Response:
        if self.auth == "basic":
            header = 'Basic realm="ecr"'
        else:
            header = (
                f'Bearer realm="http://127.0.0.1:{self.port}/token",'
                f'service="loopback-registry",scope="repository:{name}:pull"'
            )
        return web.json_response(
            {"errors": [{"code": "UNAUTHORIZED"}]}, status=401, headers={"WWW-Authenticate": header}
        )

    def _authorized(self, request: web.Request, name: str) -> bool:
        got = request.headers.get("Authorization", "")
        scheme, _, cred = got.partition(" ")
        self.log.append(f"{request.method} {request.path} {scheme or '-'}")
        if self.auth == "basic":
            return scheme == "Basic" and cred == self.basic_token
        return scheme == "Bearer" and self.tokens.get(cred) == f"repository:{name}:pull"

    async def token(self, request: web.Request) -> web.Response:
        self.log.append(f"GET /token {request.query_string}")
        if request.query.get("service") != "loopback-registry":
            return web.json_response({"details": "unknown service"}, status=400)
        tok = secrets.token_hex(16)
        self.tokens[tok] = request.query.get("scope", "")
        return web.json_response({"token": tok, "expires_in": 300})

    async def manifest(self, request: web.Request) -> web.Response:
        name, ref = request.match_info["name"], request.match_info["ref"]
        if not self._authorized(request, name):
            return self._challenge(name)
        found = self.manifests.get((name, ref))
        if found is None:
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN"}]}, status=404)
        media, body = found
        if media not in request.headers.get("Accept", ""):
            # Registries fall back to a schema 1 manifest here; the client must ask right.
            return web.json_response({"errors": [{"code": "MANIFEST_INVALID"}]}, status=406)
        return web.Response(
            body=body, headers={"Content-Type": media, "Docker-Content-Digest": _digest(body)}
        )

    async def blob(self, request: web.Request) -> web.Response:
        name, digest = request.match_info["name"], request.match_info["digest"]
        if not self._authorized(request, name):
            return self._challenge(name)
        if digest not in self.blobs:
            return web.json_response({"errors": [{"code": "BLOB_UNKNOWN"}]}, status=404)
        where = f"http://localhost:{self.port}/store/{digest}?sig={secrets.token_hex(8)}"
        raise web.HTTPTemporaryRedirect(where)

    async def store(self, request: web.Request) -> web.Response:
        self.log.append(f"GET /store {request.headers.get('Authorization', '-')[:6]}")
        if request.host.split(":")[0] != "localhost" or "sig" not in request.query:
            return web.Response(status=403, text="not a presigned URL")
        if "Authorization" in request.headers:
            return web.Response(status=400, text="Only one auth mechanism allowed")
        return web.Response(body=self.blobs[request.match_info["digest"]])

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/token", self.token)
        app.router.add_get(r"/v2/{name:.+}/manifests/{ref}", self.manifest)
        app.router.add_get(r"/v2/{name:.+}/blobs/{digest}", self.blob)
        app.router.add_get("/store/{digest}", self.store)
        return app


@contextmanager
def serving_app(app: web.Application) -> Iterator[int]:
    """Run an aiohttp app on 127.0.0.1 in a thread with its own loop; yields the port."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(app)
    port: list[int] = []

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    def run() -> None:
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield port[0]
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@contextmanager
def serving(reg: Registry) -> Iterator[Registry]:
    """Run `reg` on 127.0.0.1 (and localhost, for the blob store) in a thread."""
    with serving_app(reg.app()) as port:
        reg.port = port
        yield reg
