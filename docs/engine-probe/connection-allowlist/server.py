"""Probe server for the Connection-Allowlist measurements (Python standard library only).

Listens on ADDR (127.0.0.21, loopback only) on PORTS.  Every accepted connection is
recorded (so a bare preconnect shows up), then its first byte decides: 0x16 (a TLS
ClientHello) -> TLS with certs/leaf.pem, anything else -> plain HTTP.  So http://h:443/ and
https://h:80/ both work.  A UDP socket on STUN_PORT records STUN binding requests (WebRTC).

Paths are free for URLPattern tests: what a response is depends on the request, not the path.
  GET  /ctl?run=..           controller page (opens each probe page in a popup or an iframe)
  POST /ctl/result           a probe page's result JSON (relayed by the controller)
  GET  /ctl/next             controller asks for its next probe (JSON) -- the server keeps the order
  GET  /p/<pid>              probe page, served with the probe's raw header list
  GET  /redir?to=URL&code=N  redirect (any host/port)
  POST /r*                   Reporting API / report-uri sink: body and headers saved
  Upgrade: websocket         handshake completed, any path
  Accept: text/event-stream  one event, any path
  Sec-Fetch-Dest: script / style / image / iframe / document  a body of that type
  anything else              200 "ok" with Access-Control-Allow-Origin: *
Every request is recorded with its probe tag (query parameter cap=<pid>.<n>), or with the
probe page being shown when untagged.
"""
import base64, hashlib, json, os, socket, ssl, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ADDR = "127.0.0.21"
PORTS = [80, 443, 8080, 8443, 8090]
STUN_PORT = 3478
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset("none", [], {})

    def reset(self, engine, order, probes, outdir=None):
        self.engine = engine
        self.order = order
        self.probes = probes
        self.outdir = outdir
        self.pos = 0
        self.current = None
        self.results = {}
        self.requests = []
        self.accepts = []
        self.udp = []
        self.reports = []
        self.last_progress = time.time()
        self.done = False

    def rec(self, lst, item):
        with self.lock:
            item.setdefault("t", time.time())
            item.setdefault("during", self.current)
            lst.append(item)


S = State()


