//! [`Provenance`]: a short-lived token, derived from a secret with HMAC-SHA-256, that the
//! layer puts in its report URLs so the collector can tell reports sent by pages the app
//! served from reports anyone could POST.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use connect_src::policy::Provenance;
//!
//! let p = Provenance::new(b"a secret of at least thirty-two bytes!".to_vec())?
//!     .rotation(Duration::from_secs(3600));
//! let now = SystemTime::now();
//! let token = p.token_at(now);
//! assert!(p.verify_at(&token, now));
//! assert!(p.verify_at(&token, now + Duration::from_secs(3600))); // the previous window
//! assert!(p.verify_at(&token, now - Duration::from_secs(3600))); // the next one (clock skew)
//! assert!(!p.verify_at(&token, now + Duration::from_secs(7200)));
//! assert!(!p.verify_at("forged", now));
//!
//! // Rotating the secret: the new one signs, both verify until the old one is dropped.
//! let rotated = Provenance::from_secrets([
//!     b"the new secret, thirty-two bytes or more".to_vec(),
//!     b"a secret of at least thirty-two bytes!".to_vec(),
//! ])?;
//! assert!(rotated.verify_at(&token, now));
//! assert_ne!(rotated.token_at(now), token);
//! # Ok::<_, connect_src::policy::ProvenanceError>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The query parameter that carries the token in report URLs (`/csp-reports?csp-token=…`).
pub const PROVENANCE_PARAMETER: &str = "csp-token";

/// The query parameter naming the policies a report URL's token covers
/// (`csp-policy=<digest>[.<digest>]`, each [`policy_digest`](super::text::policy_digest)).
pub const POLICY_PARAMETER: &str = "csp-policy";

/// The shortest secret accepted, in bytes (HMAC-SHA-256's block is 64; its output 32).
pub const MIN_SECRET_LEN: usize = 32;

/// The fewest distinct byte values a secret must hold. Not a measure of randomness (no
/// rule can tell a random secret from a chosen one); it refuses the placeholders people
/// type: one letter repeated, `abab…`, `password…` (7 distinct letters). Random output
/// passes with certainty for practical purposes: 64 hex digits from `openssl rand -hex 32`
/// use 7 or fewer of the 16 digits with a probability below 10^-22, base64 or raw random
/// bytes have far more.
const MIN_DISTINCT_BYTES: usize = 8;

/// Tokens for report URLs: HMAC-SHA-256 of the rotation window's number under a secret,
/// its first 16 bytes in hex.
///
/// A token is accepted in the window it was handed out in, the window after it (a page
/// loaded just before a rotation still reports with a valid token) and the window before
/// it (an app instance whose clock runs ahead of the collector's hands out tokens of the
/// next window). With several secrets ([`Provenance::from_secrets`]) the first signs and
/// every one verifies, so a secret can be rotated without a moment where reports from
/// pages served under the old one come out foreign.
#[derive(Clone)]
pub struct Provenance {
    /// The signing secret first, then those that still verify.
    secrets: Arc<Vec<Vec<u8>>>,
    rotation: Duration,
}

impl fmt::Debug for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secrets.
        f.debug_struct("Provenance")
            .field("secrets", &self.secrets.len())
            .field("rotation", &self.rotation)
            .finish_non_exhaustive()
    }
}

/// Why a [`Provenance`] secret was refused. Never shows the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceError {
    /// Which secret of the list (0 for [`Provenance::new`]).
    index: usize,
    kind: Refused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Refused {
    Short(usize),
    FewDistinct(usize),
    NoSecret,
}

impl fmt::Display for ProvenanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = if self.index == 0 {
            String::new()
        } else {
            format!(" (secret #{} of the list)", self.index + 1)
        };
        match self.kind {
            Refused::Short(len) => write!(
                f,
                "a provenance secret needs at least {MIN_SECRET_LEN} bytes (got {len}){which}; \
                 use random bytes, such as the output of `openssl rand -hex 32`"
            ),
            Refused::FewDistinct(n) => write!(
                f,
                "a provenance secret needs at least {MIN_DISTINCT_BYTES} distinct byte values \
                 (got {n}){which}: it looks like a placeholder, not a random secret; use the \
                 output of `openssl rand -hex 32`"
            ),
            Refused::NoSecret => write!(f, "a provenance secret list needs at least one secret"),
        }
    }
}

impl std::error::Error for ProvenanceError {}

/// Checks one secret against the rules of [`Provenance::new`].
fn check(secret: &[u8], index: usize) -> Result<(), ProvenanceError> {
    let refuse = |kind| Err(ProvenanceError { index, kind });
    if secret.len() < MIN_SECRET_LEN {
        return refuse(Refused::Short(secret.len()));
    }
    let mut seen = [false; 256];
    for &b in secret {
        seen[usize::from(b)] = true;
    }
    let distinct = seen.iter().filter(|s| **s).count();
    if distinct < MIN_DISTINCT_BYTES {
        return refuse(Refused::FewDistinct(distinct));
    }
    Ok(())
}

