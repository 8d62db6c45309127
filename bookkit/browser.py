"""A small Chrome DevTools Protocol client for testing the HTML book in headless Chromium.

It starts Chromium with every host name unresolvable (as ``tests/test_book_build.py`` does for the math test,
so any attempt to reach the network fails and shows up as a console error), opens pages, evaluates JavaScript,
collects console errors and uncaught exceptions, and takes screenshots. The websocket comes from tornado,
already installed with Jupyter; no browser-automation package or downloaded browser is needed.
"""
from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from pathlib import Path

__all__ = ["Browser", "Page"]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-port=0"]


class Browser:
    """One headless Chromium; use as a context manager. ``timeout`` bounds every protocol call (seconds)."""

    def __init__(self, executable: str, profile: Path, timeout: float = 60.0):
        from tornado.ioloop import IOLoop
        from tornado.websocket import websocket_connect

        self.timeout = timeout
        self.proc = subprocess.Popen([executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = self._devtools_url()
        self.loop = IOLoop(make_current=False)
        self.ws = self.loop.run_sync(lambda: websocket_connect(url, max_message_size=256 * 2**20),
                                     timeout=timeout)
        self.next_id = 0
        self.events: list[dict] = []

    def _devtools_url(self) -> str:
        deadline = time.monotonic() + self.timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            lines.append(line)
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                return match.group(1)
        self.proc.kill()
        raise RuntimeError("chromium did not open its DevTools port:\n" + "".join(lines[-20:]))

    def send(self, method: str, session: str | None = None, **params) -> dict:
        """Send one command and wait for its answer; events that arrive meanwhile are kept in ``events``."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.write_message(json.dumps(message))
        while True:
            raw = self.loop.run_sync(self.ws.read_message, timeout=self.timeout)
            if raw is None:
                raise RuntimeError(f"chromium closed the DevTools connection during {method}")
            data = json.loads(raw)
            if data.get("id") == self.next_id:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})
            self.events.append(data)

    def open(self, url: str, width: int = 1200, height: int = 900) -> "Page":
        """Open ``url`` in a new tab and wait for its load event."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session)
        self.send("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", session, url=url)
        page = Page(self, session)
        page.wait_for("document.readyState === 'complete'")
        return page

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.loop.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    """One tab: evaluate JavaScript, wait for a condition, read its console errors, take screenshots."""

    def __init__(self, browser: Browser, session: str):
        self.browser, self.session = browser, session

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (promises are awaited); raises RuntimeError if it throws."""
        result = self.browser.send("Runtime.evaluate", self.session, expression=expression,
                                   returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"Boolean({condition})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {condition}")
            time.sleep(0.1)

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads of this tab so far."""
        errors = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            params = event.get("params", {})
            if event.get("method") == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif event.get("method") == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif event.get("method") == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}".strip())
        return errors

    def screenshot(self, path: Path, selector: str | None = None, margin: float = 16.0) -> Path:
        """Save a PNG of the viewport, or of the first element matching ``selector`` (scrolled into view below
        the theme's sticky header, with ``margin`` pixels of the page around it), to ``path``."""
        params = {"format": "png"}
        if selector:
            box = self.evaluate(f"(() => {{ const el = document.querySelector({json.dumps(selector)}); "
                                "window.scrollTo(0, el.getBoundingClientRect().top + scrollY - 100); "
                                "const r = el.getBoundingClientRect(); "
                                "return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()")
            x, y, width, height = box
            pad = min(margin, x, y)  # never past the page's top-left corner
            params["clip"] = {"x": x - pad, "y": y - pad, "width": width + 2 * pad, "height": height + 2 * pad,
                              "scale": 1}
        data = self.browser.send("Page.captureScreenshot", self.session, **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