def tag_of(query):
    q = urllib.parse.parse_qs(query)
    return q.get("cap", [None])[0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "probe"

    def log_message(self, fmt, *args):
        pass

    def raw(self, status, headers, body=b""):
        out = [f"HTTP/1.1 {status}\r\n".encode()]
        hdrs = list(headers) + [(b"Content-Length", str(len(body)).encode()), (b"Connection", b"close"),
                                (b"Cache-Control", b"no-store")]
        for k, v in hdrs:
            k = k.encode() if isinstance(k, str) else k
            v = v.encode("latin-1") if isinstance(v, str) else v
            out.append(k + b": " + v + b"\r\n")
        out.append(b"\r\n")
        self.wfile.write(b"".join(out) + (body if self.command != "HEAD" else b""))
        self.wfile.flush()
        self.close_connection = True

    def record(self, kind, extra=None):
        u = urllib.parse.urlsplit(self.path)
        rec = {"kind": kind, "scheme": "https" if self.server_tls else "http",
               "port": self.server.server_address[1], "method": self.command, "host": self.headers.get("Host"),
               "path": self.path, "tag": tag_of(u.query), "conn": self.conn_id,
               "dest": self.headers.get("Sec-Fetch-Dest"), "mode": self.headers.get("Sec-Fetch-Mode"),
               "purpose": self.headers.get("Sec-Purpose") or self.headers.get("Purpose"),
               "origin": self.headers.get("Origin"), "referer": self.headers.get("Referer"),
               "ctype": self.headers.get("Content-Type"), "ping_to": self.headers.get("Ping-To")}
        if extra:
            rec.update(extra)
        S.rec(S.requests, rec)
        return rec

    def do_OPTIONS(self):
        self.record("preflight")
        self.raw("204 No Content", [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Headers", "*"),
                                    ("Access-Control-Allow-Methods", "*")])

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = urllib.parse.urlsplit(self.path).path
        if path == "/ctl/result":
            try:
                r = json.loads(body)
            except Exception as e:
                r = {"parse_error": str(e), "raw": body.decode("latin-1")[:2000]}
            with S.lock:
                S.results.setdefault(r.get("pid"), []).append(r)
                S.last_progress = time.time()
            return self.raw("204 No Content", [("Access-Control-Allow-Origin", "*")])
        if path.startswith("/r"):
            rec = self.record("report")
            try:
                parsed = json.loads(body)
            except Exception:
                parsed = None
            S.rec(S.reports, {"tag": rec["tag"], "path": self.path, "port": rec["port"], "scheme": rec["scheme"],
                              "headers": [[k, v] for k, v in self.headers.items()],
                              "body": body.decode("utf-8", "replace"), "json": parsed})
            return self.raw("204 No Content", [("Access-Control-Allow-Origin", "*")])
        self.record("ping" if self.headers.get("Ping-To") or (self.headers.get("Content-Type") or "").startswith(
            "text/ping") else "post")
        self.raw("200 OK", [("Access-Control-Allow-Origin", "*"), ("Content-Type", "text/plain")], b"ok")

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        path, q = u.path, urllib.parse.parse_qs(u.query)
        if path == "/favicon.ico":
            return self.raw("404 Not Found", [], b"")
        if path == "/ctl":
            return self.raw("200 OK", [("Content-Type", "text/html; charset=utf-8")], controller_page(q))
        if path == "/ctl/next":
            with S.lock:
                S.last_progress = time.time()
                if S.pos >= len(S.order):
                    S.done = True
                    nxt = None
                else:
                    nxt = S.probes[S.order[S.pos]]
                    S.pos += 1
                    S.current = nxt["pid"]
            body = json.dumps(None if nxt is None else {"pid": nxt["pid"], "url": nxt["url"], "wait": nxt["wait"],
                                                        "ctx": nxt.get("ctx", "popup")}).encode()
            return self.raw("200 OK", [("Content-Type", "application/json")], body)
        if path.startswith("/p/"):
            pid = path[3:]
            p = S.probes.get(pid)
            if not p:
                return self.raw("404 Not Found", [], b"no probe")
            self.record("page", {"tag": pid})
            hdrs = [("Content-Type", "text/html; charset=utf-8")] + [(k, v) for k, v in p["headers"]]
            return self.raw("200 OK", hdrs, probe_page(p))
        if path.endswith("/redir"):
            self.record("redirect")
            code = q.get("code", ["302"])[0]
            return self.raw(f"{code} Redirect", [("Location", q["to"][0]), ("Access-Control-Allow-Origin", "*")])
        if (self.headers.get("Upgrade") or "").lower() == "websocket":
            self.record("ws")
            key = self.headers.get("Sec-WebSocket-Key", "")
            acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
            self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Accept: " + acc + b"\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.settimeout(3)
                self.connection.recv(1024)
            except Exception:
                pass
            return
        if "text/event-stream" in (self.headers.get("Accept") or ""):
            self.record("es")
            return self.raw("200 OK", [("Content-Type", "text/event-stream"), ("Access-Control-Allow-Origin", "*")],
                            b"data: hi\n\n")
        dest = self.headers.get("Sec-Fetch-Dest") or ""
        self.record("get")
        if dest == "script":
            return self.raw("200 OK", [("Content-Type", "text/javascript"), ("Access-Control-Allow-Origin", "*")],
                            b"/* ok */")
        if dest == "style":
            return self.raw("200 OK", [("Content-Type", "text/css"), ("Access-Control-Allow-Origin", "*")],
                            b"/* ok */")
        if dest == "image":
            return self.raw("200 OK", [("Content-Type", "image/gif"), ("Access-Control-Allow-Origin", "*")], GIF)
        if dest in ("iframe", "document", "frame"):
            return self.raw("200 OK", [("Content-Type", "text/html")], b"<!doctype html><title>landed</title>landed")
        self.raw("200 OK", [("Access-Control-Allow-Origin", "*"), ("Content-Type", "text/plain")], b"ok")


CONN_N = [0]


class SniffServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ctx):
        self.ctx = ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        with S.lock:
            CONN_N[0] += 1
            cid = CONN_N[0]
        tls = False
        first = b""
        try:
            request.settimeout(10)
            first = request.recv(1, socket.MSG_PEEK)
            if first == b"\x16":
                request = self.ctx.wrap_socket(request, server_side=True)
                tls = True
            request.settimeout(None)
        except Exception as e:
            S.rec(S.accepts, {"port": self.server_address[1], "conn": cid, "tls": tls, "first": first.hex(),
                              "error": type(e).__name__})
            return
        S.rec(S.accepts, {"port": self.server_address[1], "conn": cid, "tls": tls, "first": first.hex(),
                          "sni": getattr(request, "sni_name", None)})
        h = Handler.__new__(Handler)
        h.server_tls = tls
        h.conn_id = cid
        try:
            request.settimeout(10)
            Handler.__init__(h, request, client_address, self)
        except Exception:
            pass

    def handle_error(self, request, client_address):
        pass


