//! Report parsing cost: `cargo bench --bench parse`.
//!
//! The floor is `serde_json::from_slice::<serde_json::Value>` on the same bytes ("just read
//! the JSON"); this crate's `parse_reports` does the typed parse plus normalization (query
//! stripping, bounds, the fallbacks), on a real Chromium legacy body and on a Reporting API
//! batch of 10.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;

use connect_src::report::intake::{parse_reports, NormalizeOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/reports/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn parse(c: &mut Criterion) {
    let legacy = fixture("chromium-legacy-captured.json");
    let one = String::from_utf8(fixture("chromium-reports-api.json")).unwrap();
    let item = one.trim().trim_start_matches('[').trim_end_matches(']');
    let batch = format!("[{}]", [item; 10].join(",")).into_bytes();
    let o = NormalizeOptions::default();
    assert_eq!(parse_reports(&batch, &o).unwrap().violations.len(), 10);

    for (name, body) in [
        ("legacy object", &legacy),
        ("reports+json batch of 10", &batch),
    ] {
        let mut g = c.benchmark_group(format!("parse {name}"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("serde_json::Value (floor)", |b| {
            b.iter(|| {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)).unwrap())
            })
        });
        g.bench_function("connect-src parse + normalize", |b| {
            b.iter(|| black_box(parse_reports(black_box(body), &o).unwrap()))
        });
        g.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
