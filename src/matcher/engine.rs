//! The engines a verdict is given for, and how each departs from the spec text: data, in
//! one table ([`RULE_SETS`]), measured in real browsers by `tests/browsers.rs`.

use std::fmt;

/// A browser engine, or the specification's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// CSP3 as written (§6.7.2.8–12).
    Spec,
    /// Chromium (Chrome, Edge, Opera…), as measured in headless Chromium.
    Chromium,
    /// Firefox, as measured in Firefox ESR.
    Firefox,
    /// WebKit (Safari), as measured in WebKitGTK.
    WebKit,
}

impl Engine {
    /// Every engine, in [`Verdict`](super::Verdict) order.
    pub const ALL: [Engine; 4] = [
        Engine::Spec,
        Engine::Chromium,
        Engine::Firefox,
        Engine::WebKit,
    ];

    /// `spec`, `chromium`, `firefox` or `webkit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Spec => "spec",
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
            Engine::WebKit => "webkit",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.as_str() == text)
    }

    /// The engine a `User-Agent` names, if it names one this crate knows: `Firefox/` is
    /// Firefox, `Chrome/` or `Chromium/` Chromium, `AppleWebKit/` otherwise WebKit.
    pub fn from_user_agent(user_agent: &str) -> Option<Engine> {
        if user_agent.contains("Firefox/") {
            Some(Engine::Firefox)
        } else if user_agent.contains("Chrome/") || user_agent.contains("Chromium/") {
            Some(Engine::Chromium)
        } else if user_agent.contains("AppleWebKit/") {
            Some(Engine::WebKit)
        } else {
            None
        }
    }

    /// The engine's departures from the spec text.
    pub(crate) fn rules(self) -> &'static Rules {
        let bit = self.bit();
        RULE_SETS
            .iter()
            .find(|(bits, _)| bits & bit != 0)
            .map_or(&SPEC, |(_, r)| *r)
    }

    /// This engine's bit in a verdict mask.
    pub(super) const fn bit(self) -> u8 {
        match self {
            Engine::Spec => 0b0001,
            Engine::Chromium => 0b0010,
            Engine::Firefox => 0b0100,
            Engine::WebKit => 0b1000,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one engine departs from the spec text, as measured (`docs/engine-probe/FINDINGS.md`,
/// `tests/browsers.rs`; the `#n` below are that file's probes). Every field is `false` for
/// the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct Rules {
    // ---- matching (§6.7.2.8–12) ----
    /// Schemes match within their family only: `ws:`/`wss:` sources never match http(s)
    /// URLs (the spec's §6.7.2.9 steps 3–4 let them, and so does WebKit), so only `'self'`
    /// and `*` reach a WebSocket without a ws/wss source.
    pub(crate) scheme_families: bool,
    /// `*` matches ws/wss URLs from any page (§6.7.2.8 step 1 only allows http(s) and the
    /// page's own scheme; #3–8).
    pub(crate) star_matches_websocket: bool,
    /// IP-literal hosts match host-parts as text: an identical IP source, `*`, and `*.x`
    /// when the address ends in `.x` (`*.0.0.1` allows `127.0.0.1`). §6.7.2.10 step 1 says
    /// an IP never matches (#11, #78, #79, #132–135).
    pub(crate) ip_literals_match: bool,
    /// A source on port 80 matches a URL on port 443 after a scheme upgrade
    /// (`http://h:80` allows `https://h/`; #16).
    pub(crate) port_80_upgrades_to_443: bool,
    /// A source on port 80, written or implied by its scheme or by `'self'` on a port-80
    /// page, matches a URL on port 443 without a scheme upgrade (`http://h:80` and `http://h`
    /// allow `http://h:443`; #17, #66).
    pub(crate) port_80_matches_443: bool,
    /// A scheme upgrade does not keep an explicit port: `http://h:8001` does not allow
    /// `https://h:8001`, nor `http://h:80` `https://h:80` (the spec allows both; #19, #95,
    /// #97).
    pub(crate) upgrade_drops_explicit_port: bool,
    /// A source without a port also matches the default port of its own scheme written
    /// explicitly on an upgraded URL: `http://h` allows `https://h:80`, `ws://h` allows
    /// `wss://h:80` (#91, #149).
    pub(crate) portless_source_keeps_its_default_port: bool,
    /// `'self'` on an http page on port 80 allows https and wss on that same host's port 80
    /// (`https://h:80`; #67).
    pub(crate) self_upgrade_keeps_port_80: bool,
    /// A source without a port reaches port 443 by the port-80 rules above only when it
    /// writes the scheme `http`: `http://h` reaches `http://h:443`, but `h` on an http page
    /// and `ws://h` keep their implied port 80 exact (`ws://h` does not allow
    /// `ws://h:443`); a written `:80` reaches 443 whatever the scheme (tests/browsers.rs;
    /// WebKit's `ContentSecurityPolicySource::portMatches`).
    pub(crate) implied_port_80_needs_http: bool,
    /// A host-source whose host ends in `.` matches nothing, not even a URL whose host ends
    /// in `.` too (#86, #87).
    pub(crate) trailing_dot_source_matches_nothing: bool,
    // ---- reading policy text (§2.2.1) ----
    /// A control character (U+0000–U+001F other than ASCII whitespace, or U+007F) anywhere in
    /// a directive drops the whole directive, as a non-ASCII one is dropped; the spec text
    /// only splits the value on ASCII whitespace, so such a token is one invalid source
    /// (#41–43, #56–58, #150–160).
    pub(crate) control_drops_directive: bool,
    /// A vertical tab (U+000B) separates sources like ASCII whitespace (#41–43, #150).
    pub(crate) vertical_tab_separates: bool,
    /// A host-source with `?query` or `#fragment` is kept with those parts dropped (the
    /// grammar has no place for them, so by the spec text the source is invalid; #29–36).
    pub(crate) query_in_source_ignored: bool,
    /// A port written with leading zeros (`:08080`, `:080`) makes the source match nothing
    /// (#81, #82, #85).
    pub(crate) leading_zero_port_matches_nothing: bool,
    /// A `<meta http-equiv="Content-Security-Policy">` whose content holds a `,` is read as
    /// several policies, as a header is. The HTML standard hands the content to "parse a
    /// serialized CSP" whole, so a `,` is just a character in a source (tests/browsers.rs).
    pub(crate) meta_comma_splits: bool,
    // ---- upgrade-insecure-requests (Fetch "upgrade a request", UIR §4.1) ----
    /// Loopback hosts (`localhost`, `*.localhost`, 127.0.0.0/8) are upgraded like any
    /// other; the spec text makes no exception. Measured by the scheme the test server
    /// saw: WebKit upgrades them, Chromium and Firefox send them as written (Chromium then
    /// judges them as written too; Firefox judges every URL as written anyway).
    pub(crate) uir_upgrades_loopback: bool,
    /// Per API ([`Api::index`](super::Api)), which URL the engine judges when it upgrades
    /// the first URL of a request.
    pub(crate) uir_judges: [Judged; 5],
    /// Which URL it judges when it upgrades a URL a redirect led to (every API alike).
    pub(crate) uir_judges_redirect: Judged,
    /// A policy that holds `upgrade-insecure-requests` judges the URL as written, but lets
    /// an `http:` URL match its `https` sources (`https:`, `https://h`, and `'self'` of an
    /// https page) and a `ws:` URL its `wss` ones, the URL's own port kept; the engine's
    /// other policies judge the URL as written, strictly (Firefox's `permitsScheme` with
    /// `aUpgradeInsecure`; tests/browsers.rs: `https://h:443` does not allow `http://h/`,
    /// and the directive in another policy of the header relaxes nothing).
    pub(crate) uir_relaxes_own_policy: bool,
}

/// Which URL an engine judges when `upgrade-insecure-requests` upgrades a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Judged {
    /// The upgraded URL only (`https:`/`wss:`): Fetch's main fetch upgrades the request
    /// (step 5) before asking CSP (step 7).
    Upgraded,
    /// The URL as written, before the upgrade.
    Original,
    /// Both: the URL as written, then the upgraded one; either can block.
    Both,
}

const SPEC: Rules = Rules {
    scheme_families: false,
    star_matches_websocket: false,
    ip_literals_match: false,
    port_80_upgrades_to_443: false,
    port_80_matches_443: false,
    upgrade_drops_explicit_port: false,
    portless_source_keeps_its_default_port: false,
    self_upgrade_keeps_port_80: false,
    trailing_dot_source_matches_nothing: false,
    control_drops_directive: false,
    vertical_tab_separates: false,
    query_in_source_ignored: false,
    leading_zero_port_matches_nothing: false,
    implied_port_80_needs_http: false,
    meta_comma_splits: false,
    uir_upgrades_loopback: true,
    uir_judges: [Judged::Upgraded; 5],
    uir_relaxes_own_policy: false,
    uir_judges_redirect: Judged::Upgraded,
};

/// Chromium 156, headless.
const CHROMIUM: Rules = Rules {
    scheme_families: true,
    star_matches_websocket: true,
    ip_literals_match: true,
    port_80_upgrades_to_443: true,
    port_80_matches_443: false,
    upgrade_drops_explicit_port: true,
    portless_source_keeps_its_default_port: false,
    self_upgrade_keeps_port_80: true,
    trailing_dot_source_matches_nothing: false,
    control_drops_directive: true,
    vertical_tab_separates: false,
    query_in_source_ignored: true,
    leading_zero_port_matches_nothing: false,
    implied_port_80_needs_http: false,
    meta_comma_splits: true,
    uir_upgrades_loopback: false,
    uir_judges: [
        Judged::Both,
        Judged::Upgraded,
        Judged::Upgraded,
        Judged::Both,
        Judged::Upgraded,
    ],
    uir_relaxes_own_policy: false,
    uir_judges_redirect: Judged::Upgraded,
};

/// Firefox ESR 153, headless.
const FIREFOX: Rules = Rules {
    scheme_families: true,
    star_matches_websocket: true,
    ip_literals_match: true,
    port_80_upgrades_to_443: true,
    port_80_matches_443: true,
    upgrade_drops_explicit_port: false,
    portless_source_keeps_its_default_port: true,
    self_upgrade_keeps_port_80: true,
    trailing_dot_source_matches_nothing: true,
    control_drops_directive: true,
    vertical_tab_separates: false,
    query_in_source_ignored: true,
    leading_zero_port_matches_nothing: true,
    implied_port_80_needs_http: false,
    meta_comma_splits: false,
    uir_upgrades_loopback: false,
    uir_judges: [Judged::Original; 5],
    uir_relaxes_own_policy: true,
    uir_judges_redirect: Judged::Original,
};

/// WebKitGTK 2.50 (MiniBrowser under Xvfb).
const WEBKIT: Rules = Rules {
    scheme_families: false,
    star_matches_websocket: true,
    ip_literals_match: true,
    port_80_upgrades_to_443: true,
    port_80_matches_443: true,
    upgrade_drops_explicit_port: false,
    portless_source_keeps_its_default_port: false,
    self_upgrade_keeps_port_80: false,
    trailing_dot_source_matches_nothing: false,
    control_drops_directive: true,
    vertical_tab_separates: true,
    query_in_source_ignored: true,
    leading_zero_port_matches_nothing: false,
    implied_port_80_needs_http: true,
    meta_comma_splits: true,
    uir_upgrades_loopback: true,
    uir_judges: [
        Judged::Upgraded,
        Judged::Upgraded,
        Judged::Original,
        Judged::Original,
        Judged::Upgraded,
    ],
    uir_relaxes_own_policy: false,
    uir_judges_redirect: Judged::Upgraded,
};

/// Which engines follow which rules: the one place that says it. Each entry's bits are the
/// engines ([`Engine::bit`]) that share that rule set; [`Engine::rules`] reads it, and the
/// algorithm runs once per entry, not once per engine.
pub(super) const RULE_SETS: [(u8, &Rules); 4] = [
    (Engine::Spec.bit(), &SPEC),
    (Engine::Chromium.bit(), &CHROMIUM),
    (Engine::Firefox.bit(), &FIREFOX),
    (Engine::WebKit.bit(), &WEBKIT),
];

/// Every engine's bit.
pub(super) const ALL_ENGINES: u8 = {
    let mut bits = 0;
    let mut i = 0;
    while i < Engine::ALL.len() {
        bits |= Engine::ALL[i].bit();
        i += 1;
    }
    bits
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_has_exactly_one_rule_set() {
        let mut seen = 0u8;
        for (bits, _) in RULE_SETS {
            assert_eq!(seen & bits, 0, "an engine in two rule sets");
            seen |= bits;
        }
        assert_eq!(seen, ALL_ENGINES);
        assert_eq!(ALL_ENGINES.count_ones() as usize, Engine::ALL.len());
        assert_eq!(Engine::Spec.rules(), &SPEC);
        assert_eq!(Engine::WebKit.rules(), &WEBKIT);
        assert_eq!(Engine::Chromium.rules(), &CHROMIUM);
        assert_eq!(Engine::Firefox.rules(), &FIREFOX);
    }
}
