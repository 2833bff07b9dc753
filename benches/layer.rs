//! Layer cost per response, side by side: `cargo bench --bench layer`.
#![allow(missing_docs)] // criterion_group! generates an undocumented function
//!
//! Every configuration wraps the same trivial service and is called, pre-built, with
//! `ready().await` + `call` inside `block_on` on one current-thread runtime, so the figures
//! differ only by what the layer does. The floor is tower-http's `SetResponseHeader` with
//! the same static values; axum-helmet is what a user would reach for today.

use std::convert::Infallible;
use std::hint::black_box;

use axum_helmet::{ContentSecurityPolicy, Helmet, HelmetLayer};
use connect_src::layer::REPORTING_ENDPOINTS;
use connect_src::{ConnectSrc, HeaderMode, Policy};
use criterion::{criterion_group, criterion_main, Criterion};
use http::header::{CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY};
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_http::set_header::SetResponseHeaderLayer;

const SOURCES: [&str; 12] = include!("sources.rs.in");

const TEN_DIRECTIVES: &str = "default-src 'self'; script-src 'self' https://cdn.example.net; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; font-src 'self'; \
    connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; \
    object-src 'none'";

fn list() -> ConnectSrc {
    SOURCES
        .iter()
        .fold(ConnectSrc::builder(), |b, s| b.source(*s))
        .build()
        .unwrap()
}

fn enforced_only() -> Policy {
    Policy::builder().enforce(list()).build().unwrap()
}

fn full() -> Policy {
    Policy::builder()
        .enforce(list())
        .report_only(
            ConnectSrc::builder()
                .self_origin()
                .host("https://api.myapp.com"),
        )
        .report_uri("/csp-reports")
        .report_to("csp", "https://myapp.com/csp-reports")
        .build()
        .unwrap()
}

type Svc = tower::util::BoxCloneService<Request<()>, Response<()>, Infallible>;

fn trivial() -> impl Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send>
       + Clone
       + Send
       + 'static {
    tower::service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) })
}

fn with_existing_csp(
) -> impl Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send>
       + Clone
       + Send
       + 'static {
    tower::service_fn(|_req: Request<()>| async {
        let mut res = Response::new(());
        res.headers_mut().insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(TEN_DIRECTIVES),
        );
        Ok::<_, Infallible>(res)
    })
}

fn static_value(s: String) -> HeaderValue {
    HeaderValue::from_str(&s).unwrap()
}

fn run(c: &mut Criterion, group: &str, cases: Vec<(&str, Svc)>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group(group);
    for (name, mut svc) in cases {
        g.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let res = svc
                        .ready()
                        .await
                        .unwrap()
                        .call(Request::new(()))
                        .await
                        .unwrap();
                    black_box(res)
                })
            })
        });
    }
    g.finish();
}

fn layer_cost(c: &mut Criterion) {
    let enforced = enforced_only();
    let full = full();
    let e_value = static_value(enforced.enforced_header().unwrap());
    let helmet: HelmetLayer = Helmet::new()
        .add(ContentSecurityPolicy::new().connect_src(SOURCES.to_vec()))
        .try_into()
        .unwrap();
    let tower_full = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            static_value(full.enforced_header().unwrap()),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY_REPORT_ONLY,
            static_value(full.report_only_header().unwrap()),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REPORTING_ENDPOINTS,
            static_value(full.reporting_endpoints_header().unwrap()),
        ))
        .service(trivial());

    run(
        c,
        "layer",
        vec![
            ("no layer", Svc::new(trivial())),
            (
                "tower-http static CSP",
                Svc::new(
                    SetResponseHeaderLayer::overriding(CONTENT_SECURITY_POLICY, e_value)
                        .layer(trivial()),
                ),
            ),
            (
                "connect-src merge",
                Svc::new(enforced.layer().layer(trivial())),
            ),
            (
                "connect-src override",
                Svc::new(enforced.layer().mode(HeaderMode::Override).layer(trivial())),
            ),
            ("axum-helmet", Svc::new(helmet.layer(trivial()))),
            ("tower-http static 3 headers", Svc::new(tower_full)),
            (
                "connect-src merge 3 headers",
                Svc::new(full.layer().layer(trivial())),
            ),
        ],
    );

    // The handler already set a 10-directive CSP: merge has to edit it.
    run(
        c,
        "existing-csp",
        vec![
            ("handler CSP, no layer", Svc::new(with_existing_csp())),
            (
                "connect-src override",
                Svc::new(
                    enforced
                        .layer()
                        .mode(HeaderMode::Override)
                        .layer(with_existing_csp()),
                ),
            ),
            (
                "connect-src merge",
                Svc::new(enforced.layer().layer(with_existing_csp())),
            ),
        ],
    );
}

criterion_group!(benches, layer_cost);
criterion_main!(benches);
