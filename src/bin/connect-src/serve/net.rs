//! Connections: hyper-util's server with timeouts and limits, one accept loop per listener,
//! and the graceful stop.
//!
//! - **Header-read timeout** (hyper's, with `TokioTimer`): a client that has not sent a
//!   whole request head within it is closed; it also bounds an idle keep-alive connection.
//! - **Idle timeout**: a connection with no request in flight for the same time is asked to
//!   close (HTTP/2: GOAWAY), then dropped if it does not. It covers what hyper's HTTP/1
//!   timer does not: an h2c connection that never opens a stream, or one that stops
//!   sending the HTTP/2 preface half-way.
//! - **Request timeout** (tower-http, on the routers): 408.
//! - **Connection limit**: a semaphore per listener. At the limit, the accept loop waits:
//!   new connections queue in the kernel's accept backlog (they are not refused) and are
//!   taken as others close.
//! - **HTTP/2** only with `--http2`, with stream and window limits; otherwise HTTP/1.1 only
//!   (an h2c preface is an invalid HTTP/1 request: closed at once).
//! - **Stop**: the listeners are dropped (new connections refused), each connection is told
//!   to finish (HTTP/1: the request in flight is answered, then the connection closes;
//!   HTTP/2: GOAWAY), and what is still open at `--shutdown-timeout` is cut.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// The per-listener limits.
#[derive(Debug, Clone)]
pub(super) struct Limits {
    pub(super) max_connections: usize,
    pub(super) header_read_timeout: Duration,
    pub(super) request_timeout: Duration,
    /// Cleartext HTTP/2 (prior knowledge), when turned on.
    pub(super) http2: Option<Http2>,
}

/// HTTP/2 limits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Http2 {
    pub(super) max_streams: u32,
    /// Each stream's window; the connection's is four times it.
    pub(super) window: u32,
}

/// The largest read buffer of an HTTP/1 connection: a request head must fit (reports'
/// heads are well under 8 KiB), and a slow client pins at most this much.
const MAX_BUF: usize = 32 * 1024;

impl Limits {
    fn builder(&self) -> auto::Builder<TokioExecutor> {
        let mut b = auto::Builder::new(TokioExecutor::new());
        if self.http2.is_none() {
            b = b.http1_only();
        }
        b.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_buf_size(MAX_BUF);
        if let Some(h2) = self.http2 {
            b.http2()
                .timer(TokioTimer::new())
                .max_concurrent_streams(h2.max_streams)
                .initial_stream_window_size(h2.window)
                .initial_connection_window_size(h2.window.saturating_mul(4))
                .max_header_list_size(16 * 1024)
                .max_send_buf_size(64 * 1024)
                .keep_alive_interval(self.header_read_timeout)
                .keep_alive_timeout(self.header_read_timeout);
        }
        b
    }
}

/// The stop signal every task watches: set once, never cleared.
#[derive(Clone)]
pub(super) struct Stop(Arc<watch::Sender<bool>>);

impl Stop {
    pub(super) fn new() -> Stop {
        Stop(Arc::new(watch::channel(false).0))
    }

    pub(super) fn stop(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once `stop` was called (at once if it already was).
    pub(super) async fn stopped(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// SIGTERM (what systemd, Docker and Kubernetes send) and SIGINT (Ctrl-C), registered when
/// made.
pub(super) struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub(super) fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next signal's name.
    pub(super) async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    state: Mutex<(usize, Instant)>,
}

/// Marks a request in flight until dropped (also when its future is dropped unfinished).
struct InFlight(Arc<Activity>);

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            state: Mutex::new((0, Instant::now())),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, Instant)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.lock().0 += 1;
        InFlight(self.clone())
    }

    /// When the connection will have been idle for `idle`, if nothing starts before; while
    /// requests are in flight, one `idle` from now (to look again).
    fn idle_deadline(&self, idle: Duration) -> (bool, Instant) {
        let (n, last) = *self.lock();
        if n > 0 {
            (false, Instant::now() + idle)
        } else {
            (true, last + idle)
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.0 -= 1;
        s.1 = Instant::now();
    }
}

/// Serves `app` on `listener` until `stop`, then drains for at most `drain`. Returns how
/// many connections were still open at the end of the drain (and cut).
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Arc<Limits>,
    stop: Stop,
    drain: Duration,
) -> usize {
    let builder = Arc::new(limits.builder());
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut conns = JoinSet::new();
    let mut warned: Option<Instant> = None;
    loop {
        if permits.available_permits() == 0
            && warned.is_none_or(|w| w.elapsed() > Duration::from_secs(60))
        {
            warned = Some(Instant::now());
            tracing::warn!(
                max_connections = limits.max_connections,
                "connection limit reached: new connections wait until others close"
            );
        }
        let permit = tokio::select! {
            biased;
            () = stop.stopped() => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            () = stop.stopped() => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most often: wait, never spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        while conns.try_join_next().is_some() {}
        let (app, builder, limits, stop) =
            (app.clone(), builder.clone(), limits.clone(), stop.clone());
        conns.spawn(async move {
            connection(stream, app, &builder, &limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let finished =
        tokio::time::timeout(drain, async { while conns.join_next().await.is_some() {} }).await;
    match finished {
        Ok(()) => 0,
        Err(_) => {
            let open = conns.len();
            conns.abort_all();
            open
        }
    }
}

/// One connection, from its first byte to its end: served by hyper, closed when idle, told
/// to finish on stop.
async fn connection(
    stream: tokio::net::TcpStream,
    app: Router,
    builder: &auto::Builder<TokioExecutor>,
    limits: &Limits,
    stop: Stop,
) {
    let activity = Activity::new();
    // The peer, as axum's `ConnectInfo`: the collector counts reach by client network.
    let peer = stream.peer_addr().ok();
    let tower = TowerToHyperService::new(app);
    let tracked = activity.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        if let Some(peer) = peer {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        let in_flight = tracked.begin();
        let answer = hyper::service::Service::call(&tower, req);
        async move {
            let res: Result<Response<Body>, Infallible> = answer.await;
            drop(in_flight);
            res
        }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let idle = limits.header_read_timeout;
    let mut closing = false;
    let mut cut_at: Option<Instant> = None;
    loop {
        let (_, idle_at) = activity.idle_deadline(idle);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = stop.stopped(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep_until(idle_at.into()), if !closing => {
                // Look again: a request may have started or ended meanwhile.
                let (still_idle, at) = activity.idle_deadline(idle);
                if still_idle && at <= Instant::now() {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                    cut_at = Some(Instant::now() + idle);
                }
            }
            () = tokio::time::sleep_until(cut_at.unwrap_or_else(Instant::now).into()),
                if cut_at.is_some() => return,
        }
    }
}

/// Warns when the open-files limit is below what the connection limits may need.
pub(super) fn check_open_files(connections: usize) {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse::<usize>().ok());
    // The store, the listeners, logs: a few dozen more.
    let needed = connections + 64;
    if let Some(soft) = soft.filter(|&s| s < needed) {
        tracing::warn!(
            open_files = soft,
            needed,
            "the open-files limit is below what --max-connections on both listeners needs: \
             raise it (LimitNOFILE= in systemd, ulimit -n) or lower --max-connections"
        );
    }
}
