//! `PostgresSink`'s storage against real, throw-away PostgreSQL clusters (see
//! `tests/common/pg.rs`): each distinct user agent stored once; `violations` and
//! `observations` partitioned by day, retention dropping whole partitions with the `groups`
//! aggregate exactly what the rows say afterwards; schema 2 moved to 3 when opened; TLS
//! (`sslmode` up to `verify-full`, a CA made at test time) and the password given apart;
//! and `connect-src serve`'s `/healthz` following a cluster stopped and restarted under it.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connect_src::report::intake::{parse_reports, NormalizeOptions};
use connect_src::report::store::{Network, ReportSink, ReportStore, StoreError, Violation};
use connect_src::report::PostgresSink;

mod common;
use common::pg::{Pg, Polls};

const DAY: i64 = 86_400;

/// A report-only violation of `blocked`, received at `secs` (Unix seconds), from client
/// network `network`, with `agent` as its user agent.
fn violation(blocked: &str, secs: i64, network: u64, agent: &str) -> Violation {
    let body = format!(
        r#"{{"csp-report":{{"document-uri":"https://app.example/page","blocked-uri":"{blocked}","effective-directive":"connect-src","disposition":"report"}}}}"#
    );
    let mut v = parse_reports(body.as_bytes(), &NormalizeOptions::default())
        .unwrap()
        .violations
        .remove(0);
    v.received_at = UNIX_EPOCH + Duration::from_secs(secs as u64);
    v.network = Some(Network(network));
    v.user_agent = Some(agent.to_owned());
    v
}

fn today() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / DAY
}

/// Opens the sink from the blocking pool (`open` waits for its own runtime).
async fn open(url: &str) -> PostgresSink {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || PostgresSink::open(&url))
        .await
        .unwrap()
        .unwrap()
}

