//! The cases: pages, each with its policy and the connections it attempts. `{p1}` is the
//! page's port, `{p2}` a second listener; pages and targets without a port use the
//! listeners on 127.0.0.1:80 and :443 (plain HTTP both), when the suite could bind them.
//! All hosts are loopback names. Which engine does what is in
//! docs/engine-probe/FINDINGS.md (the probe numbers below, `#n`, are its).

/// What the page's enforced policy is.
pub(crate) enum Csp {
    /// A connect-src value; the header is `connect-src {value}; report-uri /csp-reports`.
    ConnectSrc(&'static str),
    /// Whole `Content-Security-Policy` header values, byte for byte (non-ASCII bytes
    /// included), one per header; none: no enforced policy. Every policy in them that can
    /// block names `report-uri /csp-reports`, so every block must be reported.
    Headers(&'static [&'static [u8]]),
}

/// A page: its origin, its enforced policy, an optional report-only connect-src value, and
/// the connections it attempts: (target URL template, API).
pub(crate) struct Group {
    pub(crate) page: &'static str,
    pub(crate) csp: Csp,
    pub(crate) report_only: Option<&'static str>,
    pub(crate) targets: Vec<(&'static str, &'static str)>,
}

impl Group {
    /// The page sits on the default port (80): it needs the port-80 listener.
    pub(crate) fn on_default_port(&self) -> bool {
        !self
            .page
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.starts_with('{') || p.parse::<u16>().is_ok())
    }
    /// The enforced + report-only group that checks how report-only is reported.
    pub(crate) fn is_report_only_check(&self) -> bool {
        matches!(self.csp, Csp::ConnectSrc("'self'")) && self.report_only == Some("'none'")
    }
}

const A: &str = "http://a.localhost:{p1}";
/// A page on another host, for sources naming a.localhost.
const B: &str = "http://b.localhost:{p1}";
const IP: &str = "http://127.0.0.1:{p1}";
/// Pages on the default port 80.
const A80: &str = "http://a.localhost";

