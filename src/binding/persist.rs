//! The persist queue: the app's `persistAgent.persist(node, body)` called by the binding, one
//! call in flight per node, the newest state winning, failures retried with backoff, and the
//! bounds `destroy()` and a restart wait for. A completed call steps the core
//! (`Node::persisted`) on the JS thread, in the Promise's own reaction: the replies it held
//! leave without a round trip through JavaScript bookkeeping.
//!
//! Calls start on the JS thread, from Rust: at the end of a method that stepped the core, or,
//! for a persist the timer task's tick requested (an election timeout), in the callback of its
//! threadsafe wake-up, before any JavaScript runs. Timers (the retry backoff, the watchdog that
//! reports a call that has not settled after the longest election timeout) are the timer task's deadlines.

use super::convert::{key_to_id, Key, Values};
use crate::driver::{Inner, Shared};
use napi::bindgen_prelude::{
    FnArgs, Function, FunctionCallContext, JsObjectValue, Object, ToNapiValue, Unknown,
};
use napi::{Env, JsDeferred, JsValue, Result, UnknownRef, ValueType};
use raftq_core::{wire, HardState, Voters};
use std::sync::{Arc, Mutex};

/// A persist request: the core's `seq` (0 for `destroy()`'s final write) of start generation
/// `gen`, and the state to write.
pub struct Req {
    pub seq: u64,
    pub gen: u64,
    pub state: HardState<Key>,
    /// `destroy()`'s final write: tried once.
    pub last: bool,
}

/// The call in flight.
pub struct InFlight {
    pub req: Req,
    pub started: u64,
    /// When the call began, for its latency (sub-millisecond; the timer clock counts whole ms).
    pub began: std::time::Instant,
    /// Whether the watchdog reported it.
    pub reported: bool,
}

type Settle = JsDeferred<Option<f64>, Box<dyn FnOnce(Env) -> Result<Option<f64>>>>;
/// A `settle()` Promise, resolved once: by the queue going idle or by its bound.
pub type Waiter = Arc<Mutex<Option<Settle>>>;

/// The JS values the queue needs, touched on the JS thread only.
#[derive(Default)]
pub struct JsRefs {
    /// `persistAgent.persist` bound to the agent.
    pub persist: Option<UnknownRef>,
    /// `Promise.resolve` bound to `Promise`.
    pub resolve: Option<UnknownRef>,
    /// The `RaftNode` given to `serviceStarted` (the first argument of `persist`).
    pub node: Option<UnknownRef>,
    /// The data values of the versions (see `convert::Values`).
    pub values: Option<UnknownRef>,
    /// `index.js`'s drain callback: emits the records of what a completion released.
    pub drain: Option<UnknownRef>,
}

impl JsRefs {
    pub fn values<'env>(&self, env: &'env Env) -> Result<Values<'env>> {
        let r = self
            .values
            .as_ref()
            .ok_or_else(|| napi::Error::from_reason("the values store is gone"))?;
        let obj = r.get_value(env)?;
        // SAFETY: the store is an object (created by the binding)
        Ok(Values {
            obj: unsafe { obj.cast::<Object>()? },
        })
    }

    /// Release every reference (on the JS thread).
    pub fn release(&mut self, env: &Env, keep_values: bool) -> Result<()> {
        let mut refs = vec![
            self.persist.take(),
            self.resolve.take(),
            self.node.take(),
            self.drain.take(),
        ];
        if !keep_values {
            refs.push(self.values.take());
        }
        for r in refs.into_iter().flatten() {
            r.unref(env)?;
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct PersistQueue {
    /// The newest request not handed to the agent yet.
    pub pending: Option<Req>,
    pub in_flight: Option<InFlight>,
    /// Consecutive failures (backoff).
    pub failures: u32,
    /// Not before this time (ms): the backoff after a failure.
    pub retry_at: Option<u64>,
    /// `destroy()` gave up waiting: nothing more is written (a late write could land over a
    /// newer instance's state).
    pub closed: bool,
    /// `destroy()` was called: completions no longer step the core, failures are not retried.
    pub destroyed: bool,
    /// Bumped at every start of the core: seqs belong to one start.
    pub gen: u64,
    pub waiters: Vec<Waiter>,
    /// `options.cluster`, written into every body.
    pub cluster: Option<String>,
    /// Calls, failures and latencies (for `getStatus()` and `getMetrics()`).
    pub stats: PersistStats,
}

/// Upper bounds (ms) of the latency histograms' buckets (`+Inf` is implied).
pub const LATENCY_BUCKETS_MS: [f64; 14] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0,
];

/// A latency histogram in milliseconds: counts per bucket (not cumulative; the last one is
/// `+Inf`), the sum (fractional ms) and the count.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    pub buckets: [u64; LATENCY_BUCKETS_MS.len() + 1],
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    /// A whole-ms observation (the core's commit latency).
    pub fn observe(&mut self, ms: u64) {
        self.observe_ms(ms as f64);
    }

    /// A fractional-ms observation (a persist call, timed with `Instant`).
    pub fn observe_ms(&mut self, ms: f64) {
        let ms = if ms.is_finite() && ms > 0.0 { ms } else { 0.0 };
        let i = LATENCY_BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        if let Some(b) = self.buckets.get_mut(i) {
            *b += 1;
        }
        self.sum += ms;
        self.count += 1;
    }
}

