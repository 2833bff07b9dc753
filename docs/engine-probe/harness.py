#!/usr/bin/env python3
"""Run all probes in one engine.  Usage: harness.py ENGINE [--only G1,G2] [--pids 1,2]
ENGINE in chromium|firefox|webkit.  Writes results/<engine>.json
Requires Xvfb on :99 for webkit (started separately, see run_all.sh)."""
import json, os, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server
from server import S
import cases

HERE = os.path.dirname(os.path.abspath(__file__))
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"

FF_PREFS = {
    "browser.shell.checkDefaultBrowser": False, "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False, "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False, "toolkit.telemetry.unified": False, "app.update.enabled": False,
    "app.update.auto": False, "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False, "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False, "browser.safebrowsing.provider.mozilla.updateURL": "",
    "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
    "extensions.update.enabled": False, "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False, "browser.newtabpage.enabled": False,
    "browser.region.network.url": "", "browser.search.geoip.url": "", "browser.search.update": False,
    "services.settings.server": "http://127.0.0.1:9/", "network.dns.disablePrefetch": True,
    "network.prefetch-next": False, "network.predictor.enabled": False,
    "media.gmp-manager.url": "", "media.gmp-gmpopenh264.enabled": False,
    "browser.ping-centre.telemetry": False, "browser.aboutwelcome.enabled": False,
    "dom.security.https_only_mode": False, "browser.tabs.warnOnClose": False,
    "browser.sessionstore.resume_from_crash": False, "toolkit.startup.max_resumed_crashes": -1,
    "network.trr.mode": 5, "browser.contentblocking.report.lockwise.enabled": False,
    # <a ping> is off by default in Firefox; turned on so CSP handling of pings can be observed
    "browser.send_pings": True, "browser.send_pings.require_same_host": False,
}


def ff_profile():
    d = tempfile.mkdtemp(prefix="ffprof-", dir=os.path.join(HERE, "tmp"))
    with open(os.path.join(d, "user.js"), "w") as f:
        for k, v in FF_PREFS.items():
            f.write(f'user_pref("{k}", {json.dumps(v)});\n')
    subprocess.run(["certutil", "-N", "-d", "sql:" + d, "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-n", "probe-ca", "-t", "C,,", "-i", os.path.join(HERE, "certs/ca.pem"),
                    "-d", "sql:" + d], check=True)
    return d


def launch(engine, url, log):
    env = dict(os.environ)
    if engine == "chromium":
        ud = tempfile.mkdtemp(prefix="chr-", dir=os.path.join(HERE, "tmp"))
        cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--ignore-certificate-errors", "--user-data-dir=" + ud, url]
    elif engine == "firefox":
        prof = ff_profile()
        cmd = ["firefox-esr", "--headless", "--no-remote", "--profile", prof, url]
        env["MOZ_DISABLE_AUTO_SAFE_MODE"] = "1"
    elif engine == "webkit":
        tmp = tempfile.mkdtemp(prefix="wk-", dir=os.path.join(HERE, "tmp"))
        env.update(DISPLAY=":99", XDG_DATA_HOME=tmp + "/data", XDG_CACHE_HOME=tmp + "/cache",
                   XDG_CONFIG_HOME=tmp + "/config")
        cmd = [MINIBROWSER, "--ignore-tls-errors", "--enable-hyperlink-auditing=true", url]
    else:
        raise SystemExit("bad engine")
    log.write(f"\n### {time.ctime()} launch: {' '.join(cmd)}\n")
    log.flush()
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)


def kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # group created by start_new_session for this process only
    except ProcessLookupError:
        return
    for _ in range(30):
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def main():
    engine = sys.argv[1]
    only = None
    pids = None
    if "--only" in sys.argv:
        only = set(sys.argv[sys.argv.index("--only") + 1].split(","))
    if "--pids" in sys.argv:
        pids = set(sys.argv[sys.argv.index("--pids") + 1].split(","))
    probes = [p for p in cases.PROBES if (only is None or p["group"] in only) and (pids is None or p["pid"] in pids)]
    os.makedirs(os.path.join(HERE, "tmp"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    S.engine = engine
    S.probes = {p["pid"]: p for p in probes}
    S.order = [p["pid"] for p in probes]
    servers = server.start_servers([80, 443, cases.P1, cases.P2, 8090])
    log = open(os.path.join(HERE, "results", f"{engine}.browser.log"), "a")
    timeouts = {}
    start = S.order[0]
    while start is not None:
        S.done = False
        S.current = None
        S.last_progress = time.time()
        proc = launch(engine, f"{server.CTL}/start?from={start}", log)
        launch_from, start = start, None
        while True:
            time.sleep(0.3)
            with open(os.path.join(HERE, "results", f"{engine}.progress"), "w") as pf:
                pf.write(f"current={S.current} results={len(S.results)}/{len(S.order)} timeouts={timeouts}\n")
            if S.done:
                break
            if proc.poll() is not None or time.time() - S.last_progress > 25:
                # stuck: find the probe that did not report
                cur = S.current
                if cur is None:
                    stuck = launch_from
                elif cur in S.results:
                    stuck = S.next_pid(cur)
                else:
                    stuck = cur
                if stuck is not None:
                    timeouts[stuck] = "browser-exited" if proc.poll() is not None else "timeout"
                    log.write(f"### probe {stuck} {timeouts[stuck]}\n")
                    nxt = S.next_pid(stuck)
                    start = nxt
                break
        kill(proc)
    out = []
    for p in probes:
        reqs = [r for r in S.requests if r["pid"] == p["pid"] and r["kind"] not in ("page", "blank")]
        out.append(dict(probe={k: (v if k != "policy" else [(h, val.decode("latin-1")) for h, val in v])
                               for k, v in p.items()},
                        result=S.results.get(p["pid"]), timeout=timeouts.get(p["pid"]), requests=reqs))
    fn = os.path.join(HERE, "results", f"{engine}.json")
    merged = {}
    if os.path.exists(fn):  # partial re-runs (--only/--pids) update entries in place
        merged = {x["probe"]["pid"]: x for x in json.load(open(fn))}
    for x in out:
        merged[x["probe"]["pid"]] = x
    with open(fn, "w") as f:
        json.dump(sorted(merged.values(), key=lambda x: int(x["probe"]["pid"])), f, indent=1)
    for s in servers:
        s.shutdown()
        s.server_close()
    print("done", engine, len(S.results), "results,", len(timeouts), "timeouts")


if __name__ == "__main__":
    main()
