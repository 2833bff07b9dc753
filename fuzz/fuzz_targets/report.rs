//! The violation-report parser on arbitrary bytes: no panic, output within bounds.
#![no_main]

use connect_src::report::{parse_reports, NormalizeOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let o = NormalizeOptions::default();
    if let Ok(parsed) = parse_reports(data, &o) {
        assert!(parsed.violations.len() <= o.max_reports);
        for v in &parsed.violations {
            assert!(v.document_url.len() <= o.max_field);
            assert!(v.blocked_url.len() <= o.max_field);
            assert!(!v.blocked_url.contains('?'));
        }
    }
});
