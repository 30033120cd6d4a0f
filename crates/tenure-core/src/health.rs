//! Health and lifecycle: whether the service may take traffic, and how it is told to stop.
//!
//! - [`HealthProbe`] is the port a store implements: can the database be reached, and how
//!   many migrations are still to apply. [`Health`] is the service over it that a
//!   readiness endpoint asks: ready only when the database answers and the schema is
//!   current.
//! - [`Shutdown`] is the stop signal a process gives its background tasks (the mail
//!   courier, housekeeping): cheap to clone, runtime-agnostic (no tokio here), fired once
//!   by [`Shutdown::stop`]; a task awaits [`Shutdown::stopped`] beside its work or checks
//!   [`Shutdown::is_stopped`] between batches.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;

use crate::BackendError;

/// The store's side of readiness.
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// Reaches the database with the cheapest round trip it has.
    ///
    /// # Errors
    /// [`BackendError`] when the database cannot be reached.
    async fn ping(&self) -> Result<(), BackendError>;

    /// How many known migrations the database has not applied yet (0: current).
    ///
    /// # Errors
    /// [`BackendError`] when the database cannot be reached or its migration table read.
    async fn pending_migrations(&self) -> Result<usize, BackendError>;
}

/// Whether the service may take traffic.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Readiness {
    /// The database answers and its schema is current.
    Ready,
    /// The database does not answer.
    DatabaseUnavailable,
    /// The database answers but this many migrations are still to apply (run
    /// `tenure migrate`).
    SchemaBehind(usize),
}

impl Readiness {
    /// Whether traffic may come.
    pub const fn is_ready(self) -> bool {
        matches!(self, Self::Ready)
    }
}

/// The readiness service: asks the probe, and keeps the cause of a failure for the log.
#[derive(Clone)]
pub struct Health {
    probe: Arc<dyn HealthProbe>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Health")
    }
}

impl Health {
    /// Readiness over this probe.
    pub fn new(probe: Arc<dyn HealthProbe>) -> Self {
        Self { probe }
    }

    /// Whether the database answers and the schema is current. A backend failure is
    /// "unavailable" with its cause returned beside it, for the caller to log (never to
    /// show: it may name hosts or users).
    pub async fn readiness(&self) -> (Readiness, Option<BackendError>) {
        if let Err(e) = self.probe.ping().await {
            return (Readiness::DatabaseUnavailable, Some(e));
        }
        match self.probe.pending_migrations().await {
            Ok(0) => (Readiness::Ready, None),
            Ok(n) => (Readiness::SchemaBehind(n), None),
            Err(e) => (Readiness::DatabaseUnavailable, Some(e)),
        }
    }
}

/// A stop signal shared by a process and its background tasks. Every clone sees the same
/// signal; it fires once and stays fired.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    stopped: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Shutdown {
    /// A signal not yet fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the signal: every [`Shutdown::stopped`] completes, now and later.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        let wakers =
            std::mem::take(&mut *self.inner.wakers.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether the signal has fired.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// Completes once the signal has fired (at once if it already has).
    pub fn stopped(&self) -> Stopped {
        Stopped { inner: self.inner.clone() }
    }
}

/// The future of [`Shutdown::stopped`].
#[derive(Debug)]
pub struct Stopped {
    inner: Arc<Inner>,
}

impl Future for Stopped {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.stopped.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        let mut wakers = self.inner.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        // Checked again under the lock: `stop` sets the flag before taking the wakers.
        if self.inner.stopped.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A waker that counts its wakes, so the test needs no runtime.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn stopped_is_pending_until_stop_then_ready_for_every_clone() {
        let count = Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let shutdown = Shutdown::new();
        let task = shutdown.clone();
        let mut stopped = Box::pin(task.stopped());
        assert!(stopped.as_mut().poll(&mut cx).is_pending());
        assert!(stopped.as_mut().poll(&mut cx).is_pending());
        assert!(!task.is_stopped());
        shutdown.stop();
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken once, registered once");
        assert!(stopped.as_mut().poll(&mut cx).is_ready());
        assert!(task.is_stopped());
        let mut later = Box::pin(task.stopped());
        assert!(later.as_mut().poll(&mut cx).is_ready(), "a later wait ends at once");
    }

    struct Probe(Result<usize, ()>, bool);

    #[async_trait]
    impl HealthProbe for Probe {
        async fn ping(&self) -> Result<(), BackendError> {
            if self.1 { Ok(()) } else { Err(BackendError::new("down")) }
        }
        async fn pending_migrations(&self) -> Result<usize, BackendError> {
            self.0.map_err(|()| BackendError::new("no table"))
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut f = Box::pin(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn readiness_needs_the_database_and_a_current_schema() {
        let ready = |p: Probe| block_on(Health::new(Arc::new(p)).readiness()).0;
        assert_eq!(ready(Probe(Ok(0), true)), Readiness::Ready);
        assert_eq!(ready(Probe(Ok(2), true)), Readiness::SchemaBehind(2));
        assert_eq!(ready(Probe(Ok(0), false)), Readiness::DatabaseUnavailable);
        assert_eq!(ready(Probe(Err(()), true)), Readiness::DatabaseUnavailable);
        assert!(!Readiness::SchemaBehind(1).is_ready());
    }
}
