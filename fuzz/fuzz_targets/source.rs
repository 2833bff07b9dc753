//! The source-expression and directive-value parsers: no panics, and whatever is accepted
//! round-trips and serializes to one header-safe token list.
#![no_main]

use connect_src::{ConnectSrc, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(src) = text.parse::<Source>() {
        let shown = src.to_string();
        assert_eq!(shown.parse::<Source>().as_ref(), Ok(&src), "{shown:?}");
        assert!(shown.bytes().all(|b| b.is_ascii_graphic()), "{shown:?}");
        assert!(!shown.contains([';', ',']), "{shown:?}");
    }
    if let Ok(list) = text.parse::<ConnectSrc>() {
        let value = list.value();
        assert!(!value.contains([';', ',']), "{value:?}");
        assert_eq!(value.parse::<ConnectSrc>().as_ref(), Ok(&list));
    }
});
