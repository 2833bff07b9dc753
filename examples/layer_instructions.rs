//! Run with: `bash bench/instructions.sh` (it runs this under callgrind).
//!
//! `layer_instructions <config> <iterations>` calls a pre-built service `iterations` times,
//! polling each future once with a no-op waker (every service here is ready at once), so an
//! instruction count divided by the iterations is the per-response cost, free of the timing
//! noise of a shared 2-core machine.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum_helmet::{ContentSecurityPolicy, Helmet, HelmetLayer};
use connect_src::policy::{ConnectionAllowlist, CONNECTION_ALLOWLIST_REPORT_ONLY};
use connect_src::{ConnectSrc, HeaderMode, Policy};
use http::header::CONTENT_SECURITY_POLICY;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};
use tower_http::set_header::SetResponseHeaderLayer;

const SOURCES: [&str; 12] = include!("../benches/sources.rs.in");

/// A path parameter, as axum's router inserts one into every routed request's extensions
/// before the `Router::layer` middleware runs.
#[derive(Clone)]
struct RouteParams;

/// `routed`: requests as a layer inside an axum `Router` receives them (extensions already
/// hold the router's entries); otherwise bare `Request::new(())`, the cheapest case.
fn request(routed: bool) -> Request<()> {
    let mut req = Request::new(());
    if routed {
        req.extensions_mut().insert(RouteParams);
    }
    req
}

fn run<S>(mut svc: S, n: u64, routed: bool)
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..n {
        assert!(svc.poll_ready(&mut cx).is_ready());
        let fut = pin!(svc.call(request(routed)));
        match fut.poll(&mut cx) {
            Poll::Ready(Ok(res)) => {
                black_box(res);
            }
            _ => unreachable!("trivial services are ready at once"),
        }
    }
}

/// `list` enforced, reporting to `/csp-reports`, with the inventory at `rate` if given.
fn with_inventory(list: &ConnectSrc, rate: Option<f64>) -> Policy {
    let mut b = Policy::builder()
        .enforce(list.clone())
        .report_uri("/csp-reports");
    if let Some(rate) = rate {
        b = b.inventory(rate);
    }
    b.build().unwrap()
}

/// `list` enforced, with its Connection-Allowlist-Report-Only.
fn allowlisted(list: &ConnectSrc) -> Policy {
    Policy::builder()
        .enforce(list.clone())
        .connection_allowlist(ConnectionAllowlist::report_only())
        .build()
        .unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let config = args.next().expect("config");
    let n: u64 = args.next().expect("iterations").parse().expect("a number");
    let trivial =
        tower::service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let list = SOURCES
        .iter()
        .fold(ConnectSrc::builder(), |b, s| b.source(*s))
        .build()
        .unwrap();
    let policy = Policy::builder().enforce(list.clone()).build().unwrap();
    let value = HeaderValue::from_str(&policy.enforced_header().unwrap()).unwrap();
    let (config, routed) = match config.strip_suffix("-routed") {
        Some(c) => (c, true),
        None => (config.as_str(), false),
    };
    match config {
        "none" => run(trivial, n, routed),
        "tower-http" => run(
            SetResponseHeaderLayer::overriding(CONTENT_SECURITY_POLICY, value).layer(trivial),
            n,
            routed,
        ),
        "merge" => run(policy.layer().layer(trivial), n, routed),
        // The same list with a report-uri: what the inventory rows add to.
        "merge-report-uri" => run(
            with_inventory(&list, None).layer().layer(trivial),
            n,
            routed,
        ),
        // Inventory on, this response not sampled: every response draws, none is sampled
        // (a rate of 1e-12 samples one response in 10^12). An unsampled response costs the
        // same at any rate, 0.01 included: one draw and one comparison.
        "merge-inventory" => run(
            with_inventory(&list, Some(1e-12)).layer().layer(trivial),
            n,
            routed,
        ),
        // Inventory at 0.01: the mean over responses, one in a hundred sampled (the sampled
        // ones build their own report-only header with a fresh page-load id).
        "merge-inventory-1pct" => run(
            with_inventory(&list, Some(0.01)).layer().layer(trivial),
            n,
            routed,
        ),
        // A rollout's enforcing stage at 10%: every response draws; one in ten gets the
        // staged policy's values (compiled once, like the base's).
        "merge-rollout" => {
            let base = with_inventory(&list, None);
            let staged = base
                .to_builder()
                .enforce(ConnectSrc::builder().self_origin())
                .build()
                .unwrap();
            let layer = base.clone().layer();
            layer
                .handle()
                .stage(base, Some(connect_src::layer::Stage::new(staged, 0.10)));
            run(layer.layer(trivial), n, routed)
        }
        // Another layer exists (a route's own, say), so nesting is possible and every
        // request carries the nesting mark.
        "merge-two-layers" => {
            let _route = policy.layer();
            run(policy.layer().layer(trivial), n, routed)
        }
        "override" => run(
            policy.layer().mode(HeaderMode::Override).layer(trivial),
            n,
            routed,
        ),
        // The same list and its Connection-Allowlist-Report-Only, both set by tower-http
        // (what a user writing the allowlist by hand would do) and by this crate's layer.
        "tower-http-allowlist" => {
            let a = allowlisted(&list);
            let (_, v) = a.connection_allowlist_header().unwrap();
            let al = HeaderValue::from_str(v).unwrap();
            let both = SetResponseHeaderLayer::overriding(CONTENT_SECURITY_POLICY, value).layer(
                SetResponseHeaderLayer::overriding(CONNECTION_ALLOWLIST_REPORT_ONLY, al)
                    .layer(trivial),
            );
            run(both, n, routed)
        }
        "merge-allowlist" => run(allowlisted(&list).layer().layer(trivial), n, routed),
        "axum-helmet" => {
            let helmet: HelmetLayer = Helmet::new()
                .add(ContentSecurityPolicy::new().connect_src(SOURCES.to_vec()))
                .try_into()
                .unwrap();
            run(helmet.layer(trivial), n, routed)
        }
        other => panic!("unknown config {other}"),
    }
}
