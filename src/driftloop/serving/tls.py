"""HTTPS for ``driftloop serve``: the ``serving.tls_*`` settings checked, as uvicorn's options.

Checked before any worker starts: both halves of the pair set, each file readable, the key the
certificate's, the CA bundle loadable; a problem is one sentence naming the setting.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from driftloop.config import ServingSettings
from driftloop.errors import ConfigError


def tls_options(cfg: ServingSettings) -> dict[str, Any]:
    """uvicorn's ``ssl_*`` keyword arguments for these settings; empty when TLS is off."""
    cert, key, ca = cfg.tls_certfile, cfg.tls_keyfile, cfg.tls_ca_certs
    if cert is None and key is None:
        if ca is not None:
            raise ConfigError("serving.tls_ca_certs is set but TLS is off: set tls_certfile too")
        return {}
    if cert is None or key is None:
        unset = "tls_certfile" if cert is None else "tls_keyfile"
        raise ConfigError(f"serving.{unset} is unset: TLS needs tls_certfile and tls_keyfile")
    for name, path in (("tls_certfile", cert), ("tls_keyfile", key), ("tls_ca_certs", ca)):
        if path is not None:
            _readable(name, path)
    password = cfg.tls_keyfile_password.get_secret_value() if cfg.tls_keyfile_password else None
    _check_pair(cert, key, password)
    options: dict[str, Any] = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    if password is not None:
        options["ssl_keyfile_password"] = password
    if ca is not None:
        _check_ca(ca)
        options.update(ssl_ca_certs=str(ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
    return options


def _readable(name: str, path: Path) -> None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ConfigError(f"serving.{name} {path} cannot be read: {exc.strerror}") from None


def _check_pair(cert: Path, key: Path, password: str | None) -> None:
    def give_password() -> str:
        if password is None:  # never OpenSSL's prompt on the terminal
            raise ConfigError(f"serving.tls_keyfile {key} is encrypted: set tls_keyfile_password")
        return password

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key, give_password)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            message = f"serving.tls_keyfile {key} is not the private key of tls_certfile {cert}"
        else:
            message = (
                f"serving.tls_certfile {cert} and serving.tls_keyfile {key} are not a PEM "
                f"certificate and its private key ({exc.reason or exc})"
            )
        raise ConfigError(message) from None


def _check_ca(ca: Path) -> None:
    try:
        ssl.create_default_context(cafile=str(ca))
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        raise ConfigError(f"serving.tls_ca_certs {ca} is not a PEM CA bundle ({reason})") from None
