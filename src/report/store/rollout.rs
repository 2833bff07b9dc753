//! A staged rollout's state, as a store keeps it: one record, replaced whole and only by
//! whoever read its current version ([`ReportStore::replace_rollout`](super::ReportStore::replace_rollout)),
//! so two collectors sharing a store never advance the same rollout twice.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::summary::rfc3339_text;
use super::StoreError;

/// How many changes a rollout's history keeps (the oldest go first; the start stays).
pub const HISTORY_CAP: usize = 64;

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RolloutState {
    /// Advancing: report-only, then enforced on a growing share.
    Running,
    /// Stopped by breakage its watch saw: back to report-only, the enforced list as before.
    RolledBack,
    /// Enforced on every response, held through its last stage.
    Done,
    /// Stopped by an operator.
    Aborted,
}

impl RolloutState {
    /// `running`, `rolled-back`, `done` or `aborted`.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Running => "running",
            RolloutState::RolledBack => "rolled-back",
            RolloutState::Done => "done",
            RolloutState::Aborted => "aborted",
        }
    }
}

/// What a rollout stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RolloutTarget {
    /// A `connect-src` list: the candidate is its value, enforced in place of the
    /// enforced list (which it may only narrow).
    #[default]
    ConnectSrc,
    /// A `Connection-Allowlist`: the candidate is the header value, served report-only
    /// (`Connection-Allowlist-Report-Only`) in place of the app's own allowlist, then
    /// enforced (`Connection-Allowlist`) on the stage's share; the `connect-src` lists
    /// stay as they are. Chromium alone implements it (issue 22).
    ConnectionAllowlist,
}

impl RolloutTarget {
    /// `connect-src` or `connection-allowlist`.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutTarget::ConnectSrc => "connect-src",
            RolloutTarget::ConnectionAllowlist => "connection-allowlist",
        }
    }
}

/// One change of a rollout: when, from which stage to which (percent enforced; 0 is
/// report-only), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Change {
    /// When (Unix seconds).
    pub at: u64,
    /// The stage before (percent enforced).
    pub from: u8,
    /// The stage after.
    pub to: u8,
    /// Why, one sentence.
    pub reason: String,
}

/// A staged rollout of a candidate `connect-src` list or `Connection-Allowlist` value
/// ([`target`](Self::target)): report-only first, then enforced on a growing share of
/// responses, rolled back when its enforced stage breaks pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Rollout {
    /// Random, fixed at start: keys the share (so another rollout puts other users first).
    pub id: u64,
    /// Bumped by every change; what [`replace_rollout`](super::ReportStore::replace_rollout)
    /// compares.
    pub version: u64,
    /// What it stages: a `connect-src` list (the default, and what a record written before
    /// this field existed holds) or a `Connection-Allowlist`.
    #[serde(default)]
    pub target: RolloutTarget,
    /// The candidate: a `connect-src` value, or for a
    /// [`ConnectionAllowlist`](RolloutTarget::ConnectionAllowlist) rollout the header value.
    pub candidate: String,
    /// The enforced `connect-src` value when it started (`None`: nothing enforced): what the
    /// rest of the responses keep, and what a rollback returns to. For an allowlist rollout,
    /// what the gate excuses (connections today's list already blocks are no new breakage).
    pub enforced: Option<String>,
    /// The stages, percent enforced, ascending, the last 100.
    pub stages: Vec<u8>,
    /// The stage in force (0: report-only).
    pub stage: u8,
    /// Where it is.
    pub state: RolloutState,
    /// When the stage in force began (Unix seconds).
    pub stage_since: u64,
    /// The least time a stage is held (seconds).
    pub min_stage_secs: u64,
    /// The least page loads (re-weighted) a stage must see.
    pub min_page_loads: u64,
    /// The least reach a destination needs to count.
    pub min_reach: u64,
    /// Every change, oldest first (at most [`HISTORY_CAP`]).
    pub history: Vec<Change>,
}

/// How a rollout advances: its stages and what each must hold. [`Default`]: stages 1, 10,
/// 50 and 100 percent, each held 24 hours and 1,000 page loads, destinations counted from a
/// reach of 2.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Plan {
    /// Percent enforced at each stage after report-only: ascending, from 1 to 100, the
    /// last 100.
    pub stages: Vec<u8>,
    /// The least time each stage (report-only too) is held.
    pub min_stage: Duration,
    /// The least page loads (re-weighted, from the inventory) each stage must see.
    pub min_page_loads: u64,
    /// The least reach (distinct client networks) a destination needs to count.
    pub min_reach: u64,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            stages: vec![1, 10, 50, 100],
            min_stage: Duration::from_secs(24 * 3600),
            min_page_loads: 1000,
            min_reach: crate::learn::DEFAULT_MIN_REACH,
        }
    }
}

/// Stages that are not ascending percentages ending at 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidStages(pub Vec<u8>);

impl std::fmt::Display for InvalidStages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stages {:?}: give percentages from 1 to 100, ascending, the last 100",
            self.0
        )
    }
}

impl std::error::Error for InvalidStages {}

impl Plan {
    /// The stages, percent enforced after report-only.
    ///
    /// # Errors
    /// [`InvalidStages`] unless they ascend strictly from at least 1 and end at 100.
    pub fn stages(mut self, stages: &[u8]) -> Result<Plan, InvalidStages> {
        let ascending = stages.windows(2).all(|w| w[0] < w[1]);
        if stages.is_empty() || !ascending || stages[0] == 0 || stages.last() != Some(&100) {
            return Err(InvalidStages(stages.to_vec()));
        }
        self.stages = stages.to_vec();
        Ok(self)
    }
    /// The least time each stage is held.
    pub fn min_stage(mut self, d: Duration) -> Plan {
        self.min_stage = d;
        self
    }
    /// The least page loads each stage must see.
    pub fn min_page_loads(mut self, n: u64) -> Plan {
        self.min_page_loads = n;
        self
    }
    /// The least reach a destination needs to count (at least 1).
    pub fn min_reach(mut self, n: u64) -> Plan {
        self.min_reach = n.max(1);
        self
    }
}

