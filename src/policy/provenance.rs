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
//! assert!(!p.verify_at(&token, now + Duration::from_secs(7200)));
//! assert!(!p.verify_at("forged", now));
//! # Ok::<_, connect_src::policy::ProvenanceError>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The query parameter that carries the token in report URLs (`/csp-reports?csp-token=…`).
pub const PROVENANCE_PARAMETER: &str = "csp-token";

/// The shortest secret accepted, in bytes (HMAC-SHA-256's block is 64; its output 32).
pub const MIN_SECRET_LEN: usize = 32;

/// Tokens for report URLs: HMAC-SHA-256 of the rotation window's number under a secret,
/// its first 16 bytes in hex. A token is valid in its window and the next one, so a page
/// loaded just before a rotation still reports with a valid token.
#[derive(Clone)]
pub struct Provenance {
    secret: Arc<Vec<u8>>,
    rotation: Duration,
}

impl fmt::Debug for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.debug_struct("Provenance")
            .field("rotation", &self.rotation)
            .finish_non_exhaustive()
    }
}

/// Why a [`Provenance`] secret was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceError {
    len: usize,
}

impl fmt::Display for ProvenanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a provenance secret needs at least {MIN_SECRET_LEN} bytes (got {}); use random bytes",
            self.len
        )
    }
}

impl std::error::Error for ProvenanceError {}

impl Provenance {
    /// Tokens from `secret` (at least [`MIN_SECRET_LEN`] bytes, random: every app instance
    /// behind one collector needs the same one), rotated every hour by default.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Provenance, ProvenanceError> {
        let secret = secret.into();
        if secret.len() < MIN_SECRET_LEN {
            return Err(ProvenanceError { len: secret.len() });
        }
        Ok(Provenance {
            secret: Arc::new(secret),
            rotation: Duration::from_secs(3600),
        })
    }

    /// How long a token is handed out (at least one second); it stays valid one period more.
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

    fn token_for(&self, window: u64) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC takes keys of any length");
        mac.update(b"connect-src report token v1:");
        mac.update(&window.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        tag[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The token handed out at `at`.
    pub fn token_at(&self, at: SystemTime) -> String {
        self.token_for(self.window(at))
    }

    /// Whether `token` was handed out in the window of `at` or the one before.
    pub fn verify_at(&self, token: &str, at: SystemTime) -> bool {
        let w = self.window(at);
        [Some(w), w.checked_sub(1)].into_iter().flatten().any(|w| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
                .expect("HMAC takes keys of any length");
            mac.update(b"connect-src report token v1:");
            mac.update(&w.to_be_bytes());
            // Constant-time comparison, on the 16 bytes the token encodes.
            decode_hex(token).is_some_and(|t| mac.verify_truncated_left(&t).is_ok())
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

    #[test]
    fn short_secrets_are_refused_and_tokens_differ_by_secret() {
        assert!(Provenance::new(vec![0u8; 31]).is_err());
        let a = Provenance::new(vec![1u8; 32]).unwrap();
        let b = Provenance::new(vec![2u8; 32]).unwrap();
        let t = SystemTime::now();
        assert_ne!(a.token_at(t), b.token_at(t));
        assert!(!b.verify_at(&a.token_at(t), t));
        assert_eq!(a.token_at(t).len(), 32);
        assert!(
            !format!("{a:?}").contains("1, 1"),
            "Debug never shows the secret"
        );
    }
}
