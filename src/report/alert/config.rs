//! [`Alerts`]: where alerts go and when they fire, in one consuming builder; the webhook URL
//! it holds ([`Webhook`]), never shown whole; and [`AlertError`].

use std::fmt;
use std::time::Duration;

use super::message::{clean, AlertFormat};

/// A webhook URL. It may hold a secret (Slack's hold a token in their path), so it is shown
/// only as `scheme://host[:port]/…`: in logs, errors and `Debug`.
#[derive(Clone)]
pub(crate) struct Webhook {
    url: url::Url,
}

impl Webhook {
    /// The URL to POST to.
    pub(crate) fn url(&self) -> &url::Url {
        &self.url
    }
}

impl fmt::Display for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redacted(&self.url))
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Webhook({self})")
    }
}

/// `scheme://host[:port]`, then `/…` when anything (user, path, query, fragment) is left
/// out.
fn redacted(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("");
    let mut out = format!("{}://{host}", url.scheme());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    let more = url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some();
    if more {
        out.push_str("/…");
    }
    out
}

/// Why an alert setting was refused. The message never holds the webhook URL whole (it may
/// hold a secret): at most its scheme and host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertError {
    /// The webhook is not an absolute URL.
    NotAUrl {
        /// Why it does not parse.
        reason: String,
    },
    /// The webhook's scheme is not `http` or `https`.
    Scheme {
        /// The scheme given (bounded).
        scheme: String,
    },
    /// The webhook URL has no host.
    NoHost,
    /// The HTTP client could not be made (its TLS setup).
    Client {
        /// What the client said (without any URL).
        reason: String,
    },
}

impl fmt::Display for AlertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertError::NotAUrl { reason } => write!(
                f,
                "the alert webhook is not an absolute URL ({reason}); give one such as \
                 https://hooks.example.com/services/…"
            ),
            AlertError::Scheme { scheme } => write!(
                f,
                "the alert webhook's scheme {scheme:?} is not http or https; give an https:// URL"
            ),
            AlertError::NoHost => f.write_str(
                "the alert webhook URL has no host; give one such as https://hooks.example.com/…",
            ),
            AlertError::Client { reason } => {
                write!(f, "cannot make the alert webhook's HTTP client: {reason}")
            }
        }
    }
}

impl std::error::Error for AlertError {}

/// Webhook alerts for a collector, given to
/// [`CollectorBuilder::alerts`](crate::report::CollectorBuilder::alerts): where they go
/// ([`webhook`](Self::webhook)), in which shape ([`format`](Self::format)), when they fire
/// (the spike's multiple, floor and hour, the silence window) and how they are sent
/// (timeout, attempts, backoff, queue). The minimum reach is the collector's
/// ([`min_reach`](crate::report::CollectorBuilder::min_reach)).
///
/// ```
/// use std::time::Duration;
/// use connect_src::report::alert::{AlertFormat, Alerts};
/// use connect_src::report::Collector;
///
/// let alerts = Alerts::webhook("https://hooks.slack.example/services/T0/B0/secret")?
///     .format(AlertFormat::Slack)
///     .silence_after(Duration::from_secs(6 * 3600));
/// // The secret part of the URL is never shown.
/// assert!(!format!("{alerts:?}").contains("secret"));
/// let collector = Collector::builder().min_reach(3).alerts(alerts).build();
/// # let _ = collector;
/// assert!(Alerts::webhook("ftp://hooks.example/x").is_err());
/// # Ok::<_, connect_src::report::alert::AlertError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct Alerts {
    pub(crate) webhook: Webhook,
    pub(crate) client: reqwest::Client,
    pub(crate) format: AlertFormat,
    pub(crate) spike_multiple: f64,
    pub(crate) spike_floor: u64,
    pub(crate) hour: Duration,
    pub(crate) silence: Duration,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u32,
    pub(crate) backoff: Duration,
    pub(crate) queue: usize,
}

impl fmt::Debug for Alerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alerts")
            .field("webhook", &self.webhook)
            .field("format", &self.format)
            .field("spike_multiple", &self.spike_multiple)
            .field("spike_floor", &self.spike_floor)
            .field("hour", &self.hour)
            .field("silence", &self.silence)
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// What a log line may say of it: `webhook https://hooks.example.com/… (json)`, the URL
/// redacted as always.
impl fmt::Display for Alerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "webhook {} ({})", self.webhook, self.format.as_str())
    }
}

