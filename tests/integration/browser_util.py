"""Drives headless Chromium over the Chrome DevTools Protocol (CDP).

Only the Python standard library is used: a minimal RFC 6455 WebSocket
client (client frames masked, fragmented and 16/64-bit length frames
handled, ping answered) carries CDP's JSON messages.

    with Chromium() as browser:
        page = browser.page()
        page.enable_error_collection()
        page.navigate(url)
        page.evaluate("document.title")
        problems, ignored = page.problems()

Every blocking step has a deadline (STEP_TIMEOUT by default), so a hung
browser fails the test instead of blocking the run.
"""
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse

STEP_TIMEOUT = 20.0

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome",
                       "google-chrome-stable")

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",            # tests run as root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--no-proxy-server",        # the servers under test are on 127.0.0.1
    "--mute-audio",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--window-size=1280,900",
    "--remote-debugging-port=0",
)


class BrowserError(Exception):
    """The browser or the protocol did not behave; the test must fail."""


def find_chromium():
    """Path of the Chromium binary, or None. $CHROMIUM overrides the search."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


# ---- WebSocket (RFC 6455), client side ---------------------------------

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class WebSocket:
    """Blocking WebSocket client for ws:// URLs (no TLS, no extensions)."""

    def __init__(self, url, timeout=STEP_TIMEOUT):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "ws":
            raise BrowserError("only ws:// URLs are supported: %r" % url)
        host, port = parts.hostname, parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.closed = False
        key = base64.b64encode(os.urandom(16)).decode()
        request = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key))
        self.sock.sendall(request.encode())
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if len(lines[0].split()) < 2 or lines[0].split()[1] != "101":
            self.sock.close()
            raise BrowserError("WebSocket handshake refused: %s" % head.decode("latin-1"))
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        expect = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != expect:
            self.sock.close()
            raise BrowserError("bad Sec-WebSocket-Accept in handshake")

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("WebSocket read timed out")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            raise TimeoutError("WebSocket read timed out") from None
        if not chunk:
            self.closed = True
            raise ConnectionError("WebSocket connection closed by peer")
        self.buf += chunk

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _send_frame(self, opcode, payload):
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < (1 << 16):
            header.append(0x80 | 126)
            header += struct.pack("!H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", n)
        mask = os.urandom(4)
        header += mask
        # XOR with the repeated mask, done on big integers for speed.
        reps = mask * (n // 4 + 1)
        masked = (int.from_bytes(payload, "big") ^
                  int.from_bytes(reps[:n], "big")).to_bytes(n, "big") if n else b""
        self.sock.settimeout(STEP_TIMEOUT)
        self.sock.sendall(bytes(header) + masked)

    def send_text(self, text):
        self._send_frame(OP_TEXT, text.encode("utf-8"))

    def _read_frame(self, deadline):
        b0, b1 = self._read_exact(2, deadline)
        fin, opcode = bool(b0 & 0x80), b0 & 0x0F
        masked, n = bool(b1 & 0x80), b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8, deadline))[0]
        mask = self._read_exact(4, deadline) if masked else None
        payload = self._read_exact(n, deadline)
        if mask and n:
            reps = mask * (n // 4 + 1)
            payload = (int.from_bytes(payload, "big") ^
                       int.from_bytes(reps[:n], "big")).to_bytes(n, "big")
        return fin, opcode, payload

    def recv_text(self, deadline):
        """Next complete text (or binary) message; raises TimeoutError."""
        parts, first_op = [], None
        while True:
            fin, opcode, payload = self._read_frame(deadline)
            if opcode == OP_PING:
                self._send_frame(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                self.closed = True
                raise ConnectionError("WebSocket closed by peer")
            if opcode in (OP_TEXT, OP_BINARY):
                if first_op is not None:
                    raise BrowserError("new WebSocket message inside a fragmented one")
                first_op = opcode
            elif opcode == OP_CONT:
                if first_op is None:
                    raise BrowserError("WebSocket continuation without a start frame")
            else:
                raise BrowserError("unknown WebSocket opcode %d" % opcode)
            parts.append(payload)
            if fin:
                return b"".join(parts).decode("utf-8")

    def close(self):
        if not self.closed:
            try:
                self._send_frame(OP_CLOSE, struct.pack("!H", 1000))
            except OSError:
                pass
            self.closed = True
        self.sock.close()


# ---- CDP session on one page target ------------------------------------

class CDPError(BrowserError):
    pass


class Page:
    """A CDP session attached to one page target.

    Every event received is appended to self.events as (method, params),
    whatever call was waiting when it arrived, so nothing is lost.
    """

    def __init__(self, ws_url, timeout=STEP_TIMEOUT):
        self.timeout = timeout
        self.ws = WebSocket(ws_url, timeout)
        self.next_id = 0
        self.events = []
        self.requests = {}   # Network requestId -> URL

    def close(self):
        self.ws.close()

    def _receive(self, deadline):
        msg = json.loads(self.ws.recv_text(deadline))
        if "method" in msg:
            params = msg.get("params", {})
            if msg["method"] == "Network.requestWillBeSent":
                self.requests[params["requestId"]] = params["request"]["url"]
            self.events.append((msg["method"], params))
        return msg

    def send(self, method, params=None, timeout=None):
        """Sends one command and returns its result; raises CDPError."""
        self.next_id += 1
        cid = self.next_id
        self.ws.send_text(json.dumps({"id": cid, "method": method,
                                      "params": params or {}}))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                msg = self._receive(deadline)
            except TimeoutError:
                raise TimeoutError("no answer to %s within %.0f s" % (
                    method, timeout or self.timeout)) from None
            if msg.get("id") == cid:
                if "error" in msg:
                    raise CDPError("%s failed: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def wait_event(self, method, since=0, predicate=None, timeout=None):
        """Params of the first `method` event at index >= since."""
        deadline = time.monotonic() + (timeout or self.timeout)
        index = since
        while True:
            while index < len(self.events):
                name, params = self.events[index]
                index += 1
                if name == method and (predicate is None or predicate(params)):
                    return params
            try:
                self._receive(deadline)
            except TimeoutError:
                raise TimeoutError("no %s event within %.0f s" % (
                    method, timeout or self.timeout)) from None

    def drain(self, quiet=0.5, limit=5.0):
        """Reads events until none arrived for `quiet` seconds (at most `limit`)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            try:
                self._receive(min(end, time.monotonic() + quiet))
            except TimeoutError:
                return

    def enable_error_collection(self):
        """Enables the domains whose events problems() looks at."""
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(domain + ".enable")

    def navigate(self, url, timeout=None):
        """Loads url, waits for the load event and for late events to settle."""
        mark = len(self.events)
        res = self.send("Page.navigate", {"url": url}, timeout)
        if res.get("errorText"):
            raise BrowserError("navigation to %s failed: %s" % (url, res["errorText"]))
        self.wait_event("Page.loadEventFired", since=mark, timeout=timeout)
        self.drain()
        return mark

    def evaluate(self, expression, timeout=None):
        """Value of a JS expression (promises awaited); page exceptions raise."""
        res = self.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True,
            "awaitPromise": True, "userGesture": True}, timeout)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise BrowserError("evaluating %r threw: %s" % (
                expression, d.get("exception", {}).get("description") or d.get("text")))
        return res["result"].get("value")

    def click(self, selector):
        """A real mouse click (pressed and released) at the element's centre."""
        box = self.evaluate(
            "(function(){var e=document.querySelector(%s);if(!e)return null;"
            "e.scrollIntoView({block:'center'});var r=e.getBoundingClientRect();"
            "return {x:r.left+r.width/2,y:r.top+r.height/2,w:r.width,h:r.height};})()"
            % json.dumps(selector))
        if box is None:
            raise BrowserError("no element matches %s" % selector)
        if box["w"] <= 0 or box["h"] <= 0:
            raise BrowserError("element %s is not rendered (zero size)" % selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": box["x"], "y": box["y"]}
            if kind != "mouseMoved":
                params.update(button="left", clickCount=1)
            self.send("Input.dispatchMouseEvent", params)

    def center_of(self, selector):
        """Viewport centre of the first element matching selector, scrolled
        into view; raises BrowserError when it is missing or not rendered."""
        box = self.evaluate(
            "(function(){var e=document.querySelector(%s);if(!e)return null;"
            "e.scrollIntoView({block:'center',inline:'nearest'});"
            "var r=e.getBoundingClientRect();"
            "return {x:r.left+r.width/2,y:r.top+r.height/2,w:r.width,h:r.height};})()"
            % json.dumps(selector))
        if box is None:
            raise BrowserError("no element matches %s" % selector)
        if box["w"] <= 0 or box["h"] <= 0:
            raise BrowserError("element %s is not rendered (zero size)" % selector)
        return box["x"], box["y"]

    def hover(self, selector):
        """Moves the mouse over the element's centre (a real mouse event)."""
        x, y = self.center_of(selector)
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def drag(self, selector, from_frac, to_frac, steps=8):
        """Presses the left button at from_frac of the element's width (at
        its mid-height), moves to to_frac in steps and releases there."""
        box = self.evaluate(
            "(function(){var e=document.querySelector(%s);if(!e)return null;"
            "e.scrollIntoView({block:'center'});var r=e.getBoundingClientRect();"
            "return {x:r.left,y:r.top+r.height/2,w:r.width};})()" % json.dumps(selector))
        if box is None or box["w"] <= 0:
            raise BrowserError("no rendered element matches %s" % selector)
        xs = [box["x"] + box["w"] * (from_frac + (to_frac - from_frac) * i / steps)
              for i in range(steps + 1)]
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": xs[0], "y": box["y"]})
        self.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": xs[0], "y": box["y"],
                                               "button": "left", "clickCount": 1})
        for x in xs[1:]:
            self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": box["y"],
                                                   "button": "left", "buttons": 1})
        self.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": xs[-1],
                                               "y": box["y"], "button": "left",
                                               "clickCount": 1})

    def type_text(self, text):
        """Types text into the focused element, as an input method would."""
        self.send("Input.insertText", {"text": text})

    def press_key(self, key, code=None, key_code=0):
        """Presses and releases one key (e.g. "Enter", "Escape")."""
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {
                "type": kind, "key": key, "code": code or key,
                "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code})

    def wait_for(self, expression, timeout=None):
        """Polls a JS expression until it is truthy; returns its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError("still false after %.0f s: %s" % (
                    timeout or self.timeout, expression))
            time.sleep(0.05)

    def screenshot(self, path, full_page=True):
        """Writes a PNG of the page (the whole scrollable page by default)."""
        params = {"format": "png"}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params.update(captureBeyondViewport=True, clip={
                "x": 0, "y": 0, "scale": 1,
                "width": max(1, min(size["width"], 4096)),
                "height": max(1, min(size["height"], 8192))})
        data = base64.b64decode(self.send("Page.captureScreenshot", params)["data"])
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return data

    # -- problems ----------------------------------------------------------

    def problems(self, since=0, ignore=None):
        """Errors seen in events[since:], as (problems, ignored) string lists.

        Counted: uncaught exceptions, console.error/console.assert failures,
        error-level log entries (failed loads, CSP refusals, ...), network
        requests that failed or got an HTTP error status.
        `ignore(url, text)` returns a reason to ignore one item, or None.
        """
        found, ignored = [], []

        def report(url, text):
            reason = ignore(url or "", text) if ignore else None
            if reason:
                ignored.append("%s (ignored: %s)" % (text, reason))
            else:
                found.append(text)

        for method, p in self.events[since:]:
            if method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                desc = d.get("exception", {}).get("description") or d.get("text")
                report(d.get("url"), "uncaught exception at %s:%s: %s" % (
                    d.get("url", "?"), d.get("lineNumber", "?"), desc))
            elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", a.get("type"))))
                                for a in p.get("args", []))
                frames = p.get("stackTrace", {}).get("callFrames", [])
                report(frames[0]["url"] if frames else "",
                       "console.%s: %s" % (p["type"], args))
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                e = p["entry"]
                report(e.get("url"), "log %s error: %s%s" % (
                    e.get("source"), e.get("text"),
                    " [%s]" % e["url"] if e.get("url") else ""))
            elif method == "Network.loadingFailed":
                url = self.requests.get(p["requestId"], "?")
                report(url, "load failed: %s %s%s" % (
                    url, p.get("errorText"),
                    " (blocked: %s)" % p["blockedReason"] if p.get("blockedReason") else ""))
            elif method == "Network.responseReceived" and p["response"]["status"] >= 400:
                r = p["response"]
                report(r["url"], "HTTP %d for %s" % (r["status"], r["url"]))
        return found, ignored


# ---- the browser process -----------------------------------------------

def _live_group_members(pgid):
    """Pids in process group pgid that are not zombies (Linux /proc).

    Zombies are left out: they are dead, and reaping orphans is init's job
    (which may be slow in containers)."""
    live = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return live
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces or ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(name))
    return live


class Chromium:
    """A headless Chromium with a fresh profile, killed and removed on close."""

    def __init__(self, binary=None, timeout=STEP_TIMEOUT):
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise BrowserError("Chromium is not installed (apt-get install chromium)")
        self.timeout = timeout
        self.tmp = tempfile.mkdtemp(prefix="reqprof-chromium-")
        self.profile = os.path.join(self.tmp, "profile")
        self.log_path = os.path.join(self.tmp, "chromium.log")
        self.proc = None
        self.port = None
        self.pages = []

    def start(self):
        os.makedirs(self.profile)
        with open(self.log_path, "wb") as log:
            # Own session: closing kills the whole process group (renderers,
            # GPU and utility processes are Chromium's children).
            # TMPDIR: Chromium's singleton socket directory and shared
            # memory files go into self.tmp and are removed with it.
            env = dict(os.environ, TMPDIR=self.tmp)
            self.proc = subprocess.Popen(
                [self.binary, *CHROMIUM_FLAGS, "--user-data-dir=" + self.profile,
                 "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError("Chromium exited with %s at start:\n%s" % (
                    self.proc.returncode, self.log()))
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
                if first:
                    self.port = int(first)
                    return self
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.05)
        raise BrowserError("Chromium wrote no DevToolsActivePort within %.0f s:\n%s" % (
            self.timeout, self.log()))

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def http_json(self, path, method="GET"):
        # http.client rather than urllib: no proxy from the environment.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path)
            res = conn.getresponse()
            body = res.read()
            if res.status != 200:
                raise BrowserError("DevTools %s %s: HTTP %d %s" % (method, path, res.status, body))
            return json.loads(body)
        finally:
            conn.close()

    def page(self):
        """A CDP session on a new blank tab."""
        target = self.http_json("/json/new?about:blank", method="PUT")
        page = Page(target["webSocketDebuggerUrl"], self.timeout)
        self.pages.append(page)
        return page

    def close(self):
        for page in self.pages:
            try:
                page.close()
            except OSError:
                pass
        self.pages = []
        if self.proc is not None:
            pgid = self.proc.pid   # its own session and process group
            if self.proc.poll() is None:
                # The browser first, so it shuts down its children cleanly.
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            # Whatever is left of the group (renderers, utility processes).
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            deadline = time.monotonic() + 5
            while _live_group_members(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()
