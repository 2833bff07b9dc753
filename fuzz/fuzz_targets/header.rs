//! The CSP header parser and merge mode: no panics, merge keeps the handler's directives
//! and always ends with exactly our connect-src in every policy.
#![no_main]

use connect_src::layer::merge_connect_src;
use connect_src::policy::text::parse_header;
use libfuzzer_sys::fuzz_target;

const OURS: &str = "connect-src 'self' https://api.x.com";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let before = parse_header(text);
    let merged = merge_connect_src(text, OURS, &["report-uri /r"]);
    let after = parse_header(&merged);
    if before.is_empty() {
        assert_eq!(after.len(), 1, "{merged:?}");
    } else {
        assert_eq!(before.len(), after.len(), "{text:?} -> {merged:?}");
    }
    for (i, a) in after.iter().enumerate() {
        assert_eq!(a.get("connect-src"), Some("'self' https://api.x.com"), "{merged:?}");
        if let Some(b) = before.get(i) {
            for d in &b.directives {
                if !d.name.eq_ignore_ascii_case("connect-src") {
                    assert_eq!(a.get(d.name), Some(d.value), "{text:?} -> {merged:?}");
                }
            }
        }
    }
});