pub(crate) fn groups() -> Vec<Group> {
    let g = |page, policy, targets: &[(&'static str, &'static str)]| Group {
        page,
        csp: Csp::ConnectSrc(policy),
        report_only: None,
        targets: targets.to_vec(),
    };
    let h = |page, headers, targets: &[(&'static str, &'static str)]| Group {
        page,
        csp: Csp::Headers(headers),
        report_only: None,
        targets: targets.to_vec(),
    };
    let mut all = vec![
        g(
            A,
            "'self'",
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://a.localhost:{p1}/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "eventsource"),
                ("http://a.localhost:{p1}/hit", "beacon"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("wss://a.localhost:{p1}/ws", "ws"),
                ("https://a.localhost:{p1}/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "fetch"),
                ("ws://a.localhost:{p2}/ws", "ws"),
                ("http://localhost:{p1}/hit", "fetch"),
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("http://b.a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "eventsource"),
                ("http://c.localhost:{p2}/hit", "beacon"),
            ],
        ),
        g(
            IP,
            "'self'",
            &[
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("ws://127.0.0.1:{p1}/ws", "ws"),
                ("http://localhost:{p1}/hit", "fetch"),
                ("ws://localhost:{p1}/ws", "ws"),
            ],
        ),
        g(
            A,
            "*",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("data:text/plain,x", "fetch"),
                ("http://c.localhost:{p2}/hit", "beacon"),
            ],
        ),
        g(
            A,
            "http:",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "https:",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("wss://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "ws:",
            &[
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "wss:",
            &[
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "eventsource"),
                ("http://c.localhost:{p2}/hit", "beacon"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p1}/hit", "fetch"),
                ("http://d.c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "ws://c.localhost:{p2}",
            &[
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*.a.localhost:{p2}",
            &[
                ("http://b.a.localhost:{p2}/hit", "fetch"),
                ("http://x.b.a.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "fetch"),
                ("ws://b.a.localhost:{p2}/ws", "ws"),
                ("http://b.a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "ws://*.a.localhost:{p2}",
            &[
                ("ws://b.a.localhost:{p2}/ws", "ws"),
                ("ws://a.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "http://c.localhost:*",
            &[
                ("http://c.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "c.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/api/",
            &[
                ("http://c.localhost:{p2}/api/x", "fetch"),
                ("http://c.localhost:{p2}/api/", "fetch"),
                ("http://c.localhost:{p2}/api", "fetch"),
                ("http://c.localhost:{p2}/apix", "fetch"),
                ("http://c.localhost:{p2}/API/x", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/api",
            &[
                ("http://c.localhost:{p2}/api", "fetch"),
                ("http://c.localhost:{p2}/api/", "fetch"),
                ("http://c.localhost:{p2}/api/x", "fetch"),
                ("http://c.localhost:{p2}/API", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/a%20b",
            &[
                ("http://c.localhost:{p2}/a%20b", "fetch"),
                ("http://c.localhost:{p2}/a%2Fb", "fetch"),
            ],
        ),
        g(
            A,
            "http://127.0.0.1:{p2}",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://localhost:{p2}",
            &[
                ("http://localhost:{p2}/hit", "fetch"),
                ("http://127.0.0.1:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "'none'",
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("ws://a.localhost:{p1}/ws", "ws"),
            ],
        ),
        g(
            A,
            "'none' 'self'",
            &[("http://a.localhost:{p1}/hit", "fetch")],
        ),
        g(A, "self", &[("http://a.localhost:{p1}/hit", "fetch")]),
        g(
            A,
            "'SELF' 'unsafe-inline'",
            &[("http://a.localhost:{p1}/hit", "fetch")],
        ),
        g(
            A,
            "http://c.localhost",
            &[
                ("http://c.localhost:443/hit", "fetch"),
                ("http://c.localhost/hit", "fetch"),
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost/ws", "ws"),
            ],
        ),
        g(
            A,
            "http://c.localhost:80",
            &[
                ("https://c.localhost:80/hit", "fetch"),
                ("http://c.localhost/hit", "fetch"),
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:443/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:443",
            &[("https://c.localhost/hit", "fetch")],
        ),
        g(
            A,
            "http://c.localhost.:{p2}",
            &[("http://c.localhost:{p2}/hit", "fetch")],
        ),
        g(
            A,
            "ws://c.localhost:80",
            &[
                ("wss://c.localhost/ws", "ws"),
                ("ws://c.localhost/ws", "ws"),
            ],
        ),
        g(
            A,
            "https://c.localhost:{p2}",
            &[
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "wss://c.localhost:{p2}",
            &[
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
    ];
    all.extend(more_apis(g));
    all.extend(default_ports(g));
    all.extend(wildcards_and_ip(g));
    all.extend(port_text_and_dots(g));
    all.extend(websocket_schemes(g));
    all.extend(query_and_fragment(g));
    all.extend(non_ascii(h));
    all.extend(whole_headers(h));
    all.push(Group {
        page: A,
        csp: Csp::ConnectSrc("*"),
        report_only: Some("'self'"),
        targets: vec![
            ("http://c.localhost:{p2}/hit", "fetch"),
            ("http://a.localhost:{p1}/hit", "fetch"),
            ("ws://c.localhost:{p2}/ws", "ws"),
        ],
    });
    all.push(Group {
        page: A,
        csp: Csp::ConnectSrc("'self'"),
        report_only: Some("*"),
        targets: vec![
            ("http://c.localhost:{p2}/hit", "fetch"),
            ("http://a.localhost:{p1}/hit", "fetch"),
        ],
    });
    // Report-only alone: nothing enforced.
    all.push(Group {
        page: A,
        csp: Csp::Headers(&[]),
        report_only: Some("'self'"),
        targets: vec![
            ("http://c.localhost:{p2}/hit", "fetch"),
            ("http://a.localhost:{p1}/hit", "fetch"),
            ("http://c.localhost:{p2}/hit", "xhr"),
        ],
    });
    all.push(Group {
        page: A,
        csp: Csp::ConnectSrc("'self'"),
        report_only: Some("'none'"),
        targets: vec![
            ("http://a.localhost:{p1}/hit", "fetch"),
            ("http://c.localhost:{p2}/hit", "fetch"),
        ],
    });
    all
}

type G = fn(&'static str, &'static str, &[(&'static str, &'static str)]) -> Group;
type H = fn(&'static str, &'static [&'static [u8]], &[(&'static str, &'static str)]) -> Group;

/// Every API connect-src governs (#116–128): XHR, sendBeacon, EventSource, `<a ping>`
/// (Firefox with `browser.send_pings` on), and Chromium's `fetchLater`.
fn more_apis(g: G) -> Vec<Group> {
    vec![
        g(
            A,
            "'self'",
            &[
                ("http://a.localhost:{p1}/hit", "ping"),
                ("http://c.localhost:{p2}/hit", "ping"),
                ("http://a.localhost:{p1}/hit", "fetchLater"),
                ("http://c.localhost:{p2}/hit", "fetchLater"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://a.localhost:{p2}/hit", "beacon"),
                ("http://a.localhost:{p2}/hit", "eventsource"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "'none'",
            &[
                ("http://a.localhost:{p1}/hit", "ping"),
                ("http://a.localhost:{p1}/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "beacon"),
                ("http://a.localhost:{p1}/hit", "eventsource"),
                ("http://a.localhost:{p1}/hit", "fetchLater"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit", "ping"),
                ("http://c.localhost:{p2}/hit", "fetchLater"),
                ("http://a.localhost:{p1}/hit", "ping"),
                ("http://a.localhost:{p1}/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "beacon"),
            ],
        ),
        g(
            A,
            "*",
            &[
                ("http://c.localhost:{p2}/hit", "ping"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "eventsource"),
                ("http://c.localhost:{p2}/hit", "fetchLater"),
                ("http://127.0.0.1:{p2}/hit", "xhr"),
            ],
        ),
    ]
}

/// `'self'` on a page on port 80, and explicit `:80` sources (#16–21, #62–68, #147–149).
fn default_ports(g: G) -> Vec<Group> {
    vec![
        g(
            A80,
            "'self'",
            &[
                ("http://a.localhost/hit", "fetch"),
                ("http://a.localhost/hit", "xhr"),
                ("http://a.localhost/hit", "beacon"),
                ("http://a.localhost/hit", "eventsource"),
                ("https://a.localhost/hit", "fetch"),
                ("ws://a.localhost/ws", "ws"),
                ("wss://a.localhost/ws", "ws"),
                ("http://a.localhost:443/hit", "fetch"),
                ("http://a.localhost:443/hit", "xhr"),
                ("https://a.localhost:80/hit", "fetch"),
                ("http://b.localhost/hit", "fetch"),
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("ws://a.localhost:{p1}/ws", "ws"),
            ],
        ),
        g(
            A80,
            "http://a.localhost:80",
            &[
                ("http://a.localhost/hit", "fetch"),
                ("http://a.localhost:443/hit", "fetch"),
            ],
        ),
        g(
            B,
            "http://a.localhost:80",
            &[
                ("https://a.localhost/hit", "fetch"),
                ("http://a.localhost:443/hit", "fetch"),
                ("http://a.localhost:443/hit", "xhr"),
                ("http://a.localhost/hit", "fetch"),
                ("http://a.localhost/hit", "beacon"),
                ("https://a.localhost:80/hit", "fetch"),
                ("ws://a.localhost/ws", "ws"),
                ("wss://a.localhost/ws", "ws"),
            ],
        ),
        g(
            B,
            "http://a.localhost",
            &[
                ("https://a.localhost/hit", "fetch"),
                ("https://a.localhost:80/hit", "fetch"),
                ("http://a.localhost:443/hit", "fetch"),
                ("http://a.localhost/hit", "fetch"),
                ("http://a.localhost/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        g(
            B,
            "http://a.localhost:{p1}",
            &[
                ("https://a.localhost/hit", "fetch"),
                ("https://a.localhost:{p1}/hit", "fetch"),
                ("https://a.localhost:{p1}/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        g(
            B,
            "a.localhost",
            &[
                ("http://a.localhost/hit", "fetch"),
                ("https://a.localhost/hit", "fetch"),
                ("http://a.localhost:443/hit", "fetch"),
                ("ws://a.localhost/ws", "ws"),
            ],
        ),
    ]
}

/// Host wildcards and IP-literal sources against the IP 127.0.0.1 (#11–15, #75–80,
/// #132–137).
fn wildcards_and_ip(g: G) -> Vec<Group> {
    vec![
        g(
            A,
            "*",
            &[
                ("http://127.0.0.1/hit", "fetch"),
                ("http://127.0.0.1:{p2}/hit", "xhr"),
                ("ws://127.0.0.1:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "http://*",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://127.0.0.1/hit", "fetch"),
                ("http://127.0.0.1/hit", "xhr"),
                ("http://localhost:{p2}/hit", "fetch"),
                ("http://localhost/hit", "fetch"),
                ("http://c.localhost/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*.0.0.1",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://127.0.0.1/hit", "fetch"),
                ("http://127.0.0.1/hit", "beacon"),
            ],
        ),
        g(
            A,
            "http://*:*",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://127.0.0.1:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://127.0.0.1:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "*.0.0.1:*",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://127.0.0.1/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*:{p2}",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*.localhost",
            &[
                ("http://b.localhost/hit", "fetch"),
                ("http://localhost/hit", "fetch"),
                ("http://b.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            IP,
            "http://127.0.0.1:{p1}",
            &[
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("http://127.0.0.1:{p1}/hit", "xhr"),
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("ws://127.0.0.1:{p1}/ws", "ws"),
            ],
        ),
        g(
            IP,
            "'self'",
            &[
                ("http://127.0.0.1:{p1}/hit", "xhr"),
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://127.0.0.1:{p1}",
            &[
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("http://localhost:{p1}/hit", "fetch"),
            ],
        ),
    ]
}

/// Port text with leading zeros (#81–85) and trailing-dot hosts (#86–90).
fn port_text_and_dots(g: G) -> Vec<Group> {
    vec![
        g(
            B,
            "http://a.localhost:0{p2}",
            &[
                ("http://a.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "xhr"),
            ],
        ),
        g(
            B,
            "http://a.localhost:000{p2}",
            &[("http://a.localhost:{p2}/hit", "fetch")],
        ),
        g(
            B,
            "http://a.localhost:080",
            &[
                ("http://a.localhost/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            B,
            "http://a.localhost:{p2}",
            &[("http://a.localhost:{p2}/hit", "fetch")],
        ),
        g(
            A,
            "http://c.localhost.:{p2}",
            &[
                ("http://c.localhost.:{p2}/hit", "fetch"),
                ("http://c.localhost.:{p2}/hit", "xhr"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}",
            &[
                ("http://c.localhost.:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "xhr"),
            ],
        ),
        g(
            A,
            "'self'",
            &[
                ("http://a.localhost.:{p1}/hit", "fetch"),
                ("http://a.localhost.:{p1}/hit", "xhr"),
            ],
        ),
    ]
}

/// ws/wss sources against ws/wss targets, and http(s) sources against them (#91–101,
/// #139–142).
fn websocket_schemes(g: G) -> Vec<Group> {
    vec![
        g(
            B,
            "ws://a.localhost",
            &[
                ("wss://a.localhost:80/ws", "ws"),
                ("ws://a.localhost/ws", "ws"),
                ("wss://a.localhost/ws", "ws"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("http://a.localhost/hit", "fetch"),
            ],
        ),
        g(
            B,
            "ws://a.localhost:{p1}",
            &[
                ("wss://a.localhost:{p1}/ws", "ws"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("http://a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        g(
            B,
            "wss://a.localhost:{p1}",
            &[
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("wss://a.localhost:{p1}/ws", "ws"),
            ],
        ),
        g(
            B,
            "http://a.localhost",
            &[
                ("ws://a.localhost/ws", "ws"),
                ("wss://a.localhost/ws", "ws"),
            ],
        ),
        g(
            B,
            "https://a.localhost",
            &[
                ("wss://a.localhost/ws", "ws"),
                ("https://a.localhost/hit", "fetch"),
                ("http://a.localhost/hit", "fetch"),
            ],
        ),
        g(
            B,
            "http:",
            &[
                ("ws://a.localhost:{p2}/ws", "ws"),
                ("https://a.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "xhr"),
            ],
        ),
        g(
            B,
            "https:",
            &[
                ("wss://a.localhost:{p2}/ws", "ws"),
                ("http://a.localhost:{p2}/hit", "xhr"),
            ],
        ),
        g(
            B,
            "ws:",
            &[
                ("wss://a.localhost:{p2}/ws", "ws"),
                ("ws://a.localhost/ws", "ws"),
            ],
        ),
        g(
            B,
            "'self'",
            &[
                ("ws://b.localhost:{p1}/ws", "ws"),
                ("wss://b.localhost:{p1}/ws", "ws"),
                ("https://b.localhost:{p1}/hit", "fetch"),
                ("ws://b.localhost/ws", "ws"),
            ],
        ),
    ]
}

/// A query or fragment in a source is dropped, the path kept (#29–40).
fn query_and_fragment(g: G) -> Vec<Group> {
    let targets: &[(&'static str, &'static str)] = &[
        ("http://c.localhost:{p2}/svc?x=1", "fetch"),
        ("http://c.localhost:{p2}/svc", "fetch"),
        ("http://c.localhost:{p2}/svc?y=2", "fetch"),
        ("http://c.localhost:{p2}/other", "fetch"),
        ("http://c.localhost:{p2}/svc", "xhr"),
    ];
    vec![
        g(A, "'self' http://c.localhost:{p2}/svc?x=1", targets),
        g(A, "'self' http://c.localhost:{p2}/svc#f", targets),
        g(A, "'self' http://c.localhost:{p2}/svc", targets),
        g(
            A,
            "http://c.localhost:{p2}/?x",
            &[
                ("http://c.localhost:{p2}/svc", "fetch"),
                ("http://a.localhost:{p2}/svc", "fetch"),
            ],
        ),
    ]
}

/// A non-ASCII byte anywhere in a directive drops that directive (so default-src, if any,
/// decides); TAB separates sources (#22–28, #44–52, #59–61, #152, #163). Control bytes
/// other than TAB cannot go into a hyper header value, so #41–43, #53–58 and #150–165's
/// control-byte cases are not here.
fn non_ascii(h: H) -> Vec<Group> {
    let three: &[(&'static str, &'static str)] = &[
        ("http://a.localhost:{p1}/hit", "fetch"),
        ("http://c.localhost:{p2}/hit", "fetch"),
        ("http://b.localhost:{p2}/hit", "fetch"),
    ];
    vec![
        h(
            A,
            &[b"connect-src http://a.localhost:{p1} http://b\xC3\xBCcher.localhost; report-uri /csp-reports"],
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "xhr"),
            ],
        ),
        h(
            A,
            &[b"connect-src http://a.localhost:{p1} http://b\xFCcher.localhost; report-uri /csp-reports"],
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        h(
            A,
            &[b"default-src 'none'; script-src 'unsafe-inline'; connect-src http://a.localhost:{p1} http://b\xC3\xBCcher.localhost; report-uri /csp-reports"],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("http://a.localhost:{p1}/hit", "xhr"),
            ],
        ),
        h(
            A,
            &[b"default-src 'self'; script-src 'unsafe-inline'; connect-src http://c.localhost:{p2} \xE2\x80\x98self\xE2\x80\x99; report-uri /csp-reports"],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        h(
            A,
            &[b"default-src 'none'; script-src 'unsafe-inline'; connect-src http://a.localhost:{p1} http://xn--bcher-kva.localhost; report-uri /csp-reports"],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        h(
            A,
            &[b"connect-src http://a.localhost:{p1}\xC2\xA0http://c.localhost:{p2}; report-uri /csp-reports"],
            three,
        ),
        h(
            A,
            &[b"connect-src http://a.localhost:{p1}\xA0http://c.localhost:{p2}; report-uri /csp-reports"],
            three,
        ),
        h(
            A,
            &[b"default-src 'none'; script-src 'unsafe-inline'; connect-src http://a.localhost:{p1}\xC2\xA0http://c.localhost:{p2}; report-uri /csp-reports"],
            three,
        ),
        h(
            A,
            &[b"connect-src http://a.localhost:{p1}\thttp://c.localhost:{p2}; report-uri /csp-reports"],
            three,
        ),
        h(
            A,
            &[b"connect-src \xE2\x80\x98none\xE2\x80\x99; report-uri /csp-reports"],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        h(
            A,
            &[b"connect-src 'none'; report-uri /csp-reports"],
            &[("http://a.localhost:{p1}/hit", "fetch")],
        ),
    ]
}

/// Whole headers: default-src fallback, a duplicated directive (the first wins), two
/// policies joined by a comma or in two headers (both must allow) (#102–109).
fn whole_headers(h: H) -> Vec<Group> {
    let ac: &[(&'static str, &'static str)] = &[
        ("http://a.localhost:{p1}/hit", "fetch"),
        ("http://c.localhost:{p2}/hit", "fetch"),
        ("ws://c.localhost:{p2}/ws", "ws"),
    ];
    vec![
        h(
            A,
            &[b"default-src 'self'; script-src 'unsafe-inline'; report-uri /csp-reports"],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "beacon"),
                ("http://c.localhost:{p2}/hit", "eventsource"),
                ("http://a.localhost:{p1}/hit", "eventsource"),
            ],
        ),
        h(
            A,
            &[b"default-src http://c.localhost:{p2}; script-src 'unsafe-inline'; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[b"default-src 'none'; script-src 'unsafe-inline'; connect-src 'self'; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[b"default-src *; script-src 'unsafe-inline'; report-uri /csp-reports"],
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("data:text/plain,x", "fetch"),
            ],
        ),
        h(A, &[b"img-src 'none'; report-uri /csp-reports"], ac),
        h(
            A,
            &[b"connect-src http://a.localhost:{p1}; connect-src *; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[b"connect-src *; connect-src 'self'; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[b"connect-src *; report-uri /csp-reports, connect-src 'self'; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[b"connect-src 'self'; report-uri /csp-reports, connect-src *; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[
                b"connect-src *; report-uri /csp-reports",
                b"connect-src 'self'; report-uri /csp-reports",
            ],
            ac,
        ),
        h(
            A,
            &[
                b"connect-src 'self' http://c.localhost:{p2}; report-uri /csp-reports",
                b"connect-src http://c.localhost:{p2}; report-uri /csp-reports",
            ],
            ac,
        ),
        h(
            A,
            &[b"default-src 'self'; script-src 'unsafe-inline'; report-uri /csp-reports, connect-src *; report-uri /csp-reports"],
            ac,
        ),
    ]
}
