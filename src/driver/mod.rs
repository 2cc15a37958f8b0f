//! The driver: one node's core behind a lock, its clock, and the tokio task that owns its timers.
//!
//! Inputs dispatched from JS are stepped on the JS thread (see `binding`); this module only turns
//! the core's deadlines into wakeups. When a timer step produced outputs, the JS thread is woken
//! through a threadsafe function (no payload) whose JS callback drains them.

use crate::binding::persist::{JsRefs, PersistQueue};
use crate::binding::Key;
use napi::bindgen_prelude::spawn;
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};
use napi::Status;
use raftq_core::{Config, Node, Output};
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The wake-up callback: strong (keeps the event loop alive while the node runs), not callee
/// handled (the JS side never throws from it), no arguments.
pub type Wake = ThreadsafeFunction<(), UnknownReturnValue, (), Status, false, false, 0>;

/// A node's state shared between the JS thread and its timer task.
pub struct Shared {
    inner: Mutex<Inner>,
    /// Re-arms the timer task when a JS-thread step moved the next deadline earlier.
    notify: Notify,
    /// When the timer task will look at the core next (ms; `u64::MAX`: only when notified).
    /// The task never sleeps longer than `recheck` past its arming time, so the usual JS-thread
    /// step (a follower's election timer reset by a heartbeat, at least `election_min` ahead)
    /// does not need to wake it: only a deadline earlier than this one does.
    armed: AtomicU64,
    /// Longest sleep of the timer task (`election_min / 2`).
    recheck: u64,
    report_after: u64,
    epoch: Instant,
}

pub struct Inner {
    pub config: Config,
    /// `None` until the first `serviceStarted` (the id is not known before).
    pub node: Option<Node<Key>>,
    /// Members acked before the core exists.
    pub pending_members: BTreeSet<Key>,
    /// Malformed messages seen.
    pub rejected: u64,
    /// Log lines produced outside the core (timer task failures), drained with the outputs.
    pub notes: Vec<String>,
    /// A wake-up is queued on the JS thread and not drained yet.
    wake_pending: bool,
    wake: Option<Wake>,
    /// Set when the core panicked: it is not stepped again.
    pub failed: bool,
    /// The persist queue (see `binding::persist`) and the JS values it needs.
    pub persist: PersistQueue,
    pub js: JsRefs,
    /// Outputs taken from the core on the JS thread before `index.js` drains them (the wake-up
    /// callback moves persist requests to the queue first).
    pub stash: Vec<Output<Key>>,
}

impl Shared {
    pub fn new(config: Config) -> Arc<Self> {
        let recheck = (config.election_min / 2).max(1);
        let report_after = config.election_max;
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                config,
                node: None,
                pending_members: BTreeSet::new(),
                rejected: 0,
                notes: Vec::new(),
                wake_pending: false,
                wake: None,
                failed: false,
                persist: PersistQueue::default(),
                js: JsRefs::default(),
                stash: Vec::new(),
            }),
            notify: Notify::new(),
            armed: AtomicU64::new(u64::MAX),
            recheck,
            report_after,
            epoch: Instant::now(),
        })
    }

    /// Milliseconds since the node was created: the core's clock.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Lock the node. A poisoned lock (a panic while stepping) is recovered and marks the node
    /// failed: its core, possibly half-updated, is never stepped again.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                if !g.failed {
                    g.failed = true;
                    g.notes
                        .push("raft internal error: the core panicked; node stopped".into());
                }
                g
            }
        }
    }

    /// After how long a persist in flight is reported on `log` (the longest election timeout).
    pub fn report_after(&self) -> u64 {
        self.report_after
    }

    /// Tell the timer task to look at the deadline again.
    pub fn rearm(&self) {
        self.notify.notify_one();
    }

    /// After a JS-thread step: wake the timer task only if the core's next deadline is now
    /// earlier than the time the task will look again.
    pub fn rearm_if_earlier(&self, deadline: Option<u64>) {
        if let Some(d) = deadline {
            if d < self.armed.load(Ordering::Acquire) {
                self.rearm();
            }
        }
    }
}

