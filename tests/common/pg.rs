//! A throw-away PostgreSQL cluster for the tests (Debian's `postgresql` package): initdb in
//! a temp dir, a free port on 127.0.0.1, stopped by its PID and removed on drop. With CI=true
//! a missing PostgreSQL fails the suite; locally the tests say loudly that they skipped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// A PostgreSQL cluster in a temp dir; stopped (by its PID) and removed on drop.
pub(crate) struct Pg {
    bin: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    as_postgres: bool,
    /// More server options (`-c name=value …`), for the next start.
    pub(crate) options: String,
}

pub(crate) fn pg_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CONNECT_SRC_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pg {
    /// A new cluster, or `None` (said loudly) when PostgreSQL is not installed and CI is
    /// not set.
    pub(crate) fn start(name: &str) -> Option<Pg> {
        let Some(bin) = pg_bin() else {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!(
                    "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb) and CI is \
                     set: install Debian's `postgresql` (scripts/test.sh does)"
                );
            }
            eprintln!(
                "\n!!! SKIPPED {name}: PostgreSQL is not installed (apt-get install postgresql, \
                 or set CONNECT_SRC_PG_BIN) !!!\n"
            );
            return None;
        };
        let dir = std::env::temp_dir().join(format!(
            "connect-src-pg-{name}-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // initdb refuses to run as root: the cluster belongs to the `postgres` user then.
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown postgres {}", dir.display());
        }
        let pg = Pg {
            bin,
            dir,
            port: free_port(),
            as_postgres,
            options: String::new(),
        };
        let data = pg.data();
        let o = pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale",
                "C",
            ],
        );
        assert!(o.status.success(), "initdb: {}", text(&o.stderr));
        pg.start_server();
        Some(pg)
    }

    /// Hands `path` (a file the test wrote in the cluster's dir) to the server's user, as
    /// the server wants its key file: owned by it, readable by it alone.
    pub(crate) fn give(&self, path: &std::path::Path) {
        if self.as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(path)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown postgres {}", path.display());
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// Makes TCP logins ask for `password` (the `postgres` user's, SCRAM); the Unix socket
    /// stays trusted. Runs its own runtime: call it outside async code.
    pub(crate) fn require_password(&self, password: &str) {
        let url = self.url();
        let sql = format!("ALTER USER postgres PASSWORD '{password}'");
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(async {
                    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                        .await
                        .unwrap();
                    tokio::spawn(conn);
                    client.batch_execute(&sql).await.unwrap();
                });
            });
        });
        std::fs::write(
            self.data().join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        let data = self.data();
        let o = self.run("pg_ctl", &["-D", data.to_str().unwrap(), "reload"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }

    pub(crate) fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub(crate) fn run(&self, tool: &str, args: &[&str]) -> Output {
        let tool = self.bin.join(tool);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(tool);
            c
        } else {
            Command::new(tool)
        };
        c.args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub(crate) fn start_server(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=50 {}",
            self.port,
            self.dir.display(),
            self.options
        );
        let log = self.dir.join("server.log");
        let o = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            o.status.success(),
            "pg_ctl start: {}{}",
            text(&o.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`: every
    /// backend is killed, no checkpoint, recovery at the next start).
    pub(crate) fn crash(&self) {
        let o = self.stop_immediately();
        assert!(o.status.success(), "pg_ctl stop: {}", text(&o.stderr));
    }

    /// `pg_ctl stop -m immediate`, waiting for it.
    pub(crate) fn stop_immediately(&self) -> Output {
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A plain connection for the test's own queries (on the calling runtime).
    pub(crate) async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let stopped = self.stop_immediately().status.success();
        if !stopped {
            if let Some(pid) = self.pid() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A guard against hanging forever on a condition that never comes (a broken build would
/// otherwise hold CI until its time limit): fails after 30,000 polls (minutes, at the 10 ms
/// the loops sleep). Not a timing threshold: nothing is asserted about speed.
pub(crate) struct Polls {
    what: &'static str,
    n: u32,
}

impl Polls {
    pub(crate) fn new(what: &'static str) -> Polls {
        Polls { what, n: 0 }
    }

    pub(crate) fn next(&mut self) {
        self.n += 1;
        assert!(self.n < 30_000, "gave up waiting for {}", self.what);
    }
}