/// What the persist queue measured.
#[derive(Clone, Debug, Default)]
pub struct PersistStats {
    /// Calls of `persistAgent.persist` that settled.
    pub calls: u64,
    pub failures: u64,
    /// The latency of the last settled call (fractional ms).
    pub last_ms: Option<f64>,
    pub latency: Histogram,
}

impl PersistQueue {
    /// A Persist output of the core: it covers every request before it.
    pub fn request(&mut self, seq: u64, state: HardState<Key>) {
        if self.destroyed {
            return;
        }
        let covered = match &self.pending {
            Some(p) if p.gen == self.gen && p.seq > seq => p.seq,
            _ => seq,
        };
        self.pending = Some(Req {
            seq: covered,
            gen: self.gen,
            state,
            last: false,
        });
    }

    /// `destroy()`: the final state, after the call in flight (never beside it), covering any
    /// request still pending; no backoff wait.
    pub fn request_last(&mut self, state: Option<HardState<Key>>) {
        self.destroyed = true;
        self.retry_at = None;
        self.pending = state.map(|state| Req {
            seq: 0,
            gen: u64::MAX,
            state,
            last: true,
        });
    }

    pub fn idle(&self) -> bool {
        self.in_flight.is_none() && (self.pending.is_none() || self.closed)
    }

    /// When the timer task must look at the queue: the end of a backoff, or the watchdog of a
    /// call in flight (reported once, after `report_after` ms).
    pub fn deadline(&self, report_after: u64) -> Option<u64> {
        let watchdog = self
            .in_flight
            .as_ref()
            .filter(|f| !f.reported && !self.destroyed)
            .map(|f| f.started.saturating_add(report_after));
        match (self.retry_at.filter(|_| self.pending.is_some()), watchdog) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The timer task's part (under the lock): the watchdog line, and whether a retry is due
    /// (the JS thread must be woken to make the call).
    pub fn on_tick(&mut self, now: u64, report_after: u64, notes: &mut Vec<String>) -> bool {
        if let Some(f) = self.in_flight.as_mut() {
            if !f.reported && !self.destroyed && now >= f.started.saturating_add(report_after) {
                f.reported = true;
                notes.push(format!(
                    "raft persist has not settled after {} ms (still waiting for it)",
                    now.saturating_sub(f.started)
                ));
            }
        }
        match self.retry_at {
            Some(t) if now >= t && self.pending.is_some() => {
                self.retry_at = None;
                true
            }
            _ => false,
        }
    }

    /// The backoff after the `failures`-th failure in a row.
    fn backoff(&self, heartbeat: u64, election_max: u64) -> u64 {
        let shift = self.failures.min(30);
        heartbeat
            .saturating_mul(1u64 << shift)
            .min(heartbeat.max(election_max))
    }
}

/// The body `persistAgent.persist` receives.
fn body<'env>(
    env: &'env Env,
    values: &Values<'env>,
    node: Option<&Unknown<'env>>,
    cluster: Option<&str>,
    state: &HardState<Key>,
) -> Result<Object<'env>> {
    let mut b = Object::new(env)?;
    b.set_named_property("term", state.term as f64)?;
    match &state.voted_for {
        Some(k) => b.set_named_property("votedFor", key_to_id(env, k)?)?,
        None => b.set_named_property("votedFor", napi::bindgen_prelude::Null)?,
    }
    b.set_named_property("data", values.get(state.latest)?)?;
    b.set_named_property("dataTerm", state.latest.term as f64)?;
    b.set_named_property("dataIndex", state.latest.index as f64)?;
    b.set_named_property("commitTerm", state.committed.term as f64)?;
    b.set_named_property("commitIndex", state.committed.index as f64)?;
    if state.committed != state.latest {
        b.set_named_property("committedData", values.get(state.committed)?)?;
    }
    // the configurations of those versions (raftq's files and older ones have none)
    if let Some(v) = &state.latest_voters {
        b.set_named_property(wire::MEMBERS, voters_array(env, v)?)?;
    }
    if state.committed != state.latest {
        if let Some(v) = &state.committed_voters {
            b.set_named_property("committedMembers", voters_array(env, v)?)?;
        }
    }
    // the node it belongs to, in its JS type: another node's body does not restore
    if let Some(node) = node {
        if node.get_type()? == ValueType::Object {
            // SAFETY: the type was checked
            let node: Object = unsafe { node.cast()? };
            let id: Unknown = node.get_named_property_unchecked("id")?;
            b.set_named_property("nodeId", id)?;
        }
    }
    // the cluster it belongs to, when options.cluster names one
    if let Some(c) = cluster {
        b.set_named_property("cluster", c)?;
    }
    Ok(b)
}

