"""CSP connect-src probe server.

Listens on 127.0.0.1 on several ports.  Every port sniffs the first byte of a
connection: 0x16 (TLS ClientHello) -> wrapped in TLS with certs/leaf.pem,
otherwise plain HTTP.  So http://X:443/ and https://X:80/ both work.

Endpoints (any port/host):
  /p/<pid>        test page for probe <pid>, served with the probe's raw CSP header bytes
  /next?pid=&r=   (control) record page result, 302 to next probe page
  /start?from=    (control) 302 to first probe page
  /r              CSP report sink (raw body + headers saved to reports/)
  /ws*            WebSocket endpoint (handshake completed, upgrade recorded)
  /es*            EventSource endpoint
  anything else   200 "ok" with ACAO:*
"""
import base64, hashlib, json, os, socket, ssl, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
CTL = "http://127.0.0.1:8090"


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.engine = "none"
        self.probes = {}       # pid -> probe dict
        self.order = []        # pid order
        self.results = {}      # pid -> page result dict
        self.requests = []     # list of request records
        self.current = None
        self.last_progress = time.time()
        self.done = False
        self.report_n = 0

    def next_pid(self, pid):
        i = self.order.index(pid)
        return self.order[i + 1] if i + 1 < len(self.order) else None


S = State()


def page_url(p):
    return f"{p['page']}/p/{p['pid']}"


PAGE_JS = r"""
const R = {pid:P.pid, ev:[], href:location.href, origin:self.origin};
document.addEventListener('securitypolicyviolation', e=>{R.ev.push({vd:e.violatedDirective, ed:e.effectiveDirective, bu:e.blockedURI, disp:e.disposition, op:e.originalPolicy, t:Math.round(performance.now())})});
const to = (ms)=>new Promise(r=>setTimeout(()=>r('timeout'),ms));
function done(){ setTimeout(()=>{ location.href = P.ctl + '/next?pid='+P.pid+'&r='+encodeURIComponent(JSON.stringify(R)); }, P.wait||500); }
async function run(){
  const u = P.target;
  try {
    switch(P.api){
    case 'fetch':
      R.out = await Promise.race([fetch(u,{mode:'no-cors',cache:'no-store'}).then(r=>'resolved:'+r.type+':'+r.status, e=>'rejected:'+e.name+':'+e.message), to(4000)]); break;
    case 'xhr':
      R.out = await Promise.race([new Promise(res=>{const x=new XMLHttpRequest(); x.open('GET',u); x.onload=()=>res('load:'+x.status); x.onerror=()=>res('error-event'); x.send();}), to(4000)]); break;
    case 'ws':
      R.out = await Promise.race([new Promise(res=>{const w=new WebSocket(u); w.onopen=()=>{res('open'); w.close();}; w.onerror=()=>res('error-event'); w.onclose=(e)=>res('close:'+e.code);}), to(4000)]); break;
    case 'es':
      R.out = await Promise.race([new Promise(res=>{const s=new EventSource(u); s.onopen=()=>{res('open'); s.close();}; s.onerror=()=>{res('error-event'); s.close();};}), to(4000)]); break;
    case 'beacon':
      R.out = 'returned:'+navigator.sendBeacon(u,'x'); await to(1200); break;
    case 'ping': {
      const a=document.createElement('a'); a.href='/blank?pid='+P.pid; a.target='sink'; a.ping=u; a.textContent='x';
      document.body.appendChild(a); a.click(); R.out='clicked'; await to(1500); break; }
    case 'typeof':
      R.out = typeof self[u]; break;
    }
  } catch(e) { R.out = 'sync-throw:'+e.name+':'+e.message; }
  done();
}
run();
"""


