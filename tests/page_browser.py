"""A real headless Chromium for the page tests, driven over the DevTools protocol, offline.

``with Browser(profile) as b: b.open(url, width=390)`` loads a page (no network: every host maps to
nothing), then ``b.screenshot(path)``, ``b.evaluate(js)`` and ``b.events`` (the page's network
events). Tests skip with a stated reason where Debian's chromium is not installed.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import websocket  # websocket-client

AVAILABLE = shutil.which("chromium") is not None
SKIP_REASON = "needs Debian's chromium (.ci/run installs it)"

#: The layout problems a reader at this width would see: a page wider than the screen, text below
#: 9 CSS px. Tables may scroll sideways inside their own wrapper (.ca-scroll), the page may not.
LAYOUT_JS = r"""
(() => {
  const small = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const px = parseFloat(cs.fontSize);
    if (px < 9) small.push(`${el.tagName}.${el.className}: ${px}px "${el.textContent.trim().slice(0, 40)}"`);
  }
  return {width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, small};
})()
"""


class Browser:
    def __init__(self, profile: Path):
        self.profile = Path(profile)
        self.events: list[dict] = []
        self._ids = iter(range(1, 1_000_000))

    def __enter__(self) -> "Browser":
        self.proc = subprocess.Popen([
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-default-browser-check", "--host-resolver-rules=MAP * ~NOTFOUND",  # offline
            "--hide-scrollbars", "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
            "--window-size=1280,2400", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.call("Network.enable")
        self.call("Page.enable")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        self.proc.terminate()
        self.proc.wait(30)

    def call(self, method: str, **params) -> dict:
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def open(self, url: str, width: int = 1280, height: int = 900) -> None:
        """Load ``url`` in a viewport ``width`` CSS px wide (a phone at 390) and wait for it."""
        self.events.clear()
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=width < 600)
        self.call("Page.navigate", url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(json.loads(self.ws.recv()))

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        Path(path).write_bytes(base64.b64decode(shot["data"]))
        return Path(path)

    def network(self) -> list[dict]:
        return [e for e in self.events if e.get("method", "").startswith("Network.")]
