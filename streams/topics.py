"""Declaring the topics socialpulse reads and writes, with the configured partitions."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Final

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

#: the keyword arguments of an aiokafka client that carry TLS and SASL, and nothing else
SECURITY_KEYS: Final = frozenset(
    {
        "security_protocol",
        "ssl_context",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
        "sasl_kerberos_service_name",
        "sasl_kerberos_domain_name",
        "sasl_oauth_token_provider",
    }
)


def security_options(client_options: dict[str, Any] | None) -> dict[str, Any]:
    """The TLS/SASL part of a client's options (``streams.connection.client_options``),
    which an admin client beside a producer or consumer needs too."""
    return {k: v for k, v in (client_options or {}).items() if k in SECURITY_KEYS}


def _admin(bootstrap: str, client_options: dict[str, Any] | None) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=15_000,
        **security_options(client_options),
    )


async def ensure_topics(
    bootstrap: str, topics: dict[str, int], *, client_options: dict[str, Any] | None = None
) -> None:
    """Create each topic (name -> partitions) that does not exist yet.

    ``client_options`` may hold any client's options; only the TLS/SASL ones are used.
    """
    admin = _admin(bootstrap, client_options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, n, 1) for name, n in topics.items() if name not in existing]
        if not missing:
            return
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(missing)
        log.info("created topics %s", ", ".join(t.name for t in missing))
    finally:
        await admin.close()


async def topic_partition_count(
    bootstrap: str, topic: str, *, client_options: dict[str, Any] | None = None
) -> int | None:
    """Number of partitions of ``topic``, or None when it does not exist."""
    admin = _admin(bootstrap, client_options)
    await admin.start()
    try:
        meta = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for entry in meta:
        if entry.get("topic") == topic and not entry.get("error_code"):
            return len(entry.get("partitions", [])) or None
    return None