impl Alerts {
    /// Alerts POSTed to `url`, an `http://` or `https://` URL, with the defaults: JSON
    /// bodies; a spike at 10 times the previous day's hourly mean and at least 10 client
    /// networks in the hour; silence after an hour; a 10-second request timeout; 6 attempts
    /// 1 s, 2 s, 4 s, 8 s and 16 s apart; 1,024 batches of facts and 64 alerts queued.
    ///
    /// # Errors
    ///
    /// [`AlertError`] when `url` is not an absolute `http`/`https` URL with a host, or the
    /// HTTP client cannot be made. The message shows no more of the URL than its scheme.
    pub fn webhook(url: &str) -> Result<Alerts, AlertError> {
        let parsed = url::Url::parse(url.trim()).map_err(|e| AlertError::NotAUrl {
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(AlertError::Scheme {
                scheme: clean(parsed.scheme(), 32),
            });
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(AlertError::NoHost);
        }
        let client = reqwest::Client::builder()
            // A webhook answers where it is: a redirect would carry the secret elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("connect-src/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AlertError::Client {
                reason: e.without_url().to_string(),
            })?;
        Ok(Alerts {
            webhook: Webhook { url: parsed },
            client,
            format: AlertFormat::Json,
            spike_multiple: 10.0,
            spike_floor: 10,
            hour: Duration::from_secs(3600),
            silence: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            attempts: 6,
            backoff: Duration::from_secs(1),
            queue: 1024,
        })
    }

    /// The body's shape (default [`AlertFormat::Json`]).
    pub fn format(mut self, format: AlertFormat) -> Self {
        self.format = format;
        self
    }

    /// A spike: an hour whose reach (distinct client networks that reported violations in
    /// it) is over `multiple` times the mean reach per hour of the 24 hours before it, and
    /// at least `floor` (defaults 10 and 10). Reach, not reports: one client's flood is
    /// one network. `multiple` below 1 reads as 1, `floor` 0 as 1.
    pub fn spike(mut self, multiple: f64, floor: u64) -> Self {
        self.spike_multiple = if multiple.is_finite() {
            multiple.max(1.0)
        } else {
            10.0
        };
        self.spike_floor = floor.max(1);
        self
    }

    /// How long the spike detector's "hour" is (default one hour; at least 10 ms): the
    /// bucket it counts reach in, 24 of which make the "previous day". Shorten it only to
    /// try alerts out; with one hour, the previous day is seeded from the store's
    /// [`activity`](crate::report::store::ReportStore::activity) at start.
    pub fn spike_hour(mut self, hour: Duration) -> Self {
        self.hour = hour.max(Duration::from_millis(10));
        self
    }

    /// Silence: no report and no observation for this long (default one hour; at least
    /// 10 ms), after steady traffic — reports arriving for at least this long with gaps
    /// shorter than it, from at least the minimum reach of client networks in the last
    /// such window before they stopped.
    pub fn silence_after(mut self, window: Duration) -> Self {
        self.silence = window.max(Duration::from_millis(10));
        self
    }

    /// The longest one POST to the webhook may take, connecting included (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many times an alert is tried (default 6, at least 1), and the wait before the
    /// second try (default 1 s), doubled before each next one and capped at 5 minutes. A
    /// connection error, a timeout, a 408, 429 or 5xx answer is tried again; any other
    /// answer outside 2xx is not.
    pub fn retry(mut self, attempts: u32, first_wait: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = first_wait;
        self
    }

    /// How many batches of facts (one report request's each) may wait for the detector
    /// (default 1,024, at least 1); past it, the report POST still answers 204 and the
    /// batch is dropped and counted (`connect_src_alerts_dropped_total{queue="facts"}`).
    /// Alerts waiting to be sent are bounded at 64 likewise (`queue="alerts"`).
    pub fn queue(mut self, batches: usize) -> Self {
        self.queue = batches.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_are_checked_and_never_shown_whole() {
        let a = Alerts::webhook("https://hooks.slack.com/services/T0/B0/XXXXsecret").unwrap();
        assert_eq!(a.webhook.to_string(), "https://hooks.slack.com/…");
        assert!(!format!("{a:?}").contains("secret"));
        assert_eq!(a.to_string(), "webhook https://hooks.slack.com/… (json)");
        let a = Alerts::webhook("http://127.0.0.1:9000/").unwrap();
        assert_eq!(a.webhook.to_string(), "http://127.0.0.1:9000");
        let a = Alerts::webhook("https://h.example/?token=secret").unwrap();
        assert_eq!(a.webhook.to_string(), "https://h.example/…");
        for (bad, want) in [
            ("hooks.example/secret", "not an absolute URL"),
            ("ftp://h.example/secret", "\"ftp\" is not http or https"),
            ("javascript:alert(1)//secret", "is not http or https"),
            ("http://", "not an absolute URL"),
        ] {
            let e = Alerts::webhook(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn settings_are_bounded() {
        let a = Alerts::webhook("https://h.example/x")
            .unwrap()
            .spike(0.2, 0)
            .retry(0, Duration::ZERO)
            .queue(0)
            .spike_hour(Duration::ZERO);
        assert_eq!((a.spike_multiple, a.spike_floor), (1.0, 1));
        assert_eq!((a.attempts, a.queue), (1, 1));
        assert_eq!(a.hour, Duration::from_millis(10));
        assert_eq!(a.spike(f64::NAN, 3).spike_multiple, 10.0);
    }
}
