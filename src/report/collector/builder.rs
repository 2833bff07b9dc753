//! [`CollectorBuilder`]: every setting of a [`Collector`], in one consuming builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;

use super::{CachedReads, Collector, Inner, DEFAULT_PATH};
use crate::learn::DEFAULT_MIN_REACH;
use crate::policy::{Provenance, ServedPolicies};
use crate::report::intake::{ClientIp, Counters, Intake, Networks, NoiseFilter, NormalizeOptions};
use crate::report::store::{MemorySink, ReportSink, ReportStore};
use crate::source::{Origin, OriginError};

/// Builder for a [`Collector`], from [`Collector::builder`].
#[must_use]
pub struct CollectorBuilder {
    pub(crate) store: Option<Arc<dyn ReportStore>>,
    pub(crate) intake: Intake,
    /// `None`: [`DEFAULT_PATH`], not chosen.
    pub(crate) path: Option<String>,
    /// CORS: who may send reports (`None`: any origin).
    pub(crate) senders: Option<Vec<HeaderValue>>,
    pub(crate) summary_limit: usize,
    network_key_set: bool,
    read_cache: Duration,
    pub(crate) min_reach: u64,
    #[cfg(feature = "alerts")]
    alerts: Option<crate::report::alert::Alerts>,
}

impl Default for CollectorBuilder {
    fn default() -> Self {
        CollectorBuilder {
            store: None,
            intake: Intake::default(),
            path: None,
            senders: None,
            summary_limit: 500,
            network_key_set: false,
            read_cache: Duration::ZERO,
            min_reach: DEFAULT_MIN_REACH,
            #[cfg(feature = "alerts")]
            alerts: None,
        }
    }
}

impl fmt::Debug for CollectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CollectorBuilder");
        d.field("path", &self.path)
            .field("intake", &self.intake)
            .field("senders", &self.senders)
            .field("summary_limit", &self.summary_limit)
            .field("min_reach", &self.min_reach);
        #[cfg(feature = "alerts")]
        d.field("alerts", &self.alerts);
        d.finish_non_exhaustive()
    }
}

impl CollectorBuilder {
    /// Where reports are kept and read back from: one store for both (default: a
    /// [`MemorySink`]). Any [`ReportStore`]: [`MemorySink`], `SqliteSink`, `PostgresSink`,
    /// `Tee(MemorySink::new(), TracingSink)`, or a sink of your own wrapped in
    /// [`WriteOnly`](crate::report::store::WriteOnly) (the read side then says it has
    /// nothing to show). Calling it again replaces the store.
    pub fn store(mut self, store: impl ReportStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The POST path (default `/csp-reports`); the read side lives under it
    /// (`/csp-reports/summary`, `/csp-reports/dashboard`). A missing leading `/` is added
    /// and trailing ones removed. The front door ([`Csp`](crate::Csp)) sets it from its
    /// `report_path`, and refuses a different one here.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut p: String = path.into();
        if !p.starts_with('/') {
            p.insert(0, '/');
        }
        while p.len() > 1 && p.ends_with('/') {
            p.pop();
        }
        self.path = Some(p);
        self
    }

