//! The collector's part in a staged rollout: stepping it ([`promote::step`]) and, while a
//! stage enforces, knowing the header that stage serves, so its reports class as genuine
//! even where the collector runs apart from the app and has no provenance to learn it by.

use std::time::{Duration, Instant, SystemTime};

use super::Collector;
use crate::report::promote::{self, stage_header, RolloutError};
use crate::report::store::{Rollout, RolloutState, RolloutTarget};

/// The longest a collector waits between two runs of a rollout's gate, however long the
/// last one took: 5 minutes.
pub const GATE_CEILING: Duration = Duration::from_secs(300);

/// Whether the gate runs again, `since` its last run, which took `took`: after ten times
/// that, at most [`GATE_CEILING`].
fn gate_due(since: Duration, took: Duration) -> bool {
    since >= (took * 10).min(GATE_CEILING)
}

impl Collector {
    /// One step of the store's rollout now ([`promote::step`]): `Ok(Some(rollout))` when
    /// this collector changed it. Every change is logged (target
    /// `connect_src::rollout`), counted (`connect_src_rollout_changes_total`) and, with
    /// alerts on, sent to the webhook (type `rollout`). While a
    /// stage enforces, the headers it serves are recorded in the collector's served
    /// policies ([`stage_header`] of each the app serves).
    ///
    /// # Errors
    /// As [`promote::step`].
    ///
    /// The watch runs at every step; the gate, whose reads grow with the stage's rows, at
    /// most once per ten times its last run took (so a gate of 5 s runs every 50 s at most;
    /// a small store's, every step), and at least every [`GATE_CEILING`] (a gate of 60 s
    /// runs every 5 minutes, not every 10).
    pub async fn step_rollout(&self) -> Result<Option<Rollout>, RolloutError> {
        let judge = {
            let clock = self
                .inner
                .gate_clock
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            clock.is_none_or(|(at, took)| gate_due(at.elapsed(), took))
        };
        let started = Instant::now();
        let changed = promote::step_with(self.store().as_ref(), SystemTime::now(), judge).await?;
        if judge {
            *self
                .inner
                .gate_clock
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some((started, started.elapsed()));
        }
        if let Some(r) = &changed {
            if let Some(c) = r.history.last() {
                crate::report::meter::rollout_changed(r.state.as_str());
                tracing::warn!(
                    target: "connect_src::rollout",
                    from = c.from,
                    to = c.to,
                    state = r.state.as_str(),
                    reason = %c.reason.escape_debug(),
                    "rollout changed"
                );
                #[cfg(feature = "alerts")]
                if let Some(alerts) = self.alerts() {
                    use crate::report::alert::{Alert, AlertKind};
                    let alert = Alert::new(
                        AlertKind::Rollout,
                        format!("rollout {}: {}", r.state.as_str(), c.reason),
                    )
                    .detail("state", r.state.as_str())
                    .detail("from", c.from)
                    .detail("to", c.to)
                    .detail("candidate", r.candidate.as_str())
                    .detail("reason", c.reason.as_str());
                    alerts.send(alert);
                }
            }
        }
        let now = match changed {
            Some(r) => Some((r, true)),
            None => self.store().rollout().await?.map(|r| (r, false)),
        };
        if let Some((r, _)) = &now {
            crate::report::meter::rollout_stage(r.share() * 100.0);
            self.record_stage(r);
        }
        Ok(now.filter(|(_, changed)| *changed).map(|(r, _)| r))
    }

    /// Steps the rollout every `every` (at least 100 ms), for as long as the future runs
    /// (spawn it). A failing step is logged once until the error changes or a step succeeds
    /// again, and the next step tried.
    pub async fn drive_rollouts(self, every: Duration) {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing: Option<String> = None;
        loop {
            tick.tick().await;
            match self.step_rollout().await {
                Ok(_) => failing = None,
                Err(e) => {
                    let text = e.to_string();
                    if failing.as_deref() != Some(text.as_str()) {
                        tracing::warn!(target: "connect_src::rollout", error = %text, "rollout step failed");
                        failing = Some(text);
                    }
                }
            }
        }
    }

    /// While `r` enforces its candidate somewhere, records the header each current policy
    /// of the app becomes on the stage's share. An allowlist rollout's candidate is served
    /// from its report-only stage on, so it is recorded while the rollout runs or is done.
    fn record_stage(&self, r: &Rollout) {
        let live = matches!(r.state, RolloutState::Running | RolloutState::Done);
        if r.target == RolloutTarget::ConnectionAllowlist {
            // Beside the app's own allowlist, not in its place: the responses outside the
            // share, and every one after a rollback, still serve the app's.
            if let Some(served) = self.served_policies() {
                if live {
                    served.record_allowlist_beside(&r.candidate);
                } else {
                    served.end_allowlist_beside(&r.candidate);
                }
            }
            return;
        }
        let enforcing = live && r.stage > 0;
        let Some(served) = self.served_policies().filter(|_| enforcing) else {
            return;
        };
        let current: Vec<String> = served
            .snapshot()
            .iter()
            .filter(|s| s.is_current() && !s.is_route())
            .flat_map(|s| s.headers().to_vec())
            .collect();
        for h in current {
            let staged = stage_header(r, &h);
            if staged != h {
                served.record_header(staged);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_waits_ten_times_its_last_run_and_never_past_the_ceiling() {
        let s = Duration::from_secs;
        assert!(!gate_due(s(49), s(5)));
        assert!(gate_due(s(50), s(5)));
        assert!(gate_due(Duration::ZERO, Duration::ZERO));
        // A gate of 60 s would wait 10 minutes: the ceiling makes it 5.
        assert!(!gate_due(s(299), s(60)));
        assert!(gate_due(s(300), s(60)));
    }
}