/// Unix seconds.
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Rollout {
    /// A rollout of `candidate` (a `connect-src` value) starting at report-only at `now`,
    /// beside `enforced` (today's enforced value, if any), following `plan`.
    pub fn start(
        id: u64,
        candidate: String,
        enforced: Option<String>,
        plan: &Plan,
        now: SystemTime,
    ) -> Rollout {
        let at = unix_secs(now);
        Rollout {
            id,
            version: 0,
            target: RolloutTarget::ConnectSrc,
            candidate,
            enforced,
            stages: plan.stages.clone(),
            stage: 0,
            state: RolloutState::Running,
            stage_since: at,
            min_stage_secs: plan.min_stage.as_secs(),
            min_page_loads: plan.min_page_loads,
            min_reach: plan.min_reach,
            history: vec![Change {
                at,
                from: 0,
                to: 0,
                reason: "started: report-only".to_owned(),
            }],
        }
    }

    /// The same rollout of `target`.
    pub fn with_target(mut self, target: RolloutTarget) -> Rollout {
        self.target = target;
        self
    }

    /// When the stage in force began.
    pub fn stage_since(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.stage_since)
    }

    /// The share of responses enforcing the candidate, 0 to 1.
    pub fn share(&self) -> f64 {
        match self.state {
            RolloutState::Running | RolloutState::Done => f64::from(self.stage) / 100.0,
            RolloutState::RolledBack | RolloutState::Aborted => 0.0,
        }
    }

    /// The stage after the one in force, if any.
    pub fn next_stage(&self) -> Option<u8> {
        self.stages.iter().copied().find(|&s| s > self.stage)
    }

    /// This rollout moved to `to` (and `state`) now, for `reason`.
    pub fn changed(&self, to: u8, state: RolloutState, reason: String, now: SystemTime) -> Rollout {
        let mut next = self.clone();
        let at = unix_secs(now);
        next.history.push(Change {
            at,
            from: self.stage,
            to,
            reason,
        });
        if next.history.len() > HISTORY_CAP {
            next.history.remove(1);
        }
        next.stage = to;
        next.state = state;
        next.stage_since = at;
        next
    }

    /// The record a store keeps (JSON).
    pub fn to_record(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a store's record.
    ///
    /// # Errors
    /// [`StoreError::Database`] when it is not one (a record written by another version
    /// that this one cannot read).
    pub fn from_record(text: &str) -> Result<Rollout, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Database(std::sync::Arc::new(e)))
    }

    /// `rollout status`'s JSON: `{"target","candidate","enforced","stage","state","stages",
    /// "stage_since","min_stage_secs","min_page_loads","history":[{"at","from","to",
    /// "reason"}]}`, times as RFC 3339 (UTC); `target` is `connect-src` or
    /// `connection-allowlist`.
    pub fn status_json(&self) -> serde_json::Value {
        let at = |s: u64| rfc3339_text(UNIX_EPOCH + Duration::from_secs(s)).to_string();
        serde_json::json!({
            "target": self.target.as_str(),
            "candidate": self.candidate,
            "enforced": self.enforced,
            "stage": self.stage,
            "state": self.state.as_str(),
            "stages": self.stages,
            "stage_since": at(self.stage_since),
            "min_stage_secs": self.min_stage_secs,
            "min_page_loads": self.min_page_loads,
            "history": self.history.iter().map(|c| serde_json::json!({
                "at": at(c.at),
                "from": c.from,
                "to": c.to,
                "reason": c.reason,
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_history_is_bounded() {
        let now = SystemTime::now();
        let r = Rollout::start(7, "'self'".into(), None, &Plan::default(), now);
        assert_eq!(Rollout::from_record(&r.to_record()).unwrap(), r);
        assert_eq!(r.next_stage(), Some(1));
        let mut x = r.clone();
        for i in 0..200 {
            x = x.changed(1, RolloutState::Running, format!("step {i}"), now);
        }
        assert_eq!(x.history.len(), HISTORY_CAP);
        assert_eq!(x.history[0].reason, "started: report-only");
        assert_eq!(x.history.last().unwrap().reason, "step 199");
        let status = x.status_json();
        assert_eq!(status["state"], "running");
        assert_eq!(status["stage"], 1);
        assert!(Rollout::from_record("{").is_err());
        assert_eq!(status["target"], "connect-src");
        // A record written before `target` existed reads as a connect-src rollout.
        let mut old: serde_json::Value = serde_json::from_str(&r.to_record()).unwrap();
        old.as_object_mut().unwrap().remove("target");
        let old = Rollout::from_record(&old.to_string()).unwrap();
        assert_eq!(old.target, RolloutTarget::ConnectSrc);
        let a = r.with_target(RolloutTarget::ConnectionAllowlist);
        let back = Rollout::from_record(&a.to_record()).unwrap();
        assert_eq!(back.target, RolloutTarget::ConnectionAllowlist);
        assert_eq!(back.status_json()["target"], "connection-allowlist");
        assert!(Plan::default().stages(&[10, 5, 100]).is_err());
        assert!(Plan::default().stages(&[0, 100]).is_err());
        assert!(Plan::default().stages(&[1, 50]).is_err());
        assert_eq!(Plan::default().stages(&[100]).unwrap().stages, [100]);
    }
}