def stun_loop(sock):
    while True:
        try:
            data, addr = sock.recvfrom(2048)
        except OSError:
            return
        S.rec(S.udp, {"from": addr[1], "len": len(data), "head": data[:4].hex()})
        # answer a STUN binding request so gathering completes
        if len(data) >= 20 and data[0:2] == b"\x00\x01":
            tid = data[4:20]
            port = addr[1] ^ 0x2112
            ip = bytes(a ^ b for a, b in zip(socket.inet_aton(addr[0]), b"\x21\x12\xa4\x42"))
            attr = b"\x00\x20\x00\x08\x00\x01" + port.to_bytes(2, "big") + ip
            msg = b"\x01\x01" + len(attr).to_bytes(2, "big") + tid + attr
            try:
                sock.sendto(msg, addr)
            except OSError:
                pass


def start_servers():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(HERE, "certs/leaf.pem"), os.path.join(HERE, "certs/leaf.key"))
    ctx.set_alpn_protocols(["http/1.1"])

    def sni(sslsock, name, _ctx):
        try:
            sslsock.sni_name = name
        except Exception:
            pass
    ctx.sni_callback = sni
    servers = []
    for port in PORTS:
        s = SniffServer((ADDR, port), ctx)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((ADDR, STUN_PORT))
    threading.Thread(target=stun_loop, args=(u,), daemon=True).start()
    return servers, u


def stop_servers(handles):
    servers, u = handles
    for s in servers:
        s.shutdown()
        s.server_close()
    u.close()


# ---------------------------------------------------------------- pages

CONTROLLER_JS = r"""
const log = (m)=>{ document.getElementById('log').textContent += m + '\n'; };
async function post(r){ await fetch('/ctl/result', {method:'POST', body: JSON.stringify(r)}); }
let pending = null;
window.addEventListener('message', (e)=>{
  if (!e.data || !e.data.probe) return;
  const r = e.data.probe; r.via = 'postMessage'; r.from = e.origin;
  post(r);
  if (pending && r.final && r.pid === pending.pid) { pending.resolve(); }
});
async function run(){
  while (true) {
    const n = await (await fetch('/ctl/next', {cache:'no-store'})).json();
    if (!n) break;
    log('probe ' + n.pid);
    let w = null, fr = null;
    const finished = new Promise(res=>{ pending = {pid:n.pid, resolve:res}; });
    if (n.ctx === 'iframe') {
      fr = document.createElement('iframe'); fr.src = n.url; fr.style = 'width:400px;height:200px';
      document.body.appendChild(fr);
    } else {
      w = window.open(n.url, 'probe' + n.pid);
    }
    await Promise.race([finished, new Promise(r=>setTimeout(r, n.wait))]);
    // linger: late events (navigations, reports) are recorded by the server meanwhile
    await new Promise(r=>setTimeout(r, n.linger || 150));
    try { if (w) w.close(); } catch(e) {}
    if (fr) fr.remove();
  }
  document.title = 'all done';
  log('done');
}
run();
"""


def controller_page(q):
    return ("<!doctype html><meta charset=utf-8><title>controller</title><pre id=log></pre><script>%s</script>"
            % CONTROLLER_JS).encode()