impl Inner {
    pub fn next_deadline(&self) -> Option<u64> {
        let queue = self.persist.deadline(self.config.election_max);
        let core = if self.failed {
            None
        } else {
            self.node.as_ref().and_then(|n| n.next_deadline())
        };
        match (core, queue) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The outputs for JS: what was stashed, then the core's; persist requests go to the
    /// queue instead (the caller starts the call once the lock is released).
    pub fn take_outputs(&mut self) -> Vec<Output<Key>> {
        let mut outs = std::mem::take(&mut self.stash);
        if let Some(node) = self.node.as_mut() {
            node.drain_outputs_into(&mut outs);
        }
        let queue = &mut self.persist;
        outs.retain_mut(|o| match o {
            Output::Persist { seq, state } => {
                queue.request(*seq, state.clone());
                false
            }
            _ => true,
        });
        outs
    }

    /// Install the wake-up callback (first start).
    pub fn set_wake(&mut self, wake: Wake) {
        self.wake = Some(wake);
        self.wake_pending = false;
    }

    pub fn has_wake(&self) -> bool {
        self.wake.is_some()
    }

    /// Drop the wake-up callback on the JS thread: the event loop is released at once.
    pub fn release_wake(&mut self) -> Option<Wake> {
        self.wake_pending = false;
        self.wake.take()
    }

    /// The JS side drained the outputs: the next timer outputs need a new wake-up.
    pub fn drained(&mut self) {
        self.wake_pending = false;
    }

    fn wake_js(&mut self) {
        if self.wake_pending {
            return;
        }
        if let Some(w) = &self.wake {
            // Closing: the environment is going away, nobody is left to wake. QueueFull cannot
            // happen (unbounded queue); anything else: retried after the next tick.
            if w.call((), ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok {
                self.wake_pending = true;
            }
        }
    }
}

/// The timer task of one node: sleep until the core's next deadline (or until re-armed), tick,
/// and wake JS when the tick produced outputs. Aborted by `destroy()`.
pub fn spawn_timers(shared: Arc<Shared>) -> JoinHandle<()> {
    spawn(async move {
        let origin = tokio::time::Instant::from_std(shared.epoch);
        loop {
            let notified = shared.notify.notified();
            let now = shared.now_ms();
            let deadline = {
                let inner = shared.lock();
                let d = inner.next_deadline();
                // published under the lock: a JS-thread step after this sees it
                let wake_at = d.map_or(u64::MAX, |d| d.min(now.saturating_add(shared.recheck)));
                shared.armed.store(wake_at, Ordering::Release);
                d
            };
            let Some(deadline) = deadline else {
                notified.await;
                continue;
            };
            if now < deadline {
                let wake_at = deadline.min(now.saturating_add(shared.recheck));
                let at = origin + Duration::from_millis(wake_at);
                // the deadline passed, the recheck time came, or a JS-thread step re-armed us
                let _ = tokio::time::timeout_at(at, notified).await;
                continue;
            }
            let stuck = tick(&shared, now);
            if stuck {
                // a tick that leaves its deadline in the past would spin: breathe
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    })
}

/// Tick the core if its deadline passed and wake JS when that produced outputs. Returns whether
/// the deadline is still in the past (a core that does not advance it would make us spin).
fn tick(shared: &Shared, now: u64) -> bool {
    let mut inner = shared.lock();
    // a disk that is merely slow is not reported on every write
    let report_after = inner.config.election_max;
    let Inner { persist, notes, .. } = &mut *inner;
    let retry = persist.on_tick(now, report_after, notes);
    if !inner.failed {
        if let Some(node) = inner.node.as_mut() {
            if node.next_deadline().is_some_and(|d| d <= now)
                && catch_unwind(AssertUnwindSafe(|| node.tick(now))).is_err()
            {
                inner.failed = true;
                inner
                    .notes
                    .push("raft internal error: the core panicked in tick; node stopped".into());
            }
        }
    }
    let has_outputs =
        retry || !inner.notes.is_empty() || inner.node.as_ref().is_some_and(|n| n.has_outputs());
    if has_outputs {
        inner.wake_js();
    }
    inner.next_deadline().is_some_and(|d| d <= now)
}
