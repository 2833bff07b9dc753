//! [`ReportRejection`]: why the collector refused a report request, as an axum rejection
//! with a fixed status code and a message that never echoes the request.

use std::fmt;

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::parse::ParseError;
use crate::report::store::StoreError;

/// Why a report request was refused. Each variant has a fixed status code and a message
/// that says what was wrong (never echoing the request).
#[derive(Debug)]
#[non_exhaustive]
pub enum ReportRejection {
    /// 415: not `application/csp-report`, `application/reports+json` or `application/json`.
    UnsupportedMediaType,
    /// 413: the body is over the configured limit (in bytes).
    PayloadTooLarge(usize),
    /// 400: the body is not a report (malformed JSON, wrong shape, not UTF-8).
    Malformed(ParseError),
    /// 400: the body could not be read (the client went away mid-body).
    BodyRead,
    /// 503 with `Retry-After: 60`: the store cannot take reports now (its error says why);
    /// Reporting API clients retry.
    StoreUnavailable(StoreError),
    /// 403: a CORS preflight from an origin that is not allowed.
    OriginNotAllowed,
}

impl ReportRejection {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ReportRejection::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ReportRejection::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ReportRejection::Malformed(_) | ReportRejection::BodyRead => StatusCode::BAD_REQUEST,
            ReportRejection::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ReportRejection::OriginNotAllowed => StatusCode::FORBIDDEN,
        }
    }
    /// The response body text.
    pub fn body_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ReportRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportRejection::UnsupportedMediaType => f.write_str(
                "expected Content-Type application/csp-report, application/reports+json or application/json",
            ),
            ReportRejection::PayloadTooLarge(n) => {
                write!(f, "report body is over the {n}-byte limit")
            }
            ReportRejection::Malformed(e) => write!(f, "{e}"),
            ReportRejection::BodyRead => f.write_str("the report body could not be read"),
            ReportRejection::StoreUnavailable(_) => {
                f.write_str("reports cannot be stored right now; retry later")
            }
            ReportRejection::OriginNotAllowed => {
                f.write_str("this origin may not send reports here")
            }
        }
    }
}

impl std::error::Error for ReportRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportRejection::Malformed(e) => Some(e),
            ReportRejection::StoreUnavailable(e) => Some(e),
            _ => None,
        }
    }
}

impl IntoResponse for ReportRejection {
    fn into_response(self) -> Response {
        let mut res = (self.status(), self.body_text()).into_response();
        if let ReportRejection::StoreUnavailable(_) = self {
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("60"));
        }
        res
    }
}
