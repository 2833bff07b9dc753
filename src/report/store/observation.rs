//! What the inventory learns: [`Observation`]s (a connection a sampled page made, reported by
//! its report-only `connect-src 'none'` policy) and who made them ([`Network`],
//! [`PageLoad`]). What a store gives back is [`DestinationUse`](crate::learn::DestinationUse).

use std::fmt;
use std::time::SystemTime;

use super::class::Class;
use crate::matcher::Engine;
use crate::source::Origin;

/// A client network: a keyed hash of the sender's /24 (IPv4) or /48 (IPv6), never the
/// address. Reports from one network count once towards a destination's reach, however many
/// it sends. Shown as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Network(pub u64);

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A page load the layer sampled for the inventory: the id it wrote into that response's
/// inventory report URL (`csp-inventory=…`, 16 hex digits), random per response and tied to
/// no user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageLoad(pub u64);

impl PageLoad {
    /// Reads the id as the layer writes it: exactly 16 lower-case hex digits.
    pub fn parse(text: &str) -> Option<PageLoad> {
        if text.len() != 16 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(PageLoad)
    }
}

impl fmt::Display for PageLoad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// One connection a sampled page made: the inventory's unit. Not a violation: observations
/// are stored apart, never counted as violations, and re-weighted by their sample rate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Observation {
    /// Where the page connected.
    pub destination: Origin,
    /// The page's origin (what `'self'` meant for it).
    pub document_origin: Option<Origin>,
    /// The page's path (no query), bounded to 256 bytes.
    pub document_path: String,
    /// The sampled page load.
    pub page_load: PageLoad,
    /// The share of responses the layer sampled when it served this page, in `(0, 1]`: each
    /// observed page load stands for `1 / sample_rate` page loads.
    pub sample_rate: f64,
    /// The reporting engine, from its user agent.
    pub engine: Option<Engine>,
    /// The sender's network, when the collector saw its address.
    pub network: Option<Network>,
    /// `Genuine` when the report URL's provenance token (bound to the page load and rate)
    /// verified; `Unverified` without provenance.
    pub class: Class,
    /// When the collector received it.
    pub received_at: SystemTime,
}

impl Observation {
    /// An observation of `destination` by `page_load`, sampled at `sample_rate` (clamped to
    /// `(0, 1]`), received now; the other fields empty.
    pub fn new(destination: Origin, page_load: PageLoad, sample_rate: f64) -> Observation {
        Observation {
            destination,
            document_origin: None,
            document_path: "/".into(),
            page_load,
            sample_rate: clamp_rate(sample_rate),
            engine: None,
            network: None,
            class: Class::Unverified,
            received_at: SystemTime::now(),
        }
    }

    /// How many page loads this observation's page load stands for: `1 / sample_rate`.
    pub fn weight(&self) -> f64 {
        1.0 / clamp_rate(self.sample_rate)
    }
}

/// A rate in `(0, 1]`; anything else (NaN, 0, negative, above 1) reads as 1.
fn clamp_rate(rate: f64) -> f64 {
    if rate.is_finite() && rate > 0.0 && rate <= 1.0 {
        rate
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_load_ids_are_sixteen_hex_digits() {
        assert_eq!(PageLoad::parse("00000000000000ff"), Some(PageLoad(255)));
        assert_eq!(PageLoad(255).to_string(), "00000000000000ff");
        for bad in [
            "",
            "ff",
            "00000000000000FF",
            "00000000000000fg",
            "000000000000000ff",
        ] {
            assert_eq!(PageLoad::parse(bad), None, "{bad}");
        }
        assert_eq!(clamp_rate(0.01), 0.01);
        for odd in [0.0, -1.0, 2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(clamp_rate(odd), 1.0);
        }
        let o = Observation::new(
            Origin::of_url("https://a.example").unwrap(),
            PageLoad(1),
            0.25,
        );
        assert_eq!(o.weight(), 4.0);
    }
}
