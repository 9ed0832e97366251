"""The user-facing commands: help, clear errors, replay, generate, and the demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import CLI, Stack, free_port, kpi, scrape, value, wait_port

pytestmark = pytest.mark.integration

COMMANDS = [
    "broker",
    "worker",
    "generate",
    "replay",
    "demo",
    "bench",
    "score-text",
    "alerts",
    "board",
    "dlq",
    "send",
    "tables",
]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env or dict(os.environ), capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: " in result.stdout and command in result.stdout


def test_top_level_help_lists_socialpulse_commands() -> None:
    out = run("--help").stdout
    for command in COMMANDS:
        assert f"  {command} " in out
    assert "Welcome" not in out
    ours, faust = out.index("socialpulse commands:"), out.index("Faust commands")
    assert ours < out.index("  demo ") < faust < out.index("  send ")
    for internal in ("livecheck", "clean-versions", "reset", "--console-port"):
        assert internal not in out  # hidden, though they still run
    assert run("reset", "--help").returncode == 0


def test_version_names_socialpulse_and_faust() -> None:
    out = run("--version").stdout
    assert out.startswith("socialpulse 0.") and "Faust 0.15" in out


def test_worker_help_shows_the_defaults_it_uses() -> None:
    out = run("worker", "--help", env=dict(os.environ, SOCIALPULSE_WEB_PORT="7123")).stdout
    assert "default: 7123" in " ".join(out.split()) and "6066" not in out


def test_worker_without_broker_or_with_a_busy_port_says_so_in_one_line(broker: str) -> None:
    env = dict(os.environ, SOCIALPULSE_BROKER=f"kafka://127.0.0.1:{free_port()}")
    result = run("worker", env=env, timeout=30)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no broker answers" in result.stderr and len(result.stderr.splitlines()) == 1
    busy = broker.rpartition(":")[2]  # the broker's own port: taken
    env = dict(os.environ, SOCIALPULSE_BROKER=f"kafka://{broker}", SOCIALPULSE_WEB_PORT=busy)
    result = run("worker", env=env, timeout=30)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"port {busy}" in result.stderr and len(result.stderr.splitlines()) == 1


def test_bad_setting_is_a_clear_error_not_a_traceback() -> None:
    result = run("worker", env=dict(os.environ, SOCIALPULSE_WEB_PORT="sixty"))
    assert result.returncode != 0
    assert "SOCIALPULSE_WEB_PORT" in result.stderr and "Traceback" not in result.stderr
    result = run("worker", env=dict(os.environ, SOCIALPULSE_BROKER="http://x"))
    assert "SOCIALPULSE_BROKER" in result.stderr and "Traceback" not in result.stderr


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run("worker", env=dict(os.environ, SOCIALPULSE_CONFIG_FILE=str(tmp_path / "no.yml")))
    assert result.returncode != 0
    assert "no.yml" in result.stderr and "Traceback" not in result.stderr


def test_broker_on_a_busy_port_is_a_clear_error(broker: str) -> None:
    result = run("broker", env=dict(os.environ, SOCIALPULSE_BROKER=f"kafka://{broker}"))
    assert result.returncode != 0
    assert "already listens" in result.stderr and "Traceback" not in result.stderr


def test_score_text_writes_one_json_line_per_input_line() -> None:
    texts = [
        "Świetna obsługa, polecam! #super",
        "خیلی بد بود #افتضاح",
        "",
        "الخدمة سيئة جدا ولن أعود",
        "Dịch vụ quá tệ, tôi rất thất vọng",
        "bad bytes \udcff and NUL \x00 survive",
    ]
    payload = "\n".join(texts).encode("utf-8", "surrogateescape")  # \udcff: a raw 0xff byte
    result = subprocess.run(
        [*CLI, "score-text", "--echo"], input=payload + b"\n", capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(rows) == len(texts)
    assert [r["lang"] for r in rows[:5]] == ["pl", "fa", "und", "ar", "vi"]
    assert rows[0]["sentiment"] > 0.3 and rows[0]["hashtags"] == ["super"]
    assert all(r["sentiment"] < -0.3 for r in (rows[1], rows[3], rows[4]))
    assert rows[1]["hashtags"] == ["افتضاح"] and rows[2]["sentiment"] == 0
    assert all(r["supported"] for r in rows[:2]) and 0 < rows[0]["lang_confidence"] <= 1
    assert rows[5]["text"].startswith("bad bytes")


def test_score_text_with_a_given_language_and_a_bad_one() -> None:
    result = subprocess.run(
        [*CLI, "score-text", "--lang", "pl-PL"],
        input="nie polecam\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    row = json.loads(result.stdout)
    assert row["lang"] == "pl" and row["lang_confidence"] == 1.0 and row["sentiment"] < 0
    result = run("score-text", "--lang", "not a tag")
    assert result.returncode == 2
    assert "BCP 47" in result.stderr and "Traceback" not in result.stderr


def test_alerts_test_reports_delivery_and_failure(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        result = run("alerts", "test", url, "--brand", "acme")
        assert result.returncode == 0 and "delivered" in result.stdout, result.stderr
        assert got and got[0]["brand"] == "acme" and got[0]["rule"] == "test"
    finally:
        server.shutdown()
    result = run("alerts", "test", f"http://127.0.0.1:{free_port()}/nobody")
    assert result.returncode == 1
    assert "delivery failed" in result.stderr and "Traceback" not in result.stderr
    result = run("alerts", "test", "not-a-url")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_generate_without_a_broker_is_a_clear_error() -> None:
    env = dict(os.environ, SOCIALPULSE_BROKER=f"kafka://127.0.0.1:{free_port()}")
    result = run("generate", "--duration", "1", env=env)
    assert result.returncode != 0
    assert "cannot reach the broker" in result.stderr and "Traceback" not in result.stderr


def test_generate_to_file_then_replay_counts_every_event(stack: Stack, tmp_path: Path) -> None:
    stack.start_worker()
    path = tmp_path / "events.jsonl"
    result = run(
        "generate",
        "--output",
        str(path),
        "--duration",
        "120",
        "--rate",
        "50",
        "--brands",
        "3",
        "--envelope",
        "20",
        env=stack.env(),
    )
    assert result.returncode == 0, result.stderr
    lines = path.read_text().splitlines()
    events = [e for line in lines for e in json.loads(line)]
    assert len(events) > 1000
    expected: dict[str, float] = {}
    for e in events:
        if e["kind"] in ("impression", "view"):
            expected[e["brand"]] = expected.get(e["brand"], 0) + e.get("count", 1)
    with path.open("a") as fh:  # one broken line: reported with its number, the rest still sent
        fh.write('{"id": "x", "brand": "acme", "kind": "like"}\n')
    result = run("replay", str(path), env=stack.env())
    assert result.returncode == 1
    assert f"line {len(lines) + 1}: missing_field" in result.stderr
    assert f"sent {len(events):,} events" in result.stdout
    assert "replay events.jsonl [" in result.stderr  # the progress bar

    def total(s: dict, metric: str = "socialpulse_event_volume_total") -> float:
        return sum(v for (name, _), v in s.items() if name == metric)

    def done(s: dict) -> bool:
        # a batch's texts are counted after its other events, once they are scored
        return total(s) >= sum(e.get("count", 1) for e in events) and all(
            kpi(s, "socialpulse_impressions", b, "24h") == n for b, n in expected.items()
        )

    s = stack.wait_for(done, seconds=90)
    for brand, n in expected.items():
        assert kpi(s, "socialpulse_impressions", brand, "24h") == n
    assert total(s) == sum(e.get("count", 1) for e in events)  # volume: the count fields
    assert total(s, "socialpulse_events_total") == len(events)  # events: 1 each


def _descendants(pid: int) -> set[int]:
    out: set[int] = set()
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for c in map(int, children):
            out.add(c)
            stack.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    "how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"]
)
def test_demo_shows_live_metrics_then_leaves_no_orphans(
    tmp_path: Path, how: signal.Signals
) -> None:
    port, web = free_port(), free_port()
    env = dict(
        os.environ,
        SOCIALPULSE_BROKER=f"kafka://127.0.0.1:{port}",
        SOCIALPULSE_WEB_PORT=str(web),
        SOCIALPULSE_APP_ID=f"demo-{how.name.lower()}",
    )
    log = (tmp_path / "demo.log").open("wb")
    started = time.monotonic()
    logs = tmp_path / "logs"
    demo = subprocess.Popen(
        [*CLI, "demo", "--rate", "200", "--log-dir", str(logs)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_port(web, 90), (tmp_path / "demo.log").read_text()
        live = None
        while time.monotonic() - started < 90:
            s = scrape(web)
            if any(name == "socialpulse_impressions" and v > 0 for (name, _), v in s.items()):
                live = time.monotonic() - started
                break
            time.sleep(0.5)
        assert live is not None and live < 60, f"no live impressions within 60 s ({live})"
        print(f"demo: live impressions {live:.1f} s after start")
        assert value(s, "socialpulse_events_rejected_total", reason="invalid_json") == 0
        children = _descendants(demo.pid)
        assert len(children) >= 3  # broker (and its Tansu), worker, generator
    finally:
        demo.send_signal(how)
        stop = time.monotonic()
        demo.wait(30)
        stopped = time.monotonic() - stop
    text = (tmp_path / "demo.log").read_text()
    assert f"{logs}/" in text and f"live board: http://127.0.0.1:{web}/ " in text
    assert (logs / "worker.log").stat().st_size > 0 and (logs / "broker.log").exists()
    assert "Worker ready" not in text  # the children's output is in their logs only
    if how != signal.SIGKILL:
        assert demo.returncode == 0 and "demo: stopped in" in text, text[-2000:]
        assert stopped < 10, f"stopping took {stopped:.1f} s"
        print(f"demo: stopped {stopped:.1f} s after {how.name}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in children):
        time.sleep(0.5)
    assert not [p for p in children if _alive(p)], "orphans left behind"
    assert not wait_port(port, 1) and not wait_port(web, 1)


def test_demo_with_its_web_port_taken_starts_nothing(broker: str, tmp_path: Path) -> None:
    busy = broker.rpartition(":")[2]
    env = dict(
        os.environ,
        SOCIALPULSE_BROKER=f"kafka://127.0.0.1:{free_port()}",
        SOCIALPULSE_WEB_PORT=busy,
    )
    result = run("demo", "--log-dir", str(tmp_path), env=env, timeout=30)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"port {busy}" in result.stderr and "starting" not in result.stdout


def test_demo_in_a_terminal_redraws_in_place_with_urls_and_logs(tmp_path: Path) -> None:
    """The terminal view, in a real pseudo-terminal: one clear, then frames drawn in place
    that keep the URLs; nothing of the children's output; Ctrl-C stops it all in order."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    port, web = free_port(), free_port()
    env = dict(
        os.environ,
        SOCIALPULSE_BROKER=f"kafka://127.0.0.1:{port}",
        SOCIALPULSE_WEB_PORT=str(web),
        SOCIALPULSE_APP_ID="demo-tty",
    )
    logs = tmp_path / "logs"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the demo, on the terminal
        os.execve(CLI[0], [*CLI, "demo", "--rate", "150", "--log-dir", str(logs)], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    data, started, sent = b"", time.monotonic(), None
    while True:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        if sent is None and (
            b"acme" in data.rsplit(b"\x1b[H", 1)[-1] or time.monotonic() - started > 90
        ):
            time.sleep(3)  # a few more frames
            os.write(fd, b"\x03")  # Ctrl-C, as the terminal sends it
            sent = time.monotonic()
        if sent is not None and time.monotonic() - sent > 30:
            break
    _, status = os.waitpid(pid, 0)
    text = data.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text[-3000:]
    frames = text.split("\x1b[H")
    assert len(frames) >= 3 and text.count("\x1b[2J") == 1  # cleared once, then in place
    last = frames[-1]
    assert f"live board  http://127.0.0.1:{web}/" in last and f"{logs}/" in last
    assert "acme" in last and "alerts (newest last)" in last
    for noise in ("ProduceRequest", "[INFO]", "Traceback"):
        assert noise not in text  # the children's output is in their log files
    assert "demo: stopped in" in last
    assert (logs / "worker.log").stat().st_size > 0
