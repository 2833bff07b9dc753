//! The browsers: which are installed, how each is started, and the guards that stop them
//! (and the X server WebKit needs) by process group.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Engine {
    Chromium,
    Firefox,
    /// WebKitGTK's MiniBrowser (package webkit2gtk-driver). It has no headless mode, so it
    /// runs on an Xvfb display the suite starts for it.
    WebKit,
}

/// MiniBrowser is not on PATH: the package installs it here.
const MINIBROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

impl Engine {
    pub(crate) const ALL: [Engine; 3] = [Engine::Chromium, Engine::Firefox, Engine::WebKit];

    pub(crate) fn binary(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox-esr",
            Engine::WebKit => MINIBROWSER,
        }
    }
    pub(crate) fn name(self) -> &'static str {
        self.verdict_engine().as_str()
    }
    /// The column of `check()`'s verdict this browser is held to.
    pub(crate) fn verdict_engine(self) -> connect_src::matcher::Engine {
        match self {
            Engine::Chromium => connect_src::matcher::Engine::Chromium,
            Engine::Firefox => connect_src::matcher::Engine::Firefox,
            Engine::WebKit => connect_src::matcher::Engine::WebKit,
        }
    }
    /// Whether the page can try this API at all. `fetchLater` exists in Chromium only
    /// (`typeof fetchLater` is "undefined" in WebKitGTK 2.50 and Firefox ESR 153); `<a ping>`
    /// is sent by all three once Firefox's `browser.send_pings` is on (FIREFOX_PREFS) and
    /// MiniBrowser's `--enable-hyperlink-auditing=true` is given.
    pub(crate) fn has_api(self, api: &str) -> bool {
        api != "fetchLater" || self == Engine::Chromium
    }
    /// What a legacy (report-uri) report's `disposition` reads as in the collector. WebKit's
    /// body has no `disposition` field at all, for enforced and report-only policies alike:
    /// the collector knows a report-only one by the marker on the report-only header's
    /// report-uri (`connect_src::policy::REPORT_ONLY_MARKER`), and can only say "unknown" otherwise.
    pub(crate) fn legacy_disposition(
        self,
        d: connect_src::report::store::Disposition,
    ) -> connect_src::report::store::Disposition {
        match (self, d) {
            (Engine::WebKit, connect_src::report::store::Disposition::Enforce) => {
                connect_src::report::store::Disposition::Unknown
            }
            _ => d,
        }
    }
    /// Whether the engine sends no report at all from this page, measured: Firefox sends no
    /// report-uri report from an http page on a name that is not a loopback name when the
    /// page carries `upgrade-insecure-requests` (the same page without the directive
    /// reports; an https page with it reports; Chromium and WebKit report from all three).
    pub(crate) fn silent_page(self, page: &str, upgrades: bool) -> bool {
        let Ok(url) = url::Url::parse(page) else {
            return false;
        };
        let loopback = url.host_str().is_some_and(|h| {
            h == "localhost" || h.ends_with(".localhost") || h.starts_with("127.")
        });
        self == Engine::Firefox && upgrades && url.scheme() == "http" && !loopback
    }
    /// Whether `upgrade-insecure-requests` on `page` sends an http/ws request to `url`
    /// upgraded (measured by the scheme the server saw): WebKit always; Chromium unless
    /// `url` is on a loopback name; Firefox, for fetch, XHR, EventSource and sendBeacon,
    /// unless `url` is on a loopback name, and for a WebSocket unless the page is on a
    /// loopback name and either `url` is too or the page is https (then a ws: URL to
    /// another host is refused as mixed content, SecurityError, before CSP is asked).
    pub(crate) fn upgrades(self, page: &url::Url, url: &url::Url, websocket: bool) -> bool {
        let loopback = |u: &url::Url| {
            u.host_str().is_some_and(|h| {
                h == "localhost" || h.ends_with(".localhost") || h.starts_with("127.")
            })
        };
        match self {
            Engine::WebKit => true,
            Engine::Chromium => !loopback(url),
            Engine::Firefox if websocket => {
                !(loopback(page) && (loopback(url) || page.scheme() == "https"))
            }
            Engine::Firefox => !loopback(url),
        }
    }
    /// How the engine delivers `report-to` reports (given `Reporting-Endpoints` and
    /// `report-uri` too, on an https page, it sends only these): Chromium and Firefox POST
    /// arrays of reports, WebKit one report object per POST (as Safari does).
    pub(crate) fn report_to_format(self) -> connect_src::report::store::ReportFormat {
        match self {
            Engine::WebKit => connect_src::report::store::ReportFormat::ReportingApiSingle,
            _ => connect_src::report::store::ReportFormat::ReportingApi,
        }
    }
    /// The programs this engine needs. WebKit resolves the non-loopback test names through
    /// a hosts file of its own, bind-mounted in a private mount namespace (`unshare`).
    fn needs(self) -> Vec<&'static str> {
        match self {
            Engine::WebKit => vec![MINIBROWSER, "Xvfb", "unshare"],
            e => vec![e.binary()],
        }
    }
}

