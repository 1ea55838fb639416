"""Headless Chromium for the book's tools and tests: a local server and a DevTools client.

``book_pdf.py`` prints the single-page book with it, and ``tests/test_built_html.py`` and
``tests/test_built_layout.py`` check the built pages with it. Chromium is ``chromium`` (or
``chromium-browser``/``google-chrome``) on the PATH, or ``SHALLOWLEARN_CHROMIUM``; on Debian
``apt-get install chromium``. It is started with every host name but 127.0.0.1 unresolvable,
so the pages see no internet even on a connected machine, and the client talks to it over the
Chrome DevTools protocol (websocket-client, no WebDriver). Every wait has a time limit, and
every failure is a :class:`HeadlessError` with a one-line message.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT = 30.0  # seconds for Chromium to start and open its first tab


class HeadlessError(RuntimeError):
    """Chromium could not be started, did not answer in time, or a page script failed."""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve root on 127.0.0.1 (a free port) while in the block; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def find_chromium() -> str:
    """The Chromium executable: ``SHALLOWLEARN_CHROMIUM``, or the first one on the PATH."""
    candidates = [os.environ.get("SHALLOWLEARN_CHROMIUM", "")]
    candidates += [shutil.which(n) or "" for n in ("chromium", "chromium-browser", "google-chrome")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise HeadlessError("headless Chromium is needed: apt-get install chromium "
                        "(or set SHALLOWLEARN_CHROMIUM to its path)")


class DevTools:
    """A minimal synchronous Chrome DevTools protocol client for one tab.

    ``timeout`` (seconds) bounds each call and each wait that is not given its own limit.
    Events that arrive while a call waits for its answer are kept in ``events``.
    """

    def __init__(self, ws_url: str, timeout: float):
        import websocket  # websocket-client, pinned in requirements.txt

        self.timeout = timeout
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def close(self) -> None:
        self.ws.close()

    def _receive(self, deadline: float) -> dict:
        """The next message, or {} if none came before the deadline."""
        import websocket

        self.ws.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return {}

    def send(self, method: str, timeout: float | None = None, **params) -> dict:
        """Call a DevTools method and return its result."""
        timeout = self.timeout if timeout is None else timeout
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._receive(deadline)
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise HeadlessError(f"Chromium: {method}: {msg['error'].get('message', msg['error'])}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise HeadlessError(f"Chromium did not answer {method} within {timeout:.0f} s")

    def wait_for(self, method: str, count: int = 1, timeout: float | None = None) -> None:
        """Wait until ``events`` holds ``count`` events of this method (kept ones included)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while sum(e["method"] == method for e in self.events) < count:
            if time.monotonic() > deadline:
                raise HeadlessError(f"no {method} within {timeout:.0f} s")
            msg = self._receive(deadline)
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression: str, timeout: float | None = None):
        """Evaluate JavaScript (awaiting a promise) in the page and return its JSON value."""
        timeout = self.timeout if timeout is None else timeout
        result = self.send("Runtime.evaluate", timeout=timeout + 10, expression=expression,
                           awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise HeadlessError(f"a script in the page failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, redirects: int = 0, timeout: float | None = None) -> None:
        """Load url and wait for its load event (and those of the pages it redirects to)."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired", count=1 + redirects, timeout=timeout)

    def read_stream(self, handle: str, timeout: float | None = None) -> bytes:
        """The whole of a DevTools IO stream (a printed PDF, say), which is then closed."""
        chunks = []
        while True:
            part = self.send("IO.read", timeout=timeout, handle=handle, size=1 << 20)
            data = part.get("data", "")
            chunks.append(base64.b64decode(data) if part.get("base64Encoded") else data.encode())
            if part.get("eof"):
                break
        self.send("IO.close", handle=handle)
        return b"".join(chunks)


@contextlib.contextmanager
def chromium(*, timeout: float, domains=("Page", "Runtime"), window: str | None = None,
             no_cache: bool = False) -> Iterator[DevTools]:
    """Headless Chromium with no host but 127.0.0.1 reachable; yields a client of its tab.

    ``domains`` are the DevTools domains enabled (their events are kept), ``window`` the
    window size (``"1280,1000"``), and ``no_cache`` disables the browser cache.
    """
    profile = tempfile.mkdtemp(prefix="shallowlearn-chromium-")
    cmd = [
        find_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-extensions",
        "--mute-audio", "--hide-scrollbars",
        *([f"--window-size={window}"] if window else []),
        # offline: every host name but 127.0.0.1 fails to resolve
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            if proc.poll() is not None:
                raise HeadlessError(f"Chromium exited at start (status {proc.returncode}): {cmd[0]}")
            if time.monotonic() > deadline:
                raise HeadlessError(f"Chromium did not start within {START_TIMEOUT:.0f} s: {cmd[0]}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        page = None
        while page is None:  # the first tab may be listed a moment after the port opens
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
                page = next((t for t in json.load(resp) if t.get("type") == "page"), None)
            if page is None:
                if time.monotonic() > deadline:
                    raise HeadlessError(f"Chromium opened no tab within {START_TIMEOUT:.0f} s")
                time.sleep(0.1)
        tab = DevTools(page["webSocketDebuggerUrl"], timeout)
        try:
            for domain in domains:
                tab.send(f"{domain}.enable")
            if no_cache:
                tab.send("Network.setCacheDisabled", cacheDisabled=True)
            yield tab
        finally:
            tab.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