impl Provenance {
    /// Tokens from `secret`, rotated every hour by default. Every app instance behind one
    /// collector needs the same secret.
    ///
    /// The secret must be random: at least [`MIN_SECRET_LEN`] bytes holding at least 8
    /// distinct byte values (which refuses placeholders such as one letter repeated; the
    /// 64 hex digits of `openssl rand -hex 32` always pass).
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Provenance, ProvenanceError> {
        Provenance::from_secrets([secret])
    }

    /// Tokens for rotating the secret: the first secret signs, and a token made with any
    /// of them verifies. To rotate, deploy `[new, old]` to the collector first, then
    /// `[new, old]` to the app, and drop `old` once the last page served under it has
    /// reported (two rotation periods later). Each secret follows the rules of
    /// [`Provenance::new`]; an empty list is refused.
    pub fn from_secrets<S: Into<Vec<u8>>>(
        secrets: impl IntoIterator<Item = S>,
    ) -> Result<Provenance, ProvenanceError> {
        let secrets: Vec<Vec<u8>> = secrets.into_iter().map(Into::into).collect();
        if secrets.is_empty() {
            return Err(ProvenanceError {
                index: 0,
                kind: Refused::NoSecret,
            });
        }
        for (i, s) in secrets.iter().enumerate() {
            check(s, i)?;
        }
        Ok(Provenance {
            secrets: Arc::new(secrets),
            rotation: Duration::from_secs(3600),
        })
    }

    /// How long a token is handed out (at least one second); it is accepted one period
    /// before and one period after that (clock skew between app and collector).
    #[must_use]
    pub fn rotation(mut self, every: Duration) -> Self {
        self.rotation = every.max(Duration::from_secs(1));
        self
    }

    /// The number of the rotation window `at` falls in.
    pub(crate) fn window(&self, at: SystemTime) -> u64 {
        let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        secs / self.rotation.as_secs().max(1)
    }

