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
from typing import Any, Final

from aiokafka.helpers import create_ssl_context

from socialpulse.streams.settings import KafkaSettings

_SECRET_KEYS: Final = frozenset({"sasl_plain_password"})


class ClientOptions(dict[str, Any]):
    """aiokafka keyword arguments whose repr never shows the SASL password."""

    def __repr__(self) -> str:
        shown = {k: ("**********" if k in _SECRET_KEYS and v else v) for k, v in self.items()}
        return f"ClientOptions({shown!r})"

    __str__ = __repr__


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
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


def client_options(settings: KafkaSettings) -> ClientOptions:
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