def build_page(p):
    cfg = {"pid": p["pid"], "api": p["api"], "target": p["target"], "ctl": CTL, "wait": p.get("wait", 500)}
    return ("<!doctype html><meta charset=utf-8><title>probe %s</title><body>"
            "<iframe name=sink style='display:none'></iframe><script>const P=%s;%s</script>"
            % (p["pid"], json.dumps(cfg), PAGE_JS)).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "probe"

    def log_message(self, fmt, *args):
        pass

    # raw response writer (header values are raw bytes, never re-encoded)
    def raw(self, status, headers, body=b""):
        out = [f"HTTP/1.1 {status}\r\n".encode()]
        hdrs = list(headers) + [(b"Content-Length", str(len(body)).encode()), (b"Connection", b"close"),
                                (b"Cache-Control", b"no-store")]
        for k, v in hdrs:
            if isinstance(k, str): k = k.encode()
            if isinstance(v, str): v = v.encode()
            out.append(k + b": " + v + b"\r\n")
        out.append(b"\r\n")
        self.wfile.write(b"".join(out) + body)
        self.wfile.flush()
        self.close_connection = True

    def record(self, body=None, kind="http"):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        pid = q.get("pid", [None])[0]
        with S.lock:
            attributed = pid if pid is not None else S.current
            rec = {"t": time.time(), "engine": S.engine, "pid": attributed, "tokened": pid is not None,
                   "scheme": "https" if self.server_tls else "http", "port": self.server.server_address[1],
                   "method": self.command, "host": self.headers.get("Host"), "path": self.path, "kind": kind,
                   "origin": self.headers.get("Origin"), "ctype": self.headers.get("Content-Type"),
                   "upgrade": self.headers.get("Upgrade"), "ping_to": self.headers.get("Ping-To")}
            S.requests.append(rec)
        return rec

    def do_OPTIONS(self):
        self.record(kind="preflight")
        self.raw("204 No Content", [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Headers", "*"),
                                    ("Access-Control-Allow-Methods", "*")])

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/r"):
            rec = self.record(kind="report")
            with S.lock:
                S.report_n += 1
                k = S.report_n
            base = os.path.join(HERE, "reports", f"{S.engine}-pid{rec['pid']}-{k}")
            with open(base + ".json", "wb") as f:
                f.write(body)
            with open(base + ".headers.txt", "w") as f:
                f.write(f"{self.command} {self.path} {self.request_version}\n")
                f.write(f"# received on port {self.server.server_address[1]} tls={self.server_tls}\n")
                for k2, v2 in self.headers.items():
                    f.write(f"{k2}: {v2}\n")
        else:
            self.record(kind="ping" if self.headers.get("Ping-To") or (self.headers.get("Content-Type") or "").startswith("text/ping") else "post")
        self.raw("200 OK", [("Access-Control-Allow-Origin", "*"), ("Content-Type", "text/plain")], b"ok")

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        path, q = u.path, urllib.parse.parse_qs(u.query)
        if path == "/favicon.ico":
            return self.raw("404 Not Found", [], b"")
        if path == "/start":
            frm = q.get("from", [S.order[0]])[0]
            S.last_progress = time.time()
            return self.raw("302 Found", [("Location", page_url(S.probes[frm]))])
        if path == "/next":
            pid = q.get("pid", [""])[0]
            try:
                r = json.loads(q.get("r", ["{}"])[0])
            except Exception as e:
                r = {"parse_error": str(e)}
            with S.lock:
                S.results[pid] = r
                S.last_progress = time.time()
            nxt = S.next_pid(pid) if pid in S.probes else None
            if nxt is None:
                S.done = True
                return self.raw("200 OK", [("Content-Type", "text/html")], b"<title>done</title>all done")
            return self.raw("302 Found", [("Location", page_url(S.probes[nxt]))])
        if path.startswith("/p/"):
            pid = path[3:]
            p = S.probes.get(pid)
            if not p:
                return self.raw("404 Not Found", [], b"no probe")
            with S.lock:
                S.current = pid
                S.last_progress = time.time()
            self.record(kind="page")
            hdrs = [("Content-Type", "text/html; charset=utf-8")] + [(k, v) for k, v in p["policy"]]
            return self.raw("200 OK", hdrs, build_page(p))
        if path == "/blank":
            self.record(kind="blank")
            return self.raw("200 OK", [("Content-Type", "text/html")], b"blank")
        if path.startswith("/ws") and (self.headers.get("Upgrade") or "").lower() == "websocket":
            self.record(kind="ws-upgrade")
            key = self.headers.get("Sec-WebSocket-Key", "")
            acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              f"Sec-WebSocket-Accept: {acc}\r\n\r\n").encode())
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.settimeout(3)
                self.connection.recv(1024)
            except Exception:
                pass
            return
        if path.startswith("/es"):
            self.record(kind="eventsource")
            return self.raw("200 OK", [("Content-Type", "text/event-stream"), ("Access-Control-Allow-Origin", "*")],
                            b"data: hi\n\n")
        self.record(kind="get")
        self.raw("200 OK", [("Access-Control-Allow-Origin", "*"), ("Content-Type", "text/plain")], b"ok")


class SniffServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ctx):
        self.ctx = ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        tls = False
        try:
            request.settimeout(10)
            first = request.recv(1, socket.MSG_PEEK)
            if first == b"\x16":
                request = self.ctx.wrap_socket(request, server_side=True)
                tls = True
            request.settimeout(None)
        except Exception:
            return
        h = Handler.__new__(Handler)
        h.server_tls = tls
        Handler.__init__(h, request, client_address, self)

    def handle_error(self, request, client_address):
        pass


def start_servers(ports):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(HERE, "certs/leaf.pem"), os.path.join(HERE, "certs/leaf.key"))
    ctx.set_alpn_protocols(["http/1.1"])
    servers = []
    for port in ports:
        s = SniffServer(("127.0.0.1", port), ctx)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
    return servers