fn which(bin: &str) -> Option<PathBuf> {
    if bin.starts_with('/') {
        return Some(PathBuf::from(bin)).filter(|p| p.is_file());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(bin))
        .find(|p| p.is_file())
}

pub(crate) fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether every program the engine needs is installed. With CI=true a missing one fails
/// the suite; locally it is skipped with a loud line.
pub(crate) fn browser_available(engine: Engine) -> bool {
    // For working on one engine: CONNECT_SRC_BROWSERS=webkit (a comma list) runs only those.
    if let Ok(only) = std::env::var("CONNECT_SRC_BROWSERS") {
        assert!(
            !ci(),
            "CONNECT_SRC_BROWSERS={only} is for local work: with CI=true every engine runs"
        );
        if !only.split(',').any(|e| e.trim() == engine.name()) {
            eprintln!(
                "\n!!!!!! SKIPPED {}: not in CONNECT_SRC_BROWSERS={only} !!!!!!\n",
                engine.name()
            );
            return false;
        }
    }
    let missing: Vec<&str> = engine
        .needs()
        .into_iter()
        .filter(|b| which(b).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if ci() {
        panic!(
            "{} not installed and CI=true: the browser suite must run in CI ({} skipped)",
            missing.join(", "),
            engine.name()
        );
    }
    eprintln!(
        "\n!!!!!! SKIPPED {}: {} not installed (bash scripts/test.sh installs it) !!!!!!\n",
        engine.name(),
        missing.join(", ")
    );
    false
}

/// Names that are not loopback names yet must reach the test server on 127.0.0.1:
/// `upgrade-insecure-requests` is only measurable on them, since Chromium never upgrades a
/// loopback name. Each engine is told by its own means, never through the machine's
/// `/etc/hosts`: Chromium's `--host-resolver-rules`, Firefox's `network.dns.localDomains`,
/// and for WebKit (which asks the system resolver) a hosts file bind-mounted over
/// `/etc/hosts` in a mount namespace only MiniBrowser and its helpers see.
pub(crate) const NON_LOOPBACK_NAMES: [&str; 2] = ["uir.test", "c.uir.test"];

fn fresh_dir(name: &str) -> PathBuf {
    // One per launch: two browsers of one engine on one profile would be one process (the
    // second hands its URL to the first and exits).
    static LAUNCHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!(
        "connect-src-browser-{name}-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `browser.send_pings`: Firefox ships with `<a ping>` off (never sent, not even blocked);
/// the suite turns it on so pings are measured like in the other engines.
const FIREFOX_PREFS: &str = r#"
user_pref("dom.security.https_first", false);
user_pref("dom.security.https_first_pbm", false);
user_pref("dom.security.https_only_mode", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.auto", false);
user_pref("app.update.enabled", false);
user_pref("app.normandy.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.ping-centre.telemetry", false);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("browser.send_pings", true);
user_pref("network.dns.localDomains", "uir.test,c.uir.test");
"#;

/// Trusts the test CA in a fresh Firefox profile (NSS database, via certutil).
fn trust_in_firefox_profile(dir: &Path, ca_pem: &str) {
    let ca = dir.join("test-ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let db = format!("sql:{}", dir.display());
    let ok = |args: &[&str]| {
        let st = Command::new("certutil")
            .args(args)
            .status()
            .expect("certutil (libnss3-tools) is needed");
        assert!(st.success(), "certutil {args:?} failed");
    };
    ok(&["-N", "-d", &db, "--empty-password"]);
    ok(&[
        "-A",
        "-n",
        "connect-src-test-ca",
        "-t",
        "CT,,",
        "-i",
        ca.to_str().unwrap(),
        "-d",
        &db,
    ]);
}

/// A started browser; dropping it stops the browser, then its X server (fields drop in
/// order), and removes the profile.
pub(crate) struct Browser {
    _browser: Kill,
    _display: Option<Xvfb>,
}

/// Starts a browser on `url` with a fresh profile. With `tls_ca`, the page is https with a
/// test certificate: Chromium ignores certificate errors (and delivers Reporting API reports
/// promptly), Firefox trusts the CA through its profile, MiniBrowser ignores TLS errors.
pub(crate) fn launch(engine: Engine, url: &str, tls_ca: Option<&str>) -> Browser {
    let tag = if tls_ca.is_some() { "-tls" } else { "" };
    let dir = fresh_dir(&format!("{}{tag}", engine.name()));
    let mut cmd = match engine {
        Engine::WebKit => in_own_hosts_namespace(&dir),
        e => Command::new(e.binary()),
    };
    let mut display = None;
    match engine {
        Engine::Chromium => {
            cmd.args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
                // The Connection-Allowlist walk opens each page in a popup (a top-level
                // document, as the header is measured), without a user gesture.
                "--disable-popup-blocking",
            ])
            .arg(format!(
                "--host-resolver-rules={}",
                NON_LOOPBACK_NAMES
                    .map(|n| format!("MAP {n} 127.0.0.1"))
                    .join(",")
            ))
            .arg(format!("--user-data-dir={}", dir.display()));
            if tls_ca.is_some() {
                cmd.args(["--ignore-certificate-errors", "--short-reporting-delay"]);
            }
        }
        Engine::Firefox => {
            std::fs::write(dir.join("user.js"), FIREFOX_PREFS).unwrap();
            if let Some(ca) = tls_ca {
                trust_in_firefox_profile(&dir, ca);
            }
            cmd.args(["--headless", "--no-remote", "--profile"])
                .arg(&dir)
                .env("MOZ_DISABLE_AUTO_SAFE_MODE", "1");
        }
        Engine::WebKit => {
            // No headless mode: without a display MiniBrowser exits or hangs, so the X
            // server comes first, and every wait on the walk is bounded.
            let x = Xvfb::start();
            cmd.env("DISPLAY", format!(":{}", x.display))
                .env("XDG_DATA_HOME", dir.join("data"))
                .env("XDG_CACHE_HOME", dir.join("cache"))
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .env("GDK_BACKEND", "x11")
                .args(["--ignore-tls-errors", "--enable-hyperlink-auditing=true"]);
            display = Some(x);
        }
    }
    // Its own process group, so that stopping it stops its helper processes too.
    let child = cmd
        .process_group(0)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", engine.binary()));
    Browser {
        _browser: Kill(child, Some(dir)),
        _display: display,
    }
}

/// MiniBrowser under `unshare`: in a private mount namespace (propagation private, so
/// nothing leaks out), a copy of `/etc/hosts` with [`NON_LOOPBACK_NAMES`] added is
/// bind-mounted over `/etc/hosts`, then MiniBrowser replaces the shell (same process, so the
/// process group and the kill on drop still hold). Root may make the namespace; anyone else
/// gets a user namespace as well (`-r`).
fn in_own_hosts_namespace(dir: &Path) -> Command {
    let hosts = dir.join("hosts");
    let mut text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    text.push_str(&format!("\n127.0.0.1 {}\n", NON_LOOPBACK_NAMES.join(" ")));
    std::fs::write(&hosts, text).unwrap();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let mut cmd = Command::new("unshare");
    cmd.arg(if root { "-m" } else { "-rm" })
        .args(["--propagation", "private", "--", "sh", "-c"])
        .arg("mount --bind \"$0\" /etc/hosts && exec \"$@\"")
        .arg(&hosts)
        .arg(MINIBROWSER);
    cmd
}

/// A process we started as the leader of its own process group, and the directory to
/// remove once it is gone (a profile: tens of MB for Firefox).
struct Kill(Child, Option<PathBuf>);
impl Drop for Kill {
    fn drop(&mut self) {
        // The whole group: Chromium's and WebKit's helpers outlive a killed parent and keep
        // writing into the profile. `kill` the command, since this crate forbids unsafe code.
        let group = format!("-{}", self.0.id());
        let signal = |sig: &str| {
            Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        signal("-KILL");
        let _ = self.0.kill(); // the leader at least, should `kill` be missing
        let _ = self.0.wait();
        // Until no process of the group is left (bounded), then the profile can go.
        for _ in 0..100 {
            if !signal("-0") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(d) = &self.1 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// An Xvfb server on a display number nobody uses, stopped on drop: SIGTERM first, so it
/// removes its socket and lock file (a killed one leaves them behind), then the group's
/// SIGKILL.
struct Xvfb {
    display: u32,
    proc: Kill,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.proc.0.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.proc.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether a live X server holds display `n`: its lock file names a running process. A
/// lock left by a dead server is stale (Xvfb replaces it), and a socket file alone proves
/// nothing, since a killed server leaves it behind.
fn display_taken(n: u32) -> bool {
    match std::fs::read_to_string(format!("/tmp/.X{n}-lock")) {
        Ok(pid) => Path::new(&format!("/proc/{}", pid.trim())).exists(),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

impl Xvfb {
    /// Tries :90 upwards, skipping displays a live server holds. Ready when its socket
    /// accepts a connection; every wait is bounded.
    fn start() -> Xvfb {
        for display in 90..130u32 {
            if display_taken(display) {
                continue;
            }
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{display}"));
            let child = Command::new("Xvfb")
                .arg(format!(":{display}"))
                .args(["-screen", "0", "1024x768x24", "-nolisten", "tcp"])
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start Xvfb: {e}"));
            let mut x = Xvfb {
                display,
                proc: Kill(child, None),
            };
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                // Exited: another server took this display between our look and its start.
                if x.proc.0.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                    break;
                }
                if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                    return x;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("no free X display in :90..:129 for Xvfb (or it never came up)");
    }
}