PROBE_JS = r"""
const R = {probe:true, pid:P.pid, href:location.href, origin:self.origin, out:[], ev:[], rep:[], t0:Date.now()};
document.addEventListener('securitypolicyviolation', e=>{R.ev.push({ed:e.effectiveDirective, bu:e.blockedURI, disp:e.disposition, t:Math.round(performance.now())})});
try { new ReportingObserver((rs)=>{ for (const r of rs) R.rep.push(JSON.parse(JSON.stringify(r.toJSON ? r.toJSON() : {type:r.type, url:r.url, body:r.body}))); }, {buffered:true}).observe(); } catch(e) { R.roerr = String(e); }
const sleep = (ms)=>new Promise(r=>setTimeout(()=>r('timeout'),ms));
const parent_ = window.opener || (window.parent !== window ? window.parent : null);
function send(final){ R.final = final; R.t = Date.now() - R.t0; try { parent_.postMessage({probe: JSON.parse(JSON.stringify(R))}, '*'); } catch(e) {} }
function el(tag, attrs){ const x = document.createElement(tag); for (const k in attrs) x.setAttribute(k, attrs[k]); return x; }
function loadEvent(x, ms){ return Promise.race([new Promise(r=>{ x.onload=()=>r('load'); x.onerror=()=>r('error'); }), sleep(ms)]); }
const API = {
  async fetch(u){ return fetch(u,{mode:'no-cors',cache:'no-store'}).then(r=>'resolved:'+r.type+':'+r.status, e=>'rejected:'+e.name+':'+e.message); },
  async fetch_cors(u){ return fetch(u,{cache:'no-store'}).then(r=>'resolved:'+r.type+':'+r.status, e=>'rejected:'+e.name+':'+e.message); },
  async xhr(u){ return new Promise(res=>{const x=new XMLHttpRequest(); x.open('GET',u); x.onload=()=>res('load:'+x.status); x.onerror=()=>res('error-event'); x.send();}); },
  async ws(u){ return new Promise(res=>{const w=new WebSocket(u); w.onopen=()=>{res('open'); w.close();}; w.onerror=()=>res('error-event'); w.onclose=(e)=>res('close:'+e.code);}); },
  async es(u){ return new Promise(res=>{const s=new EventSource(u); s.onopen=()=>{res('open'); s.close();}; s.onerror=()=>{res('error-event'); s.close();};}); },
  async beacon(u){ const r = navigator.sendBeacon(u,'x'); await sleep(400); return 'returned:'+r; },
  async fetchlater(u){ if (typeof fetchLater !== 'function') return 'no-fetchLater'; const r = fetchLater(u,{method:'POST', body:'x', activateAfter:0}); await sleep(1500); return 'activated:'+r.activated; },
  async ping(u){ const a=el('a',{href:'#pinged', ping:u}); a.textContent='x'; document.body.appendChild(a); a.click(); await sleep(700); return 'clicked'; },
  async ping_nav(u, x){ const f=el('iframe',{name:'pingsink', style:'display:none'}); document.body.appendChild(f); const a=el('a',{href:x.href, ping:u, target:'pingsink'}); a.textContent='x'; document.body.appendChild(a); a.click(); await sleep(900); return 'clicked'; },
  async img(u){ const i=new Image(); const p=loadEvent(i, 3000); i.src=u; return p; },
  async script(u){ const s=el('script',{src:u}); const p=loadEvent(s,3000); document.head.appendChild(s); return p; },
  async style(u){ const s=el('link',{rel:'stylesheet', href:u}); const p=loadEvent(s,3000); document.head.appendChild(s); return p; },
  async preload(u){ const s=el('link',{rel:'preload', as:'fetch', crossorigin:'anonymous', href:u}); const p=loadEvent(s,3000); document.head.appendChild(s); return p; },
  async preload_img(u){ const s=el('link',{rel:'preload', as:'image', href:u}); const p=loadEvent(s,3000); document.head.appendChild(s); return p; },
  async prefetch(u){ const s=el('link',{rel:'prefetch', href:u}); const p=loadEvent(s,3000); document.head.appendChild(s); return p; },
  async dnsprefetch(u){ document.head.appendChild(el('link',{rel:'dns-prefetch', href:u})); await sleep(1200); return 'inserted'; },
  async preconnect(u){ document.head.appendChild(el('link',{rel:'preconnect', href:u})); await sleep(1200); return 'inserted'; },
  async iframe(u){ const f=el('iframe',{src:u}); const p=loadEvent(f,3000); document.body.appendChild(f); const r = await p; let acc; try { acc = f.contentDocument ? 'same-origin-doc:'+f.contentDocument.URL : 'no-access'; } catch(e) { acc='cross-origin'; } return r+':'+acc; },
  async iframe_nav(u){ const f=el('iframe',{src:'about:blank'}); document.body.appendChild(f); await sleep(100); f.contentWindow.location.href = u; await sleep(1200); let acc; try { acc = 'doc:'+f.contentDocument.URL; } catch(e) { acc='cross-origin'; } return acc; },
  async srcdoc_self(u){ const f=el('iframe',{srcdoc:'<script>location.href='+JSON.stringify(u)+'<\/script>'}); document.body.appendChild(f); await sleep(1200); let acc; try { acc = 'doc:'+f.contentDocument.URL; } catch(e) { acc='cross-origin'; } return acc; },
  async worker(u){ try { const w = new Worker(u); return await Promise.race([new Promise(r=>{ w.onerror=()=>r('error-event'); }), sleep(1200)]); } catch(e) { return 'throw:'+e.name; } },
  async data(u){ return fetch('data:text/plain,hi').then(r=>r.text()).then(t=>'resolved:'+t, e=>'rejected:'+e.name); },
  async blob(u){ const b = URL.createObjectURL(new Blob(['hi'])); return fetch(b).then(r=>r.text()).then(t=>'resolved:'+t, e=>'rejected:'+e.name); },
  async webrtc(u, x){
    let pc; try { pc = new RTCPeerConnection({iceServers:[{urls:u}]}); } catch(e) { return 'ctor-throw:'+e.name+':'+e.message; }
    const cands = [];
    pc.onicecandidate = (e)=>{ if (e.candidate) cands.push(e.candidate.type||'?'); };
    try { pc.createDataChannel('x'); const o = await pc.createOffer(); await pc.setLocalDescription(o); } catch(e) { return 'throw:'+e.name+':'+e.message; }
    await Promise.race([new Promise(r=>{ pc.onicegatheringstatechange=()=>{ if (pc.iceGatheringState==='complete') r(); }; }), sleep(4000)]);
    const st = pc.iceGatheringState; pc.close(); return 'gathering:'+st+':cands='+cands.join(',');
  },
  async typeof(u){ return typeof self[u]; },
  // navigations: the page may be gone afterwards; the server's log decides
  async nav_link(u){ const a=el('a',{href:u}); a.textContent='go'; document.body.appendChild(a); send(false); a.click(); await sleep(1500); return 'still-here'; },
  async nav_assign(u){ send(false); location.assign(u); await sleep(1500); return 'still-here'; },
  async nav_form(u){ const x=new URL(u); const f=el('form',{action:x.origin+x.pathname, method:'GET'}); for (const [k,v] of x.searchParams) { const i=el('input',{type:'hidden', name:k, value:v}); f.appendChild(i); } document.body.appendChild(f); send(false); f.submit(); await sleep(1500); return 'still-here'; },
  async nav_form_post(u){ const f=el('form',{action:u, method:'POST'}); document.body.appendChild(f); send(false); f.submit(); await sleep(1500); return 'still-here'; },
  async nav_open(u){ let w; try { w = window.open(u, '_blank'); } catch(e) { return 'throw:'+e.name; } await sleep(1500); try { w && w.close(); } catch(e) {} return 'opened:'+(w?'window':'null'); },
  async nav_blank_link(u){ const a=el('a',{href:u, target:'_blank'}); a.textContent='go'; document.body.appendChild(a); a.click(); await sleep(1500); return 'clicked'; },
};
async function run(){
  for (let i = 0; i < P.attempts.length; i++) {
    const a = P.attempts[i];
    let out;
    try { out = await Promise.race([API[a.api](a.url, a), sleep(a.timeout || 4000)]); }
    catch(e) { out = 'sync-throw:'+e.name+':'+e.message; }
    R.out.push({i, api:a.api, url:a.url, out});
    if (a.pause) await sleep(a.pause);
  }
  await sleep(P.settle);
  send(true);
}
run();
"""


def probe_page(p):
    cfg = {"pid": p["pid"], "attempts": p["attempts"], "settle": p.get("settle", 200)}
    return ("<!doctype html><meta charset=utf-8><title>probe %s</title><body>"
            "<script>const P=%s;%s</script>" % (p["pid"], json.dumps(cfg), PROBE_JS)).encode()
