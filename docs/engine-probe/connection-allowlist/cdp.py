"""A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (fd 3 in, fd 4 out).

Only used to read what Chromium tells a developer: console messages (Log.entryAdded,
Runtime.consoleAPICalled), DevTools issues (Audits.issueAdded) and failed loads
(Network.loadingFailed).  It attaches to every page, popup, frame and worker as it starts.
"""
import json, os, threading, time

KEEP = {"Log.entryAdded", "Runtime.consoleAPICalled", "Audits.issueAdded", "Network.loadingFailed",
        "Runtime.exceptionThrown", "Network.webSocketFrameError", "Network.requestWillBeSent",
        "Network.webSocketCreated"}


def trim(method, params):
    """Keep only what the analysis reads from the chatty network events."""
    if method == "Network.requestWillBeSent":
        return {"requestId": params.get("requestId"), "url": params.get("request", {}).get("url"),
                "type": params.get("type"),
                "redirect": (params.get("redirectResponse") or {}).get("url")}
    if method == "Log.entryAdded":
        e = params.get("entry", {})
        return {"entry": {k: e.get(k) for k in ("level", "source", "text", "url")}}
    if method == "Network.loadingFailed":
        return {k: params.get(k) for k in ("requestId", "type", "errorText", "blockedReason", "canceled")}
    if method == "Network.webSocketCreated":
        return {"requestId": params.get("requestId"), "url": params.get("url")}
    return params


class CDP:
    def __init__(self, to_browser_fd, from_browser_fd, on_event):
        self.w = os.fdopen(to_browser_fd, "wb", buffering=0)
        self.r = os.fdopen(from_browser_fd, "rb", buffering=0)
        self.on_event = on_event
        self.n = 0
        self.lock = threading.Lock()
        self.sessions = {}
        self.alive = True
        threading.Thread(target=self._read, daemon=True).start()

    def send(self, method, params=None, session=None):
        with self.lock:
            self.n += 1
            msg = {"id": self.n, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            try:
                self.w.write(json.dumps(msg).encode() + b"\0")
            except OSError:
                self.alive = False
            return self.n

    def _attach_setup(self, session):
        for m in ("Runtime.enable", "Log.enable", "Audits.enable", "Network.enable"):
            self.send(m, session=session)
        self.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
                  session=session)
        self.send("Runtime.runIfWaitingForDebugger", session=session)

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.r.read(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.alive = False
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                m = msg.get("method")
                if m == "Target.attachedToTarget":
                    p = msg["params"]
                    self.sessions[p["sessionId"]] = p["targetInfo"].get("url")
                    self._attach_setup(p["sessionId"])
                elif m in KEEP:
                    self.on_event({"t": time.time(), "method": m, "session_url": self.sessions.get(msg.get("sessionId")),
                                   "params": trim(m, msg.get("params") or {})})

    def start(self):
        self.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True})
        self.send("Target.setDiscoverTargets", {"discover": True})

    def close_browser(self):
        self.send("Browser.close")