    /// The MAC of `window` under `secret`, before finalizing.
    fn mac(secret: &[u8], window: u64) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .expect("HMAC takes keys of any length");
        mac.update(b"connect-src report token v1:");
        mac.update(&window.to_be_bytes());
        mac
    }

    /// The token handed out at `at`, made with the first (signing) secret.
    pub fn token_at(&self, at: SystemTime) -> String {
        let tag = Provenance::mac(&self.secrets[0], self.window(at))
            .finalize()
            .into_bytes();
        tag[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A key for another purpose derived from the signing secret (HMAC-SHA-256 of
    /// `label`): the same for every process given the same secret, and telling nothing of
    /// it.
    pub(crate) fn derived_key(&self, label: &[u8]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secrets[0])
            .expect("HMAC takes keys of any length");
        mac.update(label);
        mac.finalize().into_bytes().to_vec()
    }

    /// The MAC binding an inventory report URL's page load and sample rate (as written in
    /// the URL) to `window` under `secret`.
    fn inventory_mac(secret: &[u8], window: u64, page_load: u64, rate: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .expect("HMAC takes keys of any length");
        mac.update(b"connect-src inventory token v1:");
        mac.update(&window.to_be_bytes());
        mac.update(&page_load.to_be_bytes());
        mac.update(rate.as_bytes());
        mac
    }

    /// The token of an inventory report URL handed out at `at`: it covers the page load's
    /// id and the sample rate (`csp-inventory`, `csp-sample`), so neither can be changed
    /// without it failing.
    pub fn inventory_token_at(&self, at: SystemTime, page_load: u64, rate: &str) -> String {
        let tag = Provenance::inventory_mac(&self.secrets[0], self.window(at), page_load, rate)
            .finalize()
            .into_bytes();
        tag[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `token` is an inventory token for this page load and rate, under any of the
    /// secrets, in the windows [`verify_at`](Self::verify_at) accepts.
    pub fn verify_inventory_at(
        &self,
        token: &str,
        page_load: u64,
        rate: &str,
        at: SystemTime,
    ) -> bool {
        self.verify_with(token, at, |secret, w| {
            Provenance::inventory_mac(secret, w, page_load, rate)
        })
    }

    /// The MAC binding a report URL's policies (their digests, in URL order) to `window`.
    fn policies_mac(secret: &[u8], window: u64, digests: &[&str]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .expect("HMAC takes keys of any length");
        mac.update(b"connect-src report token v2:");
        mac.update(&window.to_be_bytes());
        for d in digests {
            mac.update(d.as_bytes());
            mac.update(b".");
        }
        mac
    }

    /// The token of a report URL handed out at `at` for a response that serves the
    /// policies of `digests` ([`policy_digest`](super::text::policy_digest)): the layer
    /// writes it with the digests (`csp-token=…&csp-policy=d1.d2`), and a collector given
    /// the same secret then knows those policies were served, with no list of them.
    pub fn policies_token_at(&self, at: SystemTime, digests: &[&str]) -> String {
        let tag = Provenance::policies_mac(&self.secrets[0], self.window(at), digests)
            .finalize()
            .into_bytes();
        tag[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `token` was handed out for `digests`, under any of the secrets, in the
    /// windows [`verify_at`](Self::verify_at) accepts.
    pub fn verify_policies_at(&self, token: &str, digests: &[&str], at: SystemTime) -> bool {
        self.verify_with(token, at, |secret, w| {
            Provenance::policies_mac(secret, w, digests)
        })
    }

    /// Whether `token` was handed out, under any of the secrets, in the window of `at`, the
    /// one before (a page loaded just before a rotation) or the one after (an app whose
    /// clock runs ahead of this one's).
    pub fn verify_at(&self, token: &str, at: SystemTime) -> bool {
        self.verify_with(token, at, Provenance::mac)
    }

    /// Whether `token` is the MAC `mac` makes under any of the secrets, for the window of
    /// `at` or either next to it; compared in constant time, on the 16 bytes the token
    /// encodes.
    fn verify_with(
        &self,
        token: &str,
        at: SystemTime,
        mac: impl Fn(&[u8], u64) -> Hmac<Sha256>,
    ) -> bool {
        let Some(t) = decode_hex(token) else {
            return false;
        };
        let w = self.window(at);
        let windows = [w.checked_sub(1), Some(w), w.checked_add(1)];
        self.secrets.iter().any(|secret| {
            windows
                .iter()
                .flatten()
                .any(|&w| mac(secret, w).verify_truncated_left(&t).is_ok())
        })
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = b"3f1c0a7e9b2d4c6a8e0f1b3d5c7e9a2b";
    const B: &[u8] = b"9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a";

    #[test]
    fn short_secrets_are_refused_and_tokens_differ_by_secret() {
        assert!(Provenance::new(vec![0u8; 31]).is_err());
        let a = Provenance::new(A).unwrap();
        let b = Provenance::new(B).unwrap();
        let t = SystemTime::now();
        assert_ne!(a.token_at(t), b.token_at(t));
        assert!(!b.verify_at(&a.token_at(t), t));
        assert_eq!(a.token_at(t).len(), 32);
        let debug = format!("{a:?}");
        assert!(
            !debug.contains("3f1c") && !debug.contains("51, 102"),
            "{debug}"
        );
    }

    #[test]
    fn placeholders_are_refused_and_random_hex_passes() {
        for weak in [
            vec![b'a'; 64],
            b"abababababababababababababababab".to_vec(),
            b"passwordpasswordpasswordpassword".to_vec(),
        ] {
            let e = Provenance::new(weak).unwrap_err();
            assert!(e.to_string().contains("distinct byte values"), "{e}");
        }
        // Eight distinct values is enough: the rule is a floor, not a randomness test.
        assert!(Provenance::new(b"abcdefghabcdefghabcdefghabcdefgh".to_vec()).is_ok());
        // `openssl rand -hex 32`, as the file holds it once trimmed.
        let hex = "3f1c0a7e9b2d4c6a8e0f1b3d5c7e9a2b4d6f8a0c2e4b6d8f0a1c3e5b7d9f1a2c";
        assert!(Provenance::new(hex.as_bytes().to_vec()).is_ok());
        let e = Provenance::new(vec![7u8; 10]).unwrap_err();
        assert!(e.to_string().contains("at least 32 bytes (got 10)"), "{e}");
    }

    #[test]
    fn the_previous_current_and_next_windows_verify() {
        let p = Provenance::new(A)
            .unwrap()
            .rotation(Duration::from_secs(60));
        let t = UNIX_EPOCH + Duration::from_secs(6_000_030);
        let token = p.token_at(t);
        for (offset, ok) in [
            (-120i64, false),
            (-60, true),
            (0, true),
            (60, true),
            (120, false),
        ] {
            let at = if offset < 0 {
                t - Duration::from_secs(offset.unsigned_abs())
            } else {
                t + Duration::from_secs(offset.unsigned_abs())
            };
            assert_eq!(p.verify_at(&token, at), ok, "{offset} s");
        }
        // Window 0 has no previous one: no underflow.
        let start = UNIX_EPOCH + Duration::from_secs(1);
        assert!(p.verify_at(&p.token_at(start), start));
    }

    #[test]
    fn the_first_secret_signs_and_every_one_verifies() {
        let t = SystemTime::now();
        let old = Provenance::new(A).unwrap();
        let rotated = Provenance::from_secrets([B, A]).unwrap();
        assert_eq!(rotated.token_at(t), Provenance::new(B).unwrap().token_at(t));
        assert!(rotated.verify_at(&old.token_at(t), t));
        assert!(rotated.verify_at(&rotated.token_at(t), t));
        assert!(
            !old.verify_at(&rotated.token_at(t), t),
            "the old alone does not know the new"
        );
        let none: [&[u8]; 0] = [];
        assert!(Provenance::from_secrets(none).is_err());
        let e = Provenance::from_secrets([A, b"short".as_slice()]).unwrap_err();
        assert!(e.to_string().contains("secret #2 of the list"), "{e}");
    }
}
