//! The process-wide count of layers, which tells a layer whether another one can sit
//! outside it (and so whether requests need the nesting mark).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How many layers exist in the process: each [`CspLayer`](super::CspLayer) made (clones
/// share one) counts until it and every service it made are gone. With one, no layer can
/// sit inside another, so the nesting mark — a request-extension insert, most of a layer's
/// cost per response (bench/README.md) — is not needed. Process-wide, never per thread.
static LAYERS: AtomicUsize = AtomicUsize::new(0);

/// One layer's place in [`LAYERS`], held by its compiled values: so by the layer, its
/// clones, its services and their response futures in flight.
#[derive(Debug)]
pub(crate) struct Registration(());

impl Registration {
    pub(crate) fn new() -> Arc<Registration> {
        LAYERS.fetch_add(1, Ordering::Relaxed);
        Arc::new(Registration(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        LAYERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether layers may be nested: more than one exists. A layer made while a request is
/// in flight is seen by the requests that start after it.
#[inline]
pub(crate) fn nesting_possible() -> bool {
    LAYERS.load(Ordering::Relaxed) > 1
}
