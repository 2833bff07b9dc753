//! [`Sender`]: POSTs alerts to the webhook one at a time, each tried a bounded number of
//! times with an exponential backoff, each try bounded by the request timeout. It runs on
//! its own task, fed by a bounded queue: nothing here is ever on a report's path.

use std::time::Duration;

use tokio::sync::mpsc;

use super::config::{Alerts, Webhook};
use super::message::{Alert, AlertFormat};
use crate::report::meter;

/// The longest wait between two tries.
const LONGEST_WAIT: Duration = Duration::from_secs(300);

/// What sends alerts, from [`Alerts`].
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    client: reqwest::Client,
    webhook: Webhook,
    format: AlertFormat,
    timeout: Duration,
    attempts: u32,
    backoff: Duration,
}

/// How one try ended.
enum Try {
    Sent,
    /// Worth trying again (connection, timeout, 408, 429, 5xx), and why not sent.
    Again(String),
    /// Refused for good (another 4xx, say), and why.
    Refused(String),
}

impl Sender {
    pub(crate) fn new(alerts: &Alerts) -> Sender {
        Sender {
            client: alerts.client.clone(),
            webhook: alerts.webhook.clone(),
            format: alerts.format,
            timeout: alerts.timeout,
            attempts: alerts.attempts,
            backoff: alerts.backoff,
        }
    }

    /// Sends every alert the queue gives, in order, until the queue closes.
    pub(crate) async fn run(self, mut queue: mpsc::Receiver<Alert>) {
        while let Some(alert) = queue.recv().await {
            self.deliver(&alert).await;
        }
    }

    /// Tries `alert` up to the attempts, waiting the backoff between tries; whether it
    /// was sent. Counted either way.
    pub(crate) async fn deliver(&self, alert: &Alert) -> bool {
        let kind = alert.kind().as_str();
        let body = alert.body(self.format);
        let mut wait = self.backoff;
        for attempt in 1..=self.attempts {
            let why = match self.try_once(&body).await {
                Try::Sent => {
                    meter::alert_sent(kind);
                    tracing::info!(
                        target: "connect_src::report",
                        alert = kind,
                        webhook = %self.webhook,
                        attempt,
                        "alert sent"
                    );
                    return true;
                }
                Try::Refused(why) => {
                    self.gave_up(kind, attempt, &why);
                    return false;
                }
                Try::Again(why) => why,
            };
            if attempt == self.attempts {
                self.gave_up(kind, attempt, &why);
                return false;
            }
            tracing::info!(
                target: "connect_src::report",
                alert = kind,
                webhook = %self.webhook,
                attempt,
                error = %why,
                retry_in = %humantime::format_duration(wait),
                "alert not sent yet; trying again"
            );
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(LONGEST_WAIT);
        }
        false
    }

    fn gave_up(&self, kind: &'static str, attempts: u32, why: &str) {
        meter::alert_failed(kind);
        tracing::warn!(
            target: "connect_src::report",
            alert = kind,
            webhook = %self.webhook,
            attempts,
            error = %why,
            "alert not sent: gave up"
        );
    }

    async fn try_once(&self, body: &serde_json::Value) -> Try {
        let sent = self
            .client
            .post(self.webhook.url().clone())
            .timeout(self.timeout)
            .json(body)
            .send()
            .await;
        match sent {
            Ok(res) if res.status().is_success() => Try::Sent,
            Ok(res) => {
                let s = res.status();
                let why = format!("the webhook answered {s}");
                if s.is_server_error() || s.as_u16() == 408 || s.as_u16() == 429 {
                    Try::Again(why)
                } else {
                    Try::Refused(why)
                }
            }
            // Never the URL: it may hold a secret.
            Err(e) => Try::Again(self.scrub(error_chain(&e.without_url()))),
        }
    }
}

impl Sender {
    /// `text` without the webhook's path, query or whole URL, should an error quote them.
    fn scrub(&self, mut text: String) -> String {
        let url = self.webhook.url();
        let secret = [
            Some(url.as_str()),
            Some(url.path()).filter(|p| p.len() > 1),
            url.query(),
        ];
        for s in secret.into_iter().flatten() {
            text = text.replace(s, "…");
        }
        text
    }
}

/// An error and its sources, joined by `: ` (reqwest's own text says little without them).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
