"""PyInstaller runtime hook: give HTTPS a CA bundle in images that ship none.

The bundle's OpenSSL looks for the system store where the build machine had it.
Application images without one (slim, distroless, scratch-like) would make the
webhook sink fail TLS; there we fall back to the CA bundle botocore ships (the
one the AWS sinks use anyway). An explicit SSL_CERT_FILE/SSL_CERT_DIR wins.
"""

import os
import ssl
import sys

_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Amazon Linux, RHEL, Fedora
    "/etc/ssl/cert.pem",  # Alpine, macOS-style
)


def _has_system_store() -> bool:
    paths = ssl.get_default_verify_paths()
    candidates = (paths.cafile, paths.openssl_cafile, *_SYSTEM_BUNDLES)
    return any(p and os.path.isfile(p) for p in candidates)


_explicit = os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")
if not _explicit and not _has_system_store():
    _bundled = os.path.join(getattr(sys, "_MEIPASS", ""), "botocore", "cacert.pem")
    if os.path.isfile(_bundled):
        os.environ["SSL_CERT_FILE"] = _bundled
