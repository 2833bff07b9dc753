//! The violation-report parser on arbitrary bytes: no panic, output within bounds.
#![no_main]

use connect_src::report::intake::{parse_reports, NormalizeOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let o = NormalizeOptions::default();
    if let Ok(parsed) = parse_reports(data, &o) {
        assert!(parsed.violations.len() <= o.max_reports);
        for v in &parsed.violations {
            assert!(v.document_url.len() <= o.max_field);
            assert!(v.blocked_url.len() <= o.max_field);
            assert!(!v.blocked_url.contains('?'));
            // Always a directive name CSP defines, never the sender's text.
            let d = &v.effective_directive;
            assert!(!d.is_empty() && d.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
            // Non-http(s) URLs are kept as their scheme alone: no data: payload survives.
            assert!(!v.blocked_url.to_ascii_lowercase().starts_with("data:"));
        }
    }
});
