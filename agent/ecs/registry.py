"""An image's entrypoint and command, read from its registry (OCI distribution API).

Most task definitions leave `entryPoint` and `command` to the image. To wrap such a
container, `ecs instrument` reads them as the container runtime would:

    GET /v2/NAME/manifests/REF    an index (manifest list) -> the platform's manifest
    GET /v2/NAME/manifests/DIGEST the image manifest -> its config descriptor
    GET /v2/NAME/blobs/DIGEST     the config: config.Entrypoint, config.Cmd

Authentication as registries ask for it: a 401 with `WWW-Authenticate: Bearer
realm=...,service=...,scope=...` is answered with a token fetched from the realm
(anonymous for public images), `Basic` with credentials. ECR images
(ACCOUNT.dkr.ecr.REGION.amazonaws.com) use ECR's GetAuthorizationToken (botocore,
the caller's AWS credentials). Only the standard library and botocore: the
CloudFormation macro runs this in Lambda.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DOCKER_HUB = "registry-1.docker.io"
TIMEOUT_S = 15.0
MAX_REDIRECTS = 5
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_ACCEPT = ", ".join(_INDEX_TYPES + _MANIFEST_TYPES)
_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
# ECS's cpuArchitecture -> the OCI platform architecture
ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}


class RegistryError(Exception):
    """The image's config could not be read (names the image and the reason)."""


@dataclass(frozen=True)
class Reference:
    registry: str  # host[:port]
    repository: str
    reference: str  # tag or digest

    def __str__(self) -> str:
        sep = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.registry}/{self.repository}{sep}{self.reference}"


@dataclass(frozen=True)
class ImageDefaults:
    """What the runtime runs when the task definition does not say."""

    entrypoint: list[str]
    cmd: list[str]
    digest: str  # of the image manifest read


def parse_reference(image: str) -> Reference:
    """`nginx`, `nginx:1.27`, `ghcr.io/o/r@sha256:...`, `host:5000/r:t`, as Docker reads them."""
    if not image or image != image.strip() or any(c.isspace() for c in image):
        raise RegistryError(f"image {image!r}: not an image reference")
    rest, digest = image.split("@", 1) if "@" in image else (image, "")
    first, slash, tail = rest.partition("/")
    # The first part is a registry host only when it looks like one (Docker's rule).
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, tail
    else:
        registry, path = DOCKER_HUB, rest
    name, _, tag = path.partition(":")
    if registry == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    if not name or not re.fullmatch(r"[a-z0-9]+(?:[._/-]+[a-z0-9]+)*", name):
        raise RegistryError(f"image {image!r}: repository name {name!r} is not valid")
    if digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise RegistryError(f"image {image!r}: digest {digest!r} is not sha256:<64 hex>")
    return Reference(registry, name, digest or tag or "latest")


def _base_url(registry: str) -> str:
    # Loopback registries speak plain HTTP, as Docker allows for 127.0.0.0/8.
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    plain = host in ("localhost", "127.0.0.1", "[::1]")
    return f"{'http' if plain else 'https'}://{registry}"


def ecr_basic_auth(registry: str) -> str | None:
    """`Basic ...` from ECR's GetAuthorizationToken when `registry` is an ECR host."""
    m = _ECR_HOST.match(registry)
    if not m:
        return None
    account, region = m.groups()
    try:
        import botocore.session
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:  # pragma: no cover - botocore comes with aiobotocore
        raise RegistryError(f"{registry}: ECR needs botocore ({exc})") from None
    try:
        client = botocore.session.get_session().create_client("ecr", region_name=region)
        data = client.get_authorization_token(registryIds=[account])["authorizationData"]
    except (BotoCoreError, ClientError) as exc:
        raise RegistryError(f"{registry}: ecr:GetAuthorizationToken failed: {exc}") from None
    return f"Basic {data[0]['authorizationToken']}"


@dataclass
class _Response:
    status: int
    headers: Any  # http.client.HTTPMessage: get() is case-insensitive
    body: bytes


