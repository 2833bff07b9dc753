//! Reading a report body within its limit, and draining an oversize one so its sender
//! reads the 413 (the collector's wire-level side).

use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;

/// How reading a body ended.
pub(super) enum ReadBody {
    /// The whole body, within the limit.
    Complete(Bytes),
    /// Over the limit; `drained` when the rest was read (and thrown away) to its end.
    TooLarge { drained: bool },
    /// The client went away, or the body was malformed on the wire.
    Failed,
}

/// Whether an error is a length limit's, ours or an outer layer's (tower-http's
/// `RequestBodyLimit`), possibly nested a few errors deep.
pub(super) fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Reads a body, keeping at most `body_limit` bytes: a lying or absent Content-Length
/// cannot make it buffer more. Past the limit, the rest is drained, never kept.
pub(super) async fn read_body(
    mut body: Body,
    limit: usize,
    drain_limit: u64,
    drain_time: Duration,
) -> ReadBody {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut len = 0usize;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue; // trailers
                };
                if len + data.len() > limit {
                    drop(chunks);
                    // What is past the limit counts against the drain bound.
                    let past = (len + data.len() - limit) as u64;
                    let drained = match drain_limit.checked_sub(past) {
                        Some(budget) => drain(body, drain_time, budget).await,
                        None => false,
                    };
                    return ReadBody::TooLarge { drained };
                }
                len += data.len();
                chunks.push(data);
            }
            Some(Err(e)) if is_length_limit(&e) => return ReadBody::TooLarge { drained: false },
            Some(Err(_)) => return ReadBody::Failed,
        }
    }
    ReadBody::Complete(match chunks.len() {
        1 => chunks.pop().unwrap_or_default(),
        _ => chunks.concat().into(),
    })
}

/// Reads the rest of an oversize body and throws it away, up to `budget` more bytes and
/// `drain_time`. True when the body was read to its end: the client was told 413 after it
/// finished sending, so it reads the answer, and the connection can be kept.
pub(super) async fn drain(mut body: Body, drain_time: Duration, budget: u64) -> bool {
    let mut read = 0u64;
    let to_end = async {
        loop {
            match body.frame().await {
                None => return true,
                Some(Ok(frame)) => {
                    if let Some(d) = frame.data_ref() {
                        read += d.len() as u64;
                        if read > budget {
                            return false;
                        }
                    }
                }
                Some(Err(_)) => return false,
            }
        }
    };
    tokio::time::timeout(drain_time, to_end)
        .await
        .unwrap_or(false)
}
