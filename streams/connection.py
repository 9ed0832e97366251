"""Kafka TLS and SASL from the settings, for every client socialpulse makes.

``SOCIALPULSE_KAFKA_SECURITY_PROTOCOL`` and its companions (``streams.settings``'s
``KafkaSettings``, which every process's settings extend) become :func:`client_options`
for the plain aiokafka clients (the SDK producer, ``ensure_topics``, the worker's reader
and state log) and, in the worker, ``agents.app.broker_credentials`` for the Faust app.
Both are built from the same :func:`ssl_context`, so the worker and the producers trust
the same CAs. The SASL password is a ``SecretStr`` in the settings; it is unwrapped only
here, at the moment a client needs it, and :class:`ClientOptions` masks it in its repr.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Final, Protocol

from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr


class Security(Protocol):
    """The settings :func:`client_options` reads (``streams.settings.KafkaSettings``)."""

    @property
    def kafka_security_protocol(self) -> str: ...
    @property
    def kafka_ssl_cafile(self) -> Path | None: ...
    @property
    def kafka_ssl_certfile(self) -> Path | None: ...
    @property
    def kafka_ssl_keyfile(self) -> Path | None: ...
    @property
    def kafka_ssl_key_password(self) -> SecretStr | None: ...
    @property
    def kafka_sasl_mechanism(self) -> str: ...
    @property
    def kafka_sasl_username(self) -> str | None: ...
    @property
    def kafka_sasl_password(self) -> SecretStr | None: ...


PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

_SECRET_KEYS: Final = frozenset({"sasl_plain_password"})


class ClientOptions(dict[str, Any]):
    """aiokafka keyword arguments whose repr never shows the SASL password."""

    def __repr__(self) -> str:
        shown = {k: ("**********" if k in _SECRET_KEYS and v else v) for k, v in self.items()}
        return f"ClientOptions({shown!r})"

    __str__ = __repr__


def check(
    protocol: str,
    *,
    cafile: Path | None,
    certfile: Path | None,
    keyfile: Path | None,
    username: str | None,
    has_password: bool,
) -> None:
    """Raise ValueError, naming the variables, for a combination that cannot work."""
    uses_tls = protocol in ("SSL", "SASL_SSL")
    uses_sasl = protocol in ("SASL_PLAINTEXT", "SASL_SSL")
    files = {
        "SOCIALPULSE_KAFKA_SSL_CAFILE": cafile,
        "SOCIALPULSE_KAFKA_SSL_CERTFILE": certfile,
        "SOCIALPULSE_KAFKA_SSL_KEYFILE": keyfile,
    }
    given = [name for name, path in files.items() if path is not None]
    if given and not uses_tls:
        raise ValueError(
            f"{', '.join(given)} set, but SOCIALPULSE_KAFKA_SECURITY_PROTOCOL is {protocol}: "
            "use SSL or SASL_SSL for TLS"
        )
    if (certfile is None) != (keyfile is None):
        raise ValueError(
            "a TLS client certificate needs both SOCIALPULSE_KAFKA_SSL_CERTFILE and "
            "SOCIALPULSE_KAFKA_SSL_KEYFILE"
        )
    for name in given:
        path = files[name]
        assert path is not None
        if not path.is_file():
            raise ValueError(f"{name}: {path} is not a readable file")
    if uses_sasl and (not username or not has_password):
        raise ValueError(
            f"SOCIALPULSE_KAFKA_SECURITY_PROTOCOL={protocol} needs SOCIALPULSE_KAFKA_SASL_USERNAME "
            "and SOCIALPULSE_KAFKA_SASL_PASSWORD"
        )
    if not uses_sasl and (username or has_password):
        raise ValueError(
            "SOCIALPULSE_KAFKA_SASL_USERNAME/PASSWORD set, but "
            f"SOCIALPULSE_KAFKA_SECURITY_PROTOCOL is {protocol}: use SASL_PLAINTEXT or SASL_SSL"
        )


def ssl_context(settings: Security) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL (None otherwise): verifies the broker's
    certificate and host name against the CA file, or the system's CAs without one."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    secret = settings.kafka_ssl_key_password
    # without a password OpenSSL would prompt on the terminal for an encrypted key
    password = secret.get_secret_value() if secret is not None else _no_password
    try:
        return create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
            password=password,
        )
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(
            f"cannot load the Kafka TLS files ({type(exc).__name__}: {exc}); check "
            "SOCIALPULSE_KAFKA_SSL_CAFILE, _CERTFILE, _KEYFILE and, for an encrypted key, "
            "SOCIALPULSE_KAFKA_SSL_KEY_PASSWORD"
        ) from None


def _no_password() -> str:
    return ""


def client_options(settings: Security) -> ClientOptions:
    """Keyword arguments for an aiokafka producer, consumer or admin client."""
    protocol = settings.kafka_security_protocol
    options = ClientOptions(security_protocol=protocol)
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options