    /// Largest accepted body, in bytes (default 64 KiB). Bigger bodies get 413; no more
    /// than this is ever buffered.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.intake.body_limit = bytes;
        self
    }

    /// Most bytes of an oversize body read and thrown away after the body limit, before the
    /// 413 is sent (default 1 MiB; 0 turns draining off).
    ///
    /// A client writes its whole body before it reads the answer. If the server answered
    /// and closed while the body was still arriving, the kernel would reset the connection
    /// and the client would see a broken pipe, not the 413. So the rest of an oversize body
    /// is read and discarded (never buffered) up to this many bytes and
    /// [`drain_time`](Self::drain_time); past either bound, or when `Content-Length`
    /// already says the body is bigger than `body_limit + drain_limit`, the 413 is sent at
    /// once with `Connection: close`.
    pub fn drain_limit(mut self, bytes: u64) -> Self {
        self.intake.drain_limit = bytes;
        self
    }

    /// Longest time spent draining an oversize body (default 5 seconds); see
    /// [`drain_limit`](Self::drain_limit). The bound is a tokio timer, so the collector
    /// needs a runtime with its time driver (`#[tokio::main]` and `Builder::enable_all`
    /// have it; a runtime built without `enable_time` would panic on an oversize body).
    pub fn drain_time(mut self, time: Duration) -> Self {
        self.intake.drain_time = time;
        self
    }

    /// CORS: answer Reporting API preflights from this origin only (call again for more).
    /// By default any origin may send reports, as anyone can POST to a public endpoint
    /// anyway. This is about who may *send* (the `Origin` header, which a script-less
    /// client sets to anything); to choose which pages' reports are *kept*, see
    /// [`accept_origin`](Self::accept_origin).
    ///
    /// # Errors
    ///
    /// [`OriginError`] when `origin` is not `scheme://host[:port]`.
    pub fn allow_origin(mut self, origin: &str) -> Result<Self, OriginError> {
        let o: Origin = origin.parse()?;
        // An origin's ASCII serialization is always a valid header value.
        if let Ok(v) = HeaderValue::from_str(o.as_str()) {
            let list = self.senders.get_or_insert_with(Vec::new);
            if !list.contains(&v) {
                list.push(v);
            }
        }
        Ok(self)
    }

    /// Keep only reports about documents of this origin (call again for more): a report
    /// whose document URL is of another origin, or has none, is dropped and counted in
    /// [`CollectorStats::unaccepted_origin`](super::CollectorStats::unaccepted_origin), so
    /// a stranger cannot fill the store with another site's reports. Origins are compared as
    /// [`Origin`] values: lowercase, default ports dropped, IDN hosts in punycode. By
    /// default every document is accepted.
    ///
    /// Not the same as [`allow_origin`](Self::allow_origin), which answers CORS
    /// preflights by the sender's `Origin` header.
    ///
    /// ```
    /// use connect_src::report::Collector;
    ///
    /// let collector = Collector::builder()
    ///     .accept_origin("https://app.example")?
    ///     .accept_origin("https://www.app.example:8443/")?
    ///     .build();
    /// assert!(Collector::builder().accept_origin("app.example").is_err());
    /// # Ok::<_, connect_src::source::OriginError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`OriginError`] when `origin` is not `scheme://host[:port]`.
    pub fn accept_origin(mut self, origin: &str) -> Result<Self, OriginError> {
        let o: Origin = origin.parse()?;
        let list = self.intake.accept.get_or_insert_with(Vec::new);
        if !list.contains(&o) {
            list.push(o);
        }
        Ok(self)
    }

    /// The noise filter (default [`NoiseFilter::default`]; [`NoiseFilter::none`] keeps all).
    pub fn noise_filter(mut self, filter: NoiseFilter) -> Self {
        self.intake.filter = filter;
        self
    }

    /// Normalization (query stripping, field bound, per-request cap).
    pub fn normalize(mut self, options: NormalizeOptions) -> Self {
        self.intake.normalize = options;
        self
    }

    /// Most groups in the summary and dashboard (default 500). `total` is never capped.
    pub fn summary_limit(mut self, groups: usize) -> Self {
        self.summary_limit = groups;
        self
    }

    /// The least reach the dashboard's learning counts (default
    /// [`DEFAULT_MIN_REACH`], 2; 0 reads as 1): distinct client networks, and for the
    /// inventory distinct page loads too. Below it a destination is shown but never
    /// suggested, and never keeps an enforced source "used". The same as
    /// `connect-src suggest --min-reach`.
    pub fn min_reach(mut self, n: u64) -> Self {
        self.min_reach = n.max(1);
        self
    }

    /// The policies the app serves, newest first, to check each report against
    /// ([`classify`](crate::report::intake::classify)): from
    /// [`CspLayer::served_policies`](crate::CspLayer::served_policies) when the app's layer
    /// is at hand, else [`ServedPolicies::from_headers`]. Without them every report is
    /// [`Class::Unverified`](crate::report::store::Class::Unverified). The front door
    /// ([`Csp`](crate::Csp)) sets this itself.
    pub fn served_policies(mut self, served: ServedPolicies) -> Self {
        self.intake.served = Some(served);
        self
    }

    /// Checks the token the layer's [`Provenance`] puts in report URLs: reports without a
    /// valid one (the rotation window of now, the one before or the one after) are
    /// [`Class::Foreign`](crate::report::store::Class::Foreign), whatever they claim. Give
    /// every app instance and the collector the same secret (the front door,
    /// [`Csp`](crate::Csp), does).
    ///
    /// Unless [`network_key`](Self::network_key) was given, client networks are hashed with
    /// a key derived from the same secret, so every collector of a fleet counts them alike.
    pub fn provenance(mut self, provenance: Provenance) -> Self {
        if !self.network_key_set {
            let from = self.intake.networks.from.clone();
            self.intake.networks =
                Networks::keyed(&provenance.derived_key(b"connect-src network key v1"));
            self.intake.networks.from = from;
        }
        self.intake.provenance = Some(provenance);
        self
    }

    /// The key client networks are hashed with (any length; keep it secret). Reports count
    /// towards a group's or destination's reach once per client network — a keyed hash of
    /// the sender's /24 (IPv4) or /48 (IPv6), never the address — so a fleet of collectors
    /// needs one key to count alike. The front door ([`Csp`](crate::Csp)) derives it from
    /// the provenance secret; without either, each process draws a random one.
    pub fn network_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.network_key_set = true;
        let from = self.intake.networks.from.clone();
        self.intake.networks = Networks::keyed(key.as_ref());
        self.intake.networks.from = from;
        self
    }

    /// Reads the sender's address from this header's last value (the one the proxy in
    /// front appends, `X-Forwarded-For`) instead of the TCP peer. Only behind a proxy you
    /// run that sets it: a client can write any header. By default the peer address is
    /// read from axum's `ConnectInfo<SocketAddr>` (serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`); without it, no report has a
    /// network, every reach is 0, and nothing is learned above a minimum reach.
    ///
    /// # Errors
    ///
    /// [`http::header::InvalidHeaderName`] for a name that is not a header name.
    pub fn client_ip_header(mut self, name: &str) -> Result<Self, http::header::InvalidHeaderName> {
        self.intake.networks.from = ClientIp::Header(name.parse()?);
        Ok(self)
    }

    /// The most inventory observations kept per sampled page load (default 256): a page
    /// load's id is public (it is in its response's header), so past this its reports are
    /// dropped and counted in
    /// [`CollectorStats::observations_dropped`](super::CollectorStats::observations_dropped).
    pub fn observations_per_page_load(mut self, n: u32) -> Self {
        self.intake.observations_per_page_load = n.max(1);
        self
    }

    /// How long the read side (summary, dashboard) reuses a read of the store even when
    /// reports were stored since (default 0). Whatever it is, readers asking at once share
    /// one read, and a read is reused while nothing new was stored through this collector
    /// (for at most 30 s, as other collectors of a fleet write unseen): so reloading the
    /// dashboard never costs the database more than one read at a time. With a hold of a
    /// few seconds, the pages refresh at most that often under a stream of reports
    /// (`connect-src serve --read-cache`, 2 s by default there).
    pub fn read_cache(mut self, hold: Duration) -> Self {
        self.read_cache = hold;
        self
    }

    /// Sends webhook alerts (feature `alerts`): new destinations, spikes, silence and
    /// foreign policies, each counted by reach at this collector's
    /// [`min_reach`](Self::min_reach), de-duplicated, and sent off the report's path (see
    /// [`alert`](crate::report::alert)). The detector and the sender run as tasks on the
    /// tokio runtime `build` is called on (or, built outside one, the first report's), and
    /// stop when the collector is dropped. Calling it again replaces the alerts.
    #[cfg(feature = "alerts")]
    pub fn alerts(mut self, alerts: crate::report::alert::Alerts) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// Builds the collector.
    pub fn build(self) -> Collector {
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemorySink::new()) as Arc<dyn ReportStore>);
        let counters = Counters::default();
        let reads = Arc::new(CachedReads::new(
            store.clone(),
            counters.generation.clone(),
            self.read_cache,
        ));
        #[cfg(feature = "alerts")]
        let alerts = self
            .alerts
            .as_ref()
            .map(|a| crate::report::alert::AlertHandle::new(a, store.clone(), self.min_reach));
        #[cfg(feature = "alerts")]
        let sink: Arc<dyn ReportSink> = match &alerts {
            Some(h) => Arc::new(crate::report::alert::Tapped::new(store.clone(), h.clone())),
            None => store.clone(),
        };
        #[cfg(not(feature = "alerts"))]
        let sink: Arc<dyn ReportSink> = store.clone();
        Collector {
            inner: Arc::new(Inner {
                sink,
                #[cfg(feature = "alerts")]
                alerts,
                store,
                reads,
                path: self.path.unwrap_or_else(|| DEFAULT_PATH.to_owned()),
                intake: self.intake,
                senders: self.senders,
                summary_limit: self.summary_limit,
                min_reach: self.min_reach,
                counters,
                gate_clock: std::sync::Mutex::new(None),
            }),
        }
    }
}