/// The partitions of `table`, by name.
async fn partitions(c: &tokio_postgres::Client, table: &str) -> BTreeSet<String> {
    c.query(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = $1::text::regclass",
        &[&table],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// The `groups` aggregate is exactly what the rows say: the same keys, counts, first and
/// last times and reach (distinct networks), each sample one of its group's blocked URLs,
/// and `group_networks` the distinct networks of each group's rows.
async fn assert_groups_match_rows(c: &tokio_postgres::Client) {
    type Key = (String, String, String, String, String, i64, i64, i64, i64);
    let read = |rows: Vec<tokio_postgres::Row>| -> Vec<Key> {
        rows.iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                    r.get(7),
                    r.get(8),
                )
            })
            .collect()
    };
    let kept = read(
        c.query(
            "SELECT directive, blocked_origin, document_path, disposition, class, count, \
             first_seen, last_seen, reach FROM groups ORDER BY 1, 2, 3, 4, 5",
            &[],
        )
        .await
        .unwrap(),
    );
    let counted = read(
        c.query(
            "SELECT directive, blocked_origin, document_path, disposition, class, count(*), \
             min(received_at), max(received_at), count(DISTINCT network) FROM violations \
             GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
            &[],
        )
        .await
        .unwrap(),
    );
    assert_eq!(kept, counted, "groups against the rows");
    let stray: i64 = c
        .query_one(
            "SELECT count(*) FROM groups g WHERE NOT EXISTS (SELECT 1 FROM violations v \
             WHERE v.blocked_url = g.sample AND v.directive = g.directive \
             AND v.blocked_origin = g.blocked_origin AND v.document_path = g.document_path \
             AND v.disposition = g.disposition AND v.class = g.class)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stray, 0, "a sample that is none of its group's URLs");
    let differ: i64 = c
        .query_one(
            "SELECT count(*) FROM ((SELECT * FROM group_networks EXCEPT \
               SELECT DISTINCT directive, blocked_origin, document_path, disposition, class, \
               network FROM violations WHERE network IS NOT NULL) UNION ALL \
              (SELECT DISTINCT directive, blocked_origin, document_path, disposition, class, \
               network FROM violations WHERE network IS NOT NULL EXCEPT \
               SELECT * FROM group_networks)) d",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(differ, 0, "group_networks against the rows");
}

/// Reports of five days (the writer makes each day's partition as they come), observations
/// beside them, a row that landed in the default partition: `prune_before` a cut-off two
/// days ago at noon drops the whole partitions before it (the tables are gone, not
/// emptied), deletes the rows before noon of that day and the default partition's old row,
/// counts them all, recounts the aggregate (exactly what the rows say), forgets the user
/// agents no row refers to; reports keep coming after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_whole_days_and_the_groups_stay_exact() {
    let Some(pg) = Pg::start("partitions") else {
        return;
    };
    let sink = open(&pg.url()).await;
    let client = pg.client().await;
    let today = today();
    let mut sent = 0i64;
    for back in 0..5i64 {
        let day = today - back;
        let agent = format!("Agent/{back}");
        let batch: Vec<Violation> = (0..24)
            .map(|h| {
                let host = ["a.example", "b.example", "c.example"][h as usize % 3];
                violation(
                    &format!("https://{host}/{back}/{h}"),
                    day * DAY + h * 3600 + 7,
                    (h % 4) as u64 + 1,
                    &agent,
                )
            })
            .collect();
        sent += batch.len() as i64;
        sink.submit(batch).await.unwrap();
        client
            .execute(
                "INSERT INTO observations (received_at, destination, document_path, page_load, \
                 sample_rate, class) VALUES ($1, 'https://api.example', '/', $2, 1.0, 'genuine')",
                &[&(day * DAY + 60), &back],
            )
            .await
            .unwrap();
    }
    let named = |day: i64, table: &str| -> String {
        let t = UNIX_EPOCH + Duration::from_secs((day * DAY) as u64);
        let date = humantime::format_rfc3339(t).to_string();
        format!("{table}_{}", date[..10].replace('-', ""))
    };
    let before = partitions(&client, "violations").await;
    for back in 0..5 {
        assert!(
            before.contains(&named(today - back, "violations")),
            "{before:?}"
        );
    }
    assert!(before.contains("violations_default"), "{before:?}");
    assert!(
        before.contains(&named(today + 2, "violations")),
        "made ahead: {before:?}"
    );
    // A row moved to a date no partition holds goes to the default partition.
    let moved = client
        .execute(
            "UPDATE violations SET received_at = 1000 WHERE blocked_url = 'https://a.example/0/0'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let in_default: i64 = client
        .query_one("SELECT count(*) FROM violations_default", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_default, 1);
    // (The groups count it where it was; the prune recounts.)

    let cut = (today - 2) * DAY + 12 * 3600;
    let expected: i64 = client
        .query_one(
            "SELECT count(*) FROM violations WHERE received_at < $1",
            &[&cut],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(expected, 2 * 24 + 12 + 1);
    let deleted = sink
        .prune_before(UNIX_EPOCH + Duration::from_secs(cut as u64))
        .await
        .unwrap();
    assert_eq!(deleted as i64, expected);

    let after = partitions(&client, "violations").await;
    for back in [3, 4] {
        let gone = named(today - back, "violations");
        assert!(!after.contains(&gone), "{gone} still attached: {after:?}");
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&gone])
            .await
            .unwrap()
            .get(0);
        assert!(!exists, "{gone} was emptied, not dropped");
    }
    assert!(after.contains(&named(today - 2, "violations")), "{after:?}");
    let obs = partitions(&client, "observations").await;
    assert!(!obs.contains(&named(today - 3, "observations")), "{obs:?}");
    let (rows, observations): (i64, i64) = {
        let r = client
            .query_one(
                "SELECT (SELECT count(*) FROM violations), (SELECT count(*) FROM observations)",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(rows, sent - expected);
    assert_eq!(
        observations, 2,
        "today's and yesterday's (the cut-off day's was at 00:01)"
    );
    assert_groups_match_rows(&client).await;
    let agents: Vec<String> = client
        .query("SELECT text FROM user_agents ORDER BY text", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        agents,
        ["Agent/0", "Agent/1", "Agent/2"],
        "the dropped days' agent goes"
    );
    assert_eq!(sink.summary(1000).await.unwrap().total, rows as u64);

    // Reports keep coming, and the aggregate keeps matching.
    sink.submit(vec![violation(
        "https://a.example/after",
        today * DAY + 100,
        9,
        "Agent/0",
    )])
    .await
    .unwrap();
    assert_groups_match_rows(&client).await;
}

/// Rows of a day no partition holds (written by another process, a clock far off) wait in
/// the default partition, never refused; the first commit this store makes for that day
/// makes its partition and moves them into it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_without_a_partition_is_made_when_a_commit_brings_it() {
    let Some(pg) = Pg::start("default-partition") else {
        return;
    };
    let sink = open(&pg.url()).await;
    let client = pg.client().await;
    let far = today() + 40;
    client
        .execute(
            "INSERT INTO violations (received_at, document_url, document_path, blocked_url, \
             blocked_origin, directive, disposition, format, class) VALUES ($1, \
             'https://app.example/', '/', 'https://x.example/', 'https://x.example', \
             'connect-src', 'report', 'csp-report', 'unverified')",
            &[&(far * DAY + 5)],
        )
        .await
        .unwrap();
    let count = |table: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert_eq!(count("violations_default").await, 1);
    sink.submit(vec![violation("https://y.example/", far * DAY + 9, 1, "A")])
        .await
        .unwrap();
    assert_eq!(count("violations_default").await, 0);
    let t = UNIX_EPOCH + Duration::from_secs((far * DAY) as u64);
    let name = format!(
        "violations_{}",
        humantime::format_rfc3339(t).to_string()[..10].replace('-', "")
    );
    let held: i64 = client
        .query_one(&format!("SELECT count(*) FROM {name}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(held, 2);
}

/// Schema 2 (one `violations` table, each report's user agent text): opened, the tables are
/// partitioned, a partition made for each day that has rows, every row moved with its id,
/// each distinct user agent stored once under the key new writes compute, the groups kept
/// as they were, and the old tables gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_database_is_partitioned_and_keeps_its_rows() {
    let Some(pg) = Pg::start("migrate-3") else {
        return;
    };
    let client = pg.client().await;
    client
        .batch_execute(
            "CREATE TABLE connect_src_schema (version INTEGER NOT NULL);
             INSERT INTO connect_src_schema VALUES (2);
             CREATE TABLE violations (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                received_at BIGINT NOT NULL, document_url TEXT NOT NULL,
                document_path TEXT NOT NULL, blocked_url TEXT NOT NULL,
                blocked_origin TEXT NOT NULL, directive TEXT NOT NULL,
                violated_directive TEXT, disposition TEXT NOT NULL, status_code BIGINT,
                source_file TEXT, line BIGINT, col BIGINT, sample TEXT, referrer TEXT,
                user_agent TEXT, original_policy TEXT, format TEXT NOT NULL,
                class TEXT NOT NULL, network BIGINT);
             CREATE INDEX violations_received_at ON violations (received_at);
             CREATE TABLE groups (
                directive TEXT NOT NULL, blocked_origin TEXT NOT NULL,
                document_path TEXT NOT NULL, disposition TEXT NOT NULL, count BIGINT NOT NULL,
                first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, sample TEXT NOT NULL,
                class TEXT NOT NULL, reach BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (directive, blocked_origin, document_path, disposition, class));
             CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
             CREATE TABLE group_networks (
                directive TEXT NOT NULL, blocked_origin TEXT NOT NULL,
                document_path TEXT NOT NULL, disposition TEXT NOT NULL, class TEXT NOT NULL,
                network BIGINT NOT NULL,
                PRIMARY KEY (directive, blocked_origin, document_path, disposition, class,
                    network));
             CREATE TABLE observations (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                received_at BIGINT NOT NULL, destination TEXT NOT NULL, document_origin TEXT,
                document_path TEXT NOT NULL, page_load BIGINT NOT NULL,
                sample_rate DOUBLE PRECISION NOT NULL, engine TEXT, network BIGINT,
                class TEXT NOT NULL);
             CREATE INDEX observations_received_at ON observations (received_at);
             CREATE INDEX observations_destination ON observations (destination, received_at);
             INSERT INTO groups VALUES ('connect-src', 'https://a.example', '/p', 'report', 7,
                1700000000, 1800000000, 'https://a.example/1', 'genuine', 0);
             INSERT INTO observations (received_at, destination, document_path, page_load,
                sample_rate, class) VALUES (1700000050, 'https://api.example', '/', 1, 1.0,
                'genuine');",
        )
        .await
        .unwrap();
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";
    let rows: [(i64, Option<&str>); 4] = [
        (1_700_000_000, Some(firefox)),
        (1_700_000_100, Some(firefox)),
        (1_700_100_000, Some("Chrome/156 \u{e9}")),
        (1_800_000_000, None),
    ];
    for (n, (at, agent)) in rows.iter().enumerate() {
        client
            .execute(
                "INSERT INTO violations (received_at, document_url, document_path, blocked_url, \
                 blocked_origin, directive, disposition, format, class, user_agent, network) \
                 VALUES ($1, 'https://app.example/p', '/p', $2, 'https://a.example', \
                 'connect-src', 'report', 'legacy', 'genuine', $3, 7)",
                &[at, &format!("https://a.example/{n}"), agent],
            )
            .await
            .unwrap();
    }
    let ids: Vec<i64> = client
        .query("SELECT id FROM violations ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();

    let sink = open(&pg.url()).await;
    let version: i32 = client
        .query_one("SELECT version FROM connect_src_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 4);
    for table in ["violations", "observations"] {
        let partitioned: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table \
                 WHERE partrelid = $1::text::regclass)",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        assert!(partitioned, "{table}");
    }
    let days = partitions(&client, "violations").await;
    for day in [
        "violations_20231114",
        "violations_20231116",
        "violations_20270115",
    ] {
        assert!(days.contains(day), "{day} missing: {days:?}");
    }
    assert!(partitions(&client, "observations")
        .await
        .contains("observations_20231114"));
    let moved: Vec<(i64, String, Option<String>)> = client
        .query(
            "SELECT id, blocked_url, user_agent FROM violations_with_user_agent ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want: Vec<(i64, String, Option<String>)> = rows
        .iter()
        .enumerate()
        .map(|(n, (_, agent))| {
            (
                ids[n],
                format!("https://a.example/{n}"),
                agent.map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(moved, want);
    let in_default: i64 = client
        .query_one("SELECT count(*) FROM violations_default", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_default, 0, "each row in its day");
    let gone: bool = client
        .query_one(
            "SELECT to_regclass('violations_v2') IS NULL AND to_regclass('observations_v2') IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(gone);
    let s = sink.summary(10).await.unwrap();
    assert_eq!(s.groups[0].count, 7, "the groups are kept, not recounted");

    // New reports with the migrated texts reuse their keys (PostgreSQL's SHA-256 key and
    // the store's agree, for an accented text too); new ids come after the old ones.
    sink.submit(vec![
        violation("https://a.example/new", 1_800_000_500, 7, firefox),
        violation(
            "https://a.example/new2",
            1_800_000_600,
            7,
            "Chrome/156 \u{e9}",
        ),
    ])
    .await
    .unwrap();
    let (agents, keys, newest): (i64, i64, i64) = {
        let r = client
            .query_one(
                "SELECT (SELECT count(*) FROM user_agents), \
                 (SELECT count(DISTINCT user_agent_id) FROM violations), \
                 (SELECT max(id) FROM violations)",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!((agents, keys), (2, 2));
    assert!(newest > *ids.last().unwrap());
}

/// A CA named `ca_name` and a server certificate for 127.0.0.1, made now: (CA PEM,
/// certificate PEM, key PEM).
fn certificates(ca_name: &str) -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

/// A cluster that takes TLS connections only (`ssl = on`, `hostssl` in pg_hba, plain TCP
/// rejected), with a certificate for 127.0.0.1 signed by a CA made at test time: with that
/// CA, `verify-full` connects (by `sslrootcert` or `ca_file`) and the connection is
/// encrypted; `verify-ca` does not care that `localhost` is not the certificate's name,
/// `verify-full` does; another CA is refused with an error that names the mode and the
/// file; `require` without a CA connects unchecked; `disable` is refused by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verify_full_with_the_right_ca_and_refused_with_another() {
    let Some(mut pg) = Pg::start("tls") else {
        return;
    };
    let (ca, cert, key) = certificates("connect-src PostgreSQL test CA");
    let (other_ca, _, _) = certificates("another CA");
    let files = pg.dir.join("tls");
    std::fs::create_dir_all(&files).unwrap();
    let write = |name: &str, text: &str| {
        let path = files.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (server_cert, server_key) = (write("server.crt", &cert), write("server.key", &key));
    pg.give(&server_cert);
    pg.give(&server_key);
    let (ca, other_ca) = (write("ca.pem", &ca), write("other-ca.pem", &other_ca));
    std::fs::write(
        pg.data().join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\n\
         hostnossl all all 127.0.0.1/32 reject\n",
    )
    .unwrap();
    pg.options = format!(
        "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        server_cert.display(),
        server_key.display()
    );
    pg.crash();
    pg.start_server();
    let base = pg.url();
    let with = |query: &str| format!("{base}?{query}");
    let opened = |url: String, builder: connect_src::report::postgres::PostgresSinkBuilder| async move {
        tokio::task::spawn_blocking(move || builder.timeout(Duration::from_secs(10)).open(&url))
            .await
            .unwrap()
    };

    let sink = opened(
        with(&format!("sslmode=verify-full&sslrootcert={}", ca.display())),
        PostgresSink::builder(),
    )
    .await
    .unwrap();
    sink.submit(vec![violation(
        "https://tls.example/",
        1_800_000_000,
        1,
        "A",
    )])
    .await
    .unwrap();
    // The store's connections are encrypted (a test connection over the socket reads it).
    let socket = format!(
        "host={} port={} user=postgres dbname=postgres",
        pg.dir.display(),
        pg.port
    );
    let (client, conn) = tokio_postgres::connect(&socket, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let encrypted: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'connect-src' AND s.ssl",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(encrypted >= 1, "no encrypted connection of the store");
    drop(sink);

    opened(
        with("sslmode=verify-full"),
        PostgresSink::builder().ca_file(&ca),
    )
    .await
    .unwrap();
    // The name `localhost` (not the certificate's), the address 127.0.0.1.
    let localhost = format!(
        "{}?hostaddr=127.0.0.1&",
        base.replace("127.0.0.1", "localhost")
    );
    opened(
        format!("{localhost}sslmode=verify-ca&sslrootcert={}", ca.display()),
        PostgresSink::builder(),
    )
    .await
    .unwrap();
    let err = opened(
        format!(
            "{localhost}sslmode=verify-full&sslrootcert={}",
            ca.display()
        ),
        PostgresSink::builder(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Database(_)) && err.to_string().contains("not valid for name"),
        "{err}"
    );

    let err = opened(
        with(&format!(
            "sslmode=verify-full&sslrootcert={}",
            other_ca.display()
        )),
        PostgresSink::builder(),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert!(
        text.contains("TLS with the server failed")
            && text.contains("sslmode=verify-full")
            && text.contains(&other_ca.display().to_string())
            && text.contains("UnknownIssuer"),
        "{text}"
    );
    // The driver's error is still there, under the context.
    let mut cause = std::error::Error::source(&err);
    let mut driver = false;
    while let Some(c) = cause {
        driver |= c.is::<tokio_postgres::Error>();
        cause = c.source();
    }
    assert!(driver, "{err:?}");

    opened(with("sslmode=require"), PostgresSink::builder())
        .await
        .unwrap();
    opened(base.clone(), PostgresSink::builder()).await.unwrap(); // prefer
    let err = opened(with("sslmode=disable"), PostgresSink::builder())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pg_hba.conf"), "{err}");
}

/// The password can be given apart from the URL (`PostgresSinkBuilder::password`), never
/// shown by `Debug`; given twice, it is refused before connecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_is_given_apart_from_the_url() {
    let Some(pg) = Pg::start("password") else {
        return;
    };
    const PASSWORD: &str = "p@ss:w/rd 1%";
    pg.require_password(PASSWORD);
    let url = pg.url();
    let builder = PostgresSink::builder().password(PASSWORD);
    assert!(!format!("{builder:?}").contains("p@ss"), "{builder:?}");
    let u = url.clone();
    let sink = tokio::task::spawn_blocking(move || builder.open(&u))
        .await
        .unwrap()
        .unwrap();
    sink.submit(vec![violation(
        "https://pw.example/",
        1_800_000_000,
        1,
        "A",
    )])
    .await
    .unwrap();
    let u = url.clone();
    let refused = tokio::task::spawn_blocking(move || PostgresSink::open(&u))
        .await
        .unwrap()
        .unwrap_err();
    assert!(refused.to_string().contains("password"), "{refused}");
    let twice = PostgresSink::builder()
        .password("b")
        .check(&url.replace("postgres@", "postgres:a@"))
        .unwrap_err();
    assert!(matches!(twice, StoreError::Configuration(_)), "{twice:?}");
}

/// `connect-src serve` on a cluster that stops under it: reports get 503, the public
/// `/healthz` says the store is failing (503), the admin one adds the error; once the
/// cluster is back the store's own probe makes `/healthz` 200 again without any report, and
/// reports are taken.
#[test]
fn serve_healthz_follows_a_database_lost_after_start() {
    let Some(pg) = Pg::start("serve-health") else {
        return;
    };
    let server = common::serve(&["--db", &pg.url()]);
    let post = |host: &str| {
        common::request(
            server.addr,
            "POST",
            "/csp-reports",
            &[("Content-Type", "application/csp-report")],
            &format!(
                r#"{{"csp-report":{{"document-uri":"https://app.example/","blocked-uri":"https://{host}/x","effective-directive":"connect-src"}}}}"#
            ),
        )
        .unwrap()
        .status
    };
    assert_eq!(post("before.example"), 204);
    let health = |addr| common::request(addr, "GET", "/healthz", &[], "").unwrap();
    assert_eq!(health(server.addr).status, 200);

    pg.crash();
    assert_eq!(post("during.example"), 503);
    let public = health(server.addr);
    assert_eq!(public.status, 503, "{}", public.body);
    assert!(public.body.starts_with("failing: "), "{}", public.body);
    assert!(!public.body.contains("error:"), "{}", public.body);
    assert!(public.header("retry-after").is_some());
    let admin = health(server.admin);
    assert_eq!(admin.status, 503);
    assert!(
        admin.body.contains("error: the database failed"),
        "{}",
        admin.body
    );

    pg.start_server();
    let mut polls = Polls::new("/healthz 200 once the database is back");
    while health(server.addr).status != 200 {
        polls.next();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(post("after.example"), 204);
}
