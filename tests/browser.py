"""A real headless Chromium (Debian's ``chromium``) driven over the DevTools protocol.

Just what the board's tests need: open a page, evaluate JavaScript, wait for a condition
and save a full-page screenshot. The protocol runs over a WebSocket (aiohttp's client).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
]


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    pass


class Browser:
    """``async with Browser(binary) as page: await page.open(url)`` and so on."""

    def __init__(self, binary: str, width: int = 1440, height: int = 900) -> None:
        self.binary = binary
        self.width, self.height = width, height
        self._ids = itertools.count(1)
        self.console: list[str] = []
        self.exceptions: list[str] = []

    async def __aenter__(self) -> Browser:
        # chromium's helper processes may still write to the profile as it is removed
        self._profile = tempfile.TemporaryDirectory(
            prefix="sp-chromium-", ignore_cleanup_errors=True
        )
        profile = Path(self._profile.name)
        self.log = profile / "chromium.log"
        self.proc = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BrowserError(f"chromium did not start: {self.log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json(content_type=None)
        page = next(t for t in targets if t["type"] == "page")
        self.ws = await self.session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        await self.send("Runtime.enable")
        await self.send("Page.enable")
        await self.resize(self.width, self.height)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        await self.session.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._profile.cleanup()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One protocol command; its result (events seen meanwhile are logged)."""
        ident = next(self._ids)
        await self.ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 60)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise BrowserError(f"DevTools connection closed: {msg}")
            body = json.loads(msg.data)
            if body.get("id") == ident:
                if "error" in body:
                    raise BrowserError(f"{method}: {body['error']}")
                return dict(body.get("result", {}))
            self._event(body)

    def _event(self, body: dict[str, Any]) -> None:
        method, params = body.get("method"), body.get("params", {})
        if method == "Runtime.consoleAPICalled":
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.console.append(f"{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.exceptions.append(
                str(details.get("exception", {}).get("description", details.get("text")))
            )

    async def resize(self, width: int, height: int) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    async def open(self, url: str) -> None:
        result = await self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"{url}: {result['errorText']}")
        await self.wait_for("document.readyState === 'complete'", 30)

    async def eval(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, seconds: float) -> Any:
        """Evaluate ``expression`` until it is truthy; its value, or BrowserError."""
        deadline = time.monotonic() + seconds
        value: Any = None
        while time.monotonic() < deadline:
            value = await self.eval(expression)
            if value:
                return value
            await asyncio.sleep(0.5)
        raise BrowserError(f"still false after {seconds:.0f} s: {expression} (last: {value!r})")

    async def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (the viewport grown to the page's height)."""
        height = int(await self.eval("document.documentElement.scrollHeight"))
        await self.resize(self.width, max(self.height, height))
        await asyncio.sleep(0.3)  # the resize handler redraws the charts
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        await self.resize(self.width, self.height)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
