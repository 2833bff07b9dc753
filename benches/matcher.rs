//! Matcher cost: `cargo bench --bench matcher`.
//!
//! Side by side in one run, on the same 12-source policy and targets: a bare
//! `url::Url::parse` of the target (the floor: any matcher given a string must parse it),
//! this crate's `check_target` (parse + verdicts for four engines), and Servo's
//! `content-security-policy` crate asked the same question (parse + `should_request_be_blocked`).
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;

use connect_src::matcher::Engine;
use connect_src::ConnectSrc;
use content_security_policy as servo;
use criterion::{criterion_group, criterion_main, Criterion};
use url::Url;

const POLICY: &str = "'self' https://api.myapp.com wss://ws.myapp.com https://*.myapp.com \
    https://cdn.example.net https://o123.ingest.sentry.io https://www.google-analytics.com \
    https://region1.google-analytics.com https://api.stripe.com wss://realtime.example.org:8443 \
    https://uploads.example.org/v1/ https://*.pusher.com";

const PAGE: &str = "https://myapp.com/dashboard";

const TARGETS: [&str; 8] = [
    "https://api.myapp.com/v1/users?page=2",
    "https://evil.example/collect?d=secret",
    "https://eu.myapp.com/graphql",
    "https://uploads.example.org/v1/files/42",
    "https://uploads.example.org/v2/files/42",
    "https://sockjs-eu.pusher.com/app/1",
    "https://api.stripe.com/v1/tokens",
    "https://myapp.com/api/session",
];

fn servo_allows(list: &servo::CspList, page: &Url, target: &Url) -> bool {
    let request = servo::Request {
        url: target.clone(),
        current_url: target.clone(),
        origin: page.origin(),
        redirect_count: 0,
        destination: servo::Destination::None,
        initiator: servo::Initiator::None,
        nonce: String::new(),
        integrity_metadata: String::new(),
        parser_metadata: servo::ParserMetadata::None,
    };
    matches!(
        list.should_request_be_blocked(&request).0,
        servo::CheckResult::Allowed
    )
}

fn matcher(c: &mut Criterion) {
    let ours: ConnectSrc = POLICY.parse().unwrap();
    let header = format!("connect-src {POLICY}");
    let servo_list = servo::CspList::parse(
        &header,
        servo::PolicySource::Header,
        servo::PolicyDisposition::Enforce,
    );
    let page = Url::parse(PAGE).unwrap();

    // Same answers on these targets (none of them exercises a known Servo difference).
    for t in TARGETS {
        let u = Url::parse(t).unwrap();
        let v = ours.check_target(&page, t).unwrap();
        assert_eq!(
            v.get(Engine::Spec),
            servo_allows(&servo_list, &page, &u),
            "{t}"
        );
    }

    let mut g = c.benchmark_group("matcher (8 targets)");
    g.bench_function("url::Url::parse (floor)", |b| {
        b.iter(|| {
            for t in TARGETS {
                black_box(Url::parse(black_box(t)).unwrap());
            }
        })
    });
    g.bench_function("connect-src check_target", |b| {
        b.iter(|| {
            for t in TARGETS {
                black_box(ours.check_target(&page, black_box(t)).unwrap());
            }
        })
    });
    g.bench_function("servo content-security-policy", |b| {
        b.iter(|| {
            for t in TARGETS {
                let u = Url::parse(black_box(t)).unwrap();
                black_box(servo_allows(&servo_list, &page, &u));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, matcher);
criterion_main!(benches);
