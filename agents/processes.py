"""Small helpers for the commands that run other processes (broker, demo)."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> None:
    """``preexec_fn`` for children: the kernel sends ``sig`` when the parent dies (Linux).
    With ``parent`` (the pid that started this process), a parent that died before the
    request was made is caught too: the signal is sent at once."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)


def dies_with_this_process(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child die with the calling process, even if that
    process dies between the fork and the request. The demo's children take SIGKILL: the
    in-memory broker dies with the demo, so a graceful stop could only hang on it."""
    return functools.partial(die_with_parent, sig, os.getpid())


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_taken(host: str, port: int) -> bool:
    """True when ``port`` cannot be bound on ``host`` (another process listens on it)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def wait_port(
    host: str, port: int, seconds: float, proc: subprocess.Popen[bytes] | None = None
) -> bool:
    """Wait until host:port accepts connections; False on timeout or if ``proc`` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.25)
    return False


def split_host_port(address: str) -> tuple[str, int]:
    """``host:port`` (the first of a bootstrap list) as a tuple."""
    first = address.split(",")[0]
    host, _, port = first.rpartition(":")
    return host, int(port)


def stop_all(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    """SIGTERM every process (last started first), then SIGKILL what is left after timeout."""
    for proc in reversed(procs):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in reversed(procs):
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