/// A configuration as a JS array of node ids, each in its JS type.
pub fn voters_array<'env>(
    env: &'env Env,
    v: &Voters<Key>,
) -> Result<napi::bindgen_prelude::Array<'env>> {
    let mut a = env.create_array(v.len() as u32)?;
    for (i, k) in v.iter().enumerate() {
        a.set(i as u32, key_to_id(env, k)?)?;
    }
    Ok(a)
}

/// A thrown or rejected value as a log line shows it.
fn describe(env: &Env, e: Option<Unknown>) -> String {
    let Some(e) = e else {
        return "unknown error".to_string();
    };
    let text = (|| -> Result<String> {
        if e.get_type()? == ValueType::Object {
            // SAFETY: the type was checked
            let o: Object = unsafe { e.cast()? };
            let m: Unknown = o.get_named_property_unchecked("message")?;
            if m.get_type()? == ValueType::String {
                // SAFETY: the type was checked
                return unsafe { m.cast::<String>() };
            }
        }
        let s = e.coerce_to_string()?;
        s.into_utf8()?.into_owned()
    })();
    let _ = env;
    text.unwrap_or_else(|_| "unknown error".to_string())
}

/// `Promise.prototype.then` with both reactions.
type Then<'env> =
    Function<'env, FnArgs<(Function<'env, (), ()>, Function<'env, (), ()>)>, Unknown<'env>>;

/// Start the next call if none is in flight, a request is pending, the backoff is over and the
/// queue is open. On the JS thread, without the lock held (the agent may call back into the
/// node).
pub fn kick(shared: &Arc<Shared>, env: &Env) -> Result<()> {
    let (now, state, persist, resolve, node, values, cluster) = {
        let mut inner = shared.lock();
        let q = &mut inner.persist;
        if q.in_flight.is_some() || q.closed || q.pending.is_none() {
            return Ok(());
        }
        // the clock only when there is something to start (the usual step has nothing)
        let now = shared.now_ms();
        if q.retry_at.is_some_and(|t| now < t) {
            return Ok(());
        }
        let Some(req) = q.pending.take() else {
            return Ok(());
        };
        q.retry_at = None;
        let state = req.state.clone();
        q.in_flight = Some(InFlight {
            req,
            started: now,
            began: std::time::Instant::now(),
            reported: false,
        });
        let cluster = q.cluster.clone();
        let js = &inner.js;
        let get = |r: &Option<UnknownRef>| -> Result<Option<Unknown>> {
            r.as_ref().map(|r| r.get_value(env)).transpose()
        };
        (
            now,
            state,
            get(&js.persist)?,
            get(&js.resolve)?,
            get(&js.node)?,
            js.values(env)?,
            cluster,
        )
    };
    // the watchdog: the timer task looks at least every `election_min / 2`, so it needs a
    // wake-up only if it armed itself later than that (a futex wake costs microseconds)
    shared.rearm_if_earlier(Some(now.saturating_add(shared.report_after())));
    let (Some(persist), Some(resolve)) = (persist, resolve) else {
        return finished(shared, env, Err("no persist agent".into()));
    };
    let b = body(env, &values, node.as_ref(), cluster.as_deref(), &state)?;
    let node_arg = match node {
        Some(n) => n,
        None => ().into_unknown(env)?,
    };
    // SAFETY: created from a function (`bind`)
    let resolve: Function<Unknown, Object> = unsafe { resolve.cast()? };
    let returned = match super::js::call_catching(env, &persist, None, &[node_arg, b.to_unknown()])
    {
        Ok(r) => r,
        Err(thrown) => {
            let reason = describe(env, Some(thrown));
            return finished(shared, env, Err(reason));
        }
    };
    let promise = resolve.call(returned)?;
    let (s1, s2) = (shared.clone(), shared.clone());
    let on_ok = env
        .create_function_from_closure("persisted", move |ctx: FunctionCallContext| {
            finished(&s1, ctx.env, Ok(()))
        })?;
    let on_err =
        env.create_function_from_closure("persistFailed", move |ctx: FunctionCallContext| {
            let e: Option<Unknown> = ctx.get(0).ok();
            let reason = describe(ctx.env, e);
            finished(&s2, ctx.env, Err(reason))
        })?;
    let then: Then = promise.get_named_property_unchecked("then")?;
    then.apply(promise, (on_ok, on_err).into())?;
    Ok(())
}