class Client:
    """One registry, one repository: requests with the auth the registry asked for."""

    def __init__(self, ref: Reference, base_url: str | None = None, basic: str | None = None):
        self.ref = ref
        self.base = (base_url or _base_url(ref.registry)).rstrip("/")
        self.basic = basic  # "Basic ..." credentials, sent where the registry asks
        self.auth = basic  # what goes with each request to the registry

    def get(self, path: str, accept: str | None = None) -> _Response:
        url = f"{self.base}/v2/{self.ref.repository}/{path}"
        resp = self._send(url, accept, self.auth)
        if resp.status == 401:
            self.auth = self._answer(resp.headers.get("WWW-Authenticate", ""), url)
            resp = self._send(url, accept, self.auth)
        if resp.status != 200:
            raise RegistryError(f"{url}: HTTP {resp.status} {_short(resp.body)}")
        return resp

    def _send(self, url: str, accept: str | None, auth: str | None) -> _Response:
        """GET, following redirects by hand: blob stores (S3, a CDN) get no
        registry credentials, which they would refuse or should not see."""
        origin = urllib.parse.urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            req = urllib.request.Request(url, method="GET")
            if accept:
                req.add_header("Accept", accept)
            if auth and urllib.parse.urlsplit(url).netloc == origin:
                req.add_header("Authorization", auth)
            try:
                with _OPENER.open(req, timeout=TIMEOUT_S) as r:
                    return _Response(r.status, r.headers, r.read())
            except urllib.error.HTTPError as exc:
                if exc.code in (301, 302, 303, 307, 308) and exc.headers.get("Location"):
                    url = urllib.parse.urljoin(url, exc.headers["Location"])
                    continue
                return _Response(exc.code, exc.headers, exc.read())
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise RegistryError(f"{url}: {reason}") from None
        raise RegistryError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _answer(self, challenge: str, url: str) -> str:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not self.basic:
                raise RegistryError(f"{url}: the registry wants credentials (Basic)")
            return self.basic
        if scheme.lower() != "bearer":
            raise RegistryError(f"{url}: HTTP 401 without a usable challenge ({challenge!r})")
        p = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if "realm" not in p:
            raise RegistryError(f"{url}: Bearer challenge without a realm ({challenge!r})")
        query = {k: p[k] for k in ("service", "scope") if k in p}
        query.setdefault("scope", f"repository:{self.ref.repository}:pull")
        token_url = p["realm"] + ("&" if "?" in p["realm"] else "?") + urllib.parse.urlencode(query)
        resp = self._send(token_url, None, None) if not self.basic else self._token(token_url)
        if resp.status != 200:
            raise RegistryError(
                f"{token_url}: HTTP {resp.status} {_short(resp.body)} (a private image: "
                "pass --entrypoint/--command)"
            )
        try:
            doc = json.loads(resp.body)
            token = doc.get("token") or doc["access_token"]
        except (ValueError, KeyError, AttributeError):
            raise RegistryError(f"{token_url}: no token in {_short(resp.body)}") from None
        return f"Bearer {token}"

    def _token(self, token_url: str) -> _Response:
        # The token endpoint is another host: send the credentials there explicitly.
        req = urllib.request.Request(token_url, headers={"Authorization": str(self.basic)})
        try:
            with _OPENER.open(req, timeout=TIMEOUT_S) as r:
                return _Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as exc:
            return _Response(exc.code, exc.headers, exc.read())
        except (urllib.error.URLError, OSError) as exc:
            raise RegistryError(f"{token_url}: {getattr(exc, 'reason', exc)}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # Client._send follows them itself


_OPENER = urllib.request.build_opener(_NoRedirect)


def _short(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace").strip()
    return repr(text) if text else ""


def _json(resp: _Response, what: str, url_hint: str) -> dict[str, Any]:
    try:
        doc = json.loads(resp.body)
    except ValueError:
        raise RegistryError(f"{url_hint}: the {what} is not JSON") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{url_hint}: the {what} is not a JSON object")
    return doc


def _check_digest(body: bytes, digest: str, what: str) -> None:
    algo, _, want = digest.partition(":")
    if algo != "sha256":
        return
    got = hashlib.sha256(body).hexdigest()
    if got != want:
        raise RegistryError(f"{what}: content is sha256:{got}, not {digest} as announced")


def _pick_platform(index: dict[str, Any], arch: str, image: str) -> str:
    found = []
    for m in index.get("manifests") or []:
        plat = m.get("platform") or {}
        found.append(f"{plat.get('os')}/{plat.get('architecture')}")
        if plat.get("os") == "linux" and plat.get("architecture") == arch:
            return str(m["digest"])
    raise RegistryError(f"image {image}: no linux/{arch} image (it has {', '.join(found)})")


def _strings(value: Any, key: str, image: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise RegistryError(f"image {image}: config.{key} is not a list of strings")
    return list(value)


def image_defaults(
    image: str,
    architecture: str = "amd64",
    *,
    base_url: str | None = None,
    basic: str | None = None,
) -> ImageDefaults:
    """The image's Entrypoint and Cmd for linux/`architecture`. `base_url` reaches the
    registry elsewhere (a mirror); `basic` overrides the credentials (ECR's by default)."""
    ref = parse_reference(image)
    auth = basic if basic is not None else ecr_basic_auth(ref.registry)
    client = Client(ref, base_url, auth)
    resp = client.get(f"manifests/{ref.reference}", _ACCEPT)
    doc = _json(resp, "manifest", str(ref))
    media = doc.get("mediaType") or resp.headers.get("Content-Type", "").split(";")[0]
    if ref.reference.startswith("sha256:"):
        _check_digest(resp.body, ref.reference, str(ref))
    if media in _INDEX_TYPES or "manifests" in doc:
        digest = _pick_platform(doc, architecture, str(ref))
        resp = client.get(f"manifests/{digest}", _ACCEPT)
        _check_digest(resp.body, digest, f"{ref} manifest {digest}")
        doc = _json(resp, "manifest", f"{ref} manifest {digest}")
    else:
        digest = resp.headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(resp.body).hexdigest()
        )
    config = doc.get("config") or {}
    if not isinstance(config, dict) or "digest" not in config:
        raise RegistryError(f"image {ref}: the manifest names no config (schema 1 is not read)")
    blob = client.get(f"blobs/{config['digest']}")
    _check_digest(blob.body, config["digest"], f"{ref} config")
    cfg = (_json(blob, "config", f"{ref} config").get("config")) or {}
    return ImageDefaults(
        _strings(cfg.get("Entrypoint"), "Entrypoint", str(ref)),
        _strings(cfg.get("Cmd"), "Cmd", str(ref)),
        digest,
    )


Resolver = Callable[[str, str], ImageDefaults]  # (image, architecture) -> defaults


def cached(resolve: Resolver) -> Resolver:
    """One registry round per image and architecture, whatever the container count."""
    seen: dict[tuple[str, str], ImageDefaults] = {}

    def get(image: str, architecture: str) -> ImageDefaults:
        key = (image, architecture)
        if key not in seen:
            seen[key] = resolve(image, architecture)
        return seen[key]

    return get
