//! The admin face's Bearer token: read from `--admin-token-file`, asked of every admin
//! request, compared in constant time (`subtle`, on SHA-256 digests so that the length of
//! the token is not given away either).

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The shortest token accepted, in characters.
const MIN_TOKEN_LEN: usize = 32;

/// The admin token, kept as its digest.
pub(super) struct Token {
    digest: [u8; 32],
}

impl Token {
    /// The token in `path`, surrounding whitespace trimmed: at least 32 characters of
    /// RFC 6750's token alphabet. An error names the file and the rule, never the content.
    pub(super) fn from_file(path: &Path) -> Result<Token, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
        let token = text.trim();
        // RFC 6750 §2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        let body = token.trim_end_matches('=');
        let alphabet = body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if !alphabet || body.is_empty() {
            return Err(format!(
                "{}: a token is made of A-Z a-z 0-9 - . _ ~ + / (then = padding), on one line; \
                 make one with `openssl rand -hex 32`",
                path.display()
            ));
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "{}: the token has {} characters, fewer than {MIN_TOKEN_LEN}; make one with \
                 `openssl rand -hex 32`",
                path.display(),
                token.len()
            ));
        }
        Ok(Token {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    fn admits(&self, given: &[u8]) -> bool {
        let given: [u8; 32] = Sha256::digest(given).into();
        self.digest.ct_eq(&given).into()
    }
}

/// `admin`, asking for the token when there is one.
pub(super) fn router(admin: Router, token: Option<Token>) -> Router {
    match token {
        Some(t) => admin.layer(middleware::from_fn_with_state(Arc::new(t), require)),
        None => admin,
    }
}

/// The `Authorization: Bearer <token>` check (RFC 6750 §2.1; the scheme is
/// case-insensitive). 401 with `WWW-Authenticate: Bearer` otherwise.
async fn require(State(token): State<Arc<Token>>, req: Request, next: Next) -> Response {
    let given = req.headers().get(AUTHORIZATION).and_then(|v| {
        let v = v.as_bytes();
        let (scheme, rest) = v.split_at(v.iter().position(|&b| b == b' ')?);
        scheme
            .eq_ignore_ascii_case(b"bearer")
            .then(|| rest.trim_ascii())
    });
    match given {
        Some(t) if token.admits(t) => next.run(req).await,
        given => {
            tracing::debug!(
                presented = given.is_some(),
                "admin request refused: no or wrong Bearer token"
            );
            let challenge = if given.is_some() {
                r#"Bearer realm="connect-src", error="invalid_token""#
            } else {
                r#"Bearer realm="connect-src""#
            };
            (
                StatusCode::UNAUTHORIZED,
                [
                    (WWW_AUTHENTICATE, HeaderValue::from_static(challenge)),
                    (CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                "401: this is the collector's admin face; send Authorization: Bearer <the \
                 token in --admin-token-file>\n",
            )
                .into_response()
        }
    }
}