/// A call settled (on the JS thread): step the core, emit what it released (through
/// `index.js`'s drain callback, called directly), start the next call, answer `settle()`.
fn finished(
    shared: &Arc<Shared>,
    env: &Env,
    result: std::result::Result<(), String>,
) -> Result<()> {
    let now = shared.now_ms();
    let (drain, waiters, retry_at) = {
        let mut inner = shared.lock();
        let Inner {
            persist: q,
            node,
            notes,
            config,
            failed,
            js,
            ..
        } = &mut *inner;
        let Some(InFlight { req, began, .. }) = q.in_flight.take() else {
            return Ok(());
        };
        let took = began.elapsed().as_secs_f64() * 1000.0;
        q.stats.calls += 1;
        q.stats.last_ms = Some(took);
        q.stats.latency.observe_ms(took);
        if result.is_err() {
            q.stats.failures += 1;
        }
        match result {
            Ok(()) => {
                q.failures = 0;
                if req.seq > 0 && req.gen == q.gen && !q.destroyed && !*failed {
                    if let Some(node) = node.as_mut() {
                        node.persisted(req.seq, now);
                    }
                }
            }
            Err(reason) => {
                notes.push(format!("persist failed: {reason}"));
                if !(q.destroyed || req.last) {
                    // keep the failed state unless a newer request covers it; retry later
                    match q.pending.as_mut() {
                        None => q.pending = Some(req),
                        Some(next) if next.gen == req.gen && req.seq > next.seq => {
                            next.seq = req.seq;
                        }
                        Some(_) => {}
                    }
                    let wait = q.backoff(config.heartbeat, config.election_max);
                    q.failures = q.failures.saturating_add(1);
                    q.retry_at = Some(now.saturating_add(wait));
                }
            }
        }
        let waiters = if q.in_flight.is_none() && (q.pending.is_none() || q.closed) {
            std::mem::take(&mut q.waiters)
        } else {
            Vec::new()
        };
        let drain = js.drain.as_ref().map(|d| d.get_value(env)).transpose()?;
        (drain, waiters, q.retry_at)
    };
    // a backoff started: the timer task wakes for its end
    shared.rearm_if_earlier(retry_at);
    // the next call first (from here, not from JavaScript), then what the completion released
    kick(shared, env)?;
    if let Some(d) = drain {
        // SAFETY: created from a function
        let d: Function<(), Unknown> = unsafe { d.cast()? };
        d.call(())?;
    }
    resolve_waiters(waiters, None);
    // a call that settled without another starting may leave the queue idle now
    let idle = {
        let mut inner = shared.lock();
        if inner.persist.idle() {
            std::mem::take(&mut inner.persist.waiters)
        } else {
            Vec::new()
        }
    };
    resolve_waiters(idle, None);
    Ok(())
}

/// Resolve `settle()` Promises (each once): `None` when the queue went idle, `Some(bound)`
/// when the bound passed first.
pub fn resolve_waiters(waiters: Vec<Waiter>, result: Option<f64>) {
    for w in waiters {
        let taken = w
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(d) = taken {
            d.resolve(Box::new(move |_| Ok(result)));
        }
    }
}
