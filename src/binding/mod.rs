//! The addon: `Raftq` (see `raftq`), the public class, over an `Engine`: one core node behind
//! its lock, stepped on the JS thread, with its timer task, persist queue, data values,
//! authentication and the report of strangers. Engine methods return the records of what the
//! core produced; the class turns them into events.

mod auth;
mod convert;
mod errors;
mod js;
pub mod persist;
mod raftq;
mod restore;
mod strangers;

use crate::driver::{spawn_timers, Shared, Wake};
pub use convert::Key;
use convert::{version_key, Records, Values};
use napi::bindgen_prelude::{Function, JsObjectValue, Object, Unknown};
use napi::bindgen_prelude::{ObjectRef, ToNapiValue};
use napi::threadsafe_function::UnknownReturnValue;
use napi::{Env, Error, Result, Status};
use raftq_core::{wire, Channel, Config, Message, Node, StepOutcome, Version, NOT_A_MEMBER};
use raftq_core::{ConfirmError, Metrics, ProposeError, TransferError, Voters};
use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex};
use strangers::Strangers;
use tokio::task::JoinHandle;

/// A condition that repeats (messages from one non-member, unauthenticated messages) is reported
/// on `log` at most once per this many milliseconds.
pub const REPORT_INTERVAL_MS: u64 = 10_000;

fn type_error(msg: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, msg.into())
}

/// A timing option: a finite number > 0, in whole milliseconds (fractions round up).
fn millis(name: &str, v: f64) -> Result<u64> {
    if v.is_finite() && v > 0.0 && v <= wire::MAX_SAFE_INTEGER {
        Ok(v.ceil() as u64)
    } else {
        Err(type_error(format!("{name} must be a number > 0")))
    }
}

/// One Raft node's native machinery (see the module comment). Interior mutability throughout:
/// the app's callbacks (persist) may call back into the node while a method runs.
pub struct Engine {
    shared: Arc<Shared>,
    /// The data value of each version the core holds (see `convert::Values`); replaced at
    /// each start.
    values: RefCell<Option<ObjectRef<false>>>,
    task: RefCell<Option<JoinHandle<()>>>,
    stopped: Cell<bool>,
    /// Messages from non-members: counted and reported (touched on the JS thread only).
    strangers: Mutex<Strangers>,
    /// With a `secret`: tags outgoing bodies and drops incoming ones without a valid tag.
    auth: Option<auth::Auth>,
}

/// The restored state `start` begins from (see `restore::parse`).
pub struct Restored<'env> {
    pub state: raftq_core::HardState<Key>,
    pub data: Unknown<'env>,
    /// The committed version's value, when it differs from `data`'s version.
    pub committed_data: Option<Unknown<'env>>,
}

/// A message read from a body: the sender's key and the message, or why it was rejected.
/// An incoming message as read from its body: the sender, the message, and the configuration a
/// data-carrying `syncData` brings (`members`).
pub type Decoded = std::result::Result<(Key, Message, Option<Voters<Key>>), String>;

impl Engine {
    /// `secret` (the UTF-8 of a string secret, or its bytes) turns authentication on; `cluster`
    /// is signed into every tag (see `auth`) and written into every persisted body.
    pub fn new(
        env: &Env,
        config: Config,
        secret: Option<&[u8]>,
        cluster: Option<String>,
        persist_agent: Object,
    ) -> Result<Self> {
        if let Some(c) = cluster.as_deref() {
            auth::check_cluster(c).map_err(type_error)?;
        }
        let auth = match secret {
            Some(s) => Some(auth::Auth::new(s, cluster.as_deref()).map_err(type_error)?),
            None => None,
        };
        // before the first start: version zero holds raftq's initial `{}`
        let mut values = Object::new(env)?;
        let empty = ToNapiValue::into_unknown(Object::new(env)?, env)?;
        let empty = js::freeze(env, js::Builtins::get(env)?, empty)?;
        values.set_named_property(&version_key(Version::ZERO), empty)?;
        // `persistAgent.persist` bound to the agent, `Promise.resolve` to `Promise`
        let persist: Unknown = persist_agent.get_named_property_unchecked("persist")?;
        if persist.get_type()? != napi::ValueType::Function {
            return Err(type_error("persistAgent.persist must be a function"));
        }
        // SAFETY: the type was checked
        let persist: Function<Unknown, Unknown> = unsafe { persist.cast()? };
        let persist = persist.bind(persist_agent)?;
        let promise: Object = env.get_global()?.get_named_property_unchecked("Promise")?;
        let resolve: Function<Unknown, Unknown> =
            promise.get_named_property_unchecked("resolve")?;
        let resolve = resolve.bind(promise)?;
        let values_ref = values.create_ref()?;
        let shared = Shared::new(config);
        {
            let mut inner = shared.lock();
            inner.persist.cluster = cluster;
            inner.js.persist = Some(ToNapiValue::into_unknown(persist, env)?.create_ref()?);
            inner.js.resolve = Some(ToNapiValue::into_unknown(resolve, env)?.create_ref()?);
            inner.js.values = Some(ToNapiValue::into_unknown(values, env)?.create_ref()?);
        }
        Ok(Engine {
            shared,
            values: RefCell::new(Some(values_ref)),
            task: RefCell::new(None),
            stopped: Cell::new(false),
            strangers: Mutex::new(Strangers::default()),
            auth,
        })
    }

    pub fn authenticating(&self) -> bool {
        self.auth.is_some()
    }

    /// `ackNode` with a valid id's key: add (keep) or remove a member.
    pub fn ack_node<'env>(&self, env: &'env Env, key: Key, keep: bool) -> Result<Records<'env>> {
        let mut recs = Records::new(self.values(env)?);
        if self.stopped.get() {
            return Ok(recs);
        }
        let now = self.shared.now_ms();
        let mut inner = self.shared.lock();
        let failed = inner.failed;
        match inner.node.as_mut() {
            Some(node) if !failed => {
                if keep {
                    node.add_member(key, now);
                } else {
                    node.remove_member(&key, now);
                }
            }
            Some(_) => {}
            None => {
                if keep {
                    inner.pending_members.insert(key);
                } else {
                    inner.pending_members.remove(&key);
                }
            }
        }
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok(recs)
    }

    /// `serviceStarted`: (re)start the core as `key` from the restored state and begin the
    /// timers. `raft_node` is the `RaftNode` the persist agent receives; `wake` the JS function
    /// the timer task's wake-up and a completed persist call to emit what they produced.
    pub fn start<'env>(
        &self,
        env: &'env Env,
        key: Key,
        raft_node: Object,
        restored: Restored,
        wake: Unknown,
    ) -> Result<Records<'env>> {
        if self.stopped.get() {
            return Err(Error::new(Status::GenericFailure, "node destroyed"));
        }
        let hs = restored.state;
        // the restored values replace every version held before
        let mut store = Object::new(env)?;
        store.set_named_property(&version_key(hs.latest), restored.data)?;
        if hs.committed != hs.latest {
            let committed = match restored.committed_data {
                Some(v) => v,
                None => js::undefined(env)?,
            };
            store.set_named_property(&version_key(hs.committed), committed)?;
        }
        let replaced = self.values.borrow_mut().replace(store.create_ref()?);
        if let Some(old) = replaced {
            old.unref(env)?;
        }
        let store_ref = ToNapiValue::into_unknown(store, env)?.create_ref()?;
        let node_ref = ToNapiValue::into_unknown(raft_node, env)?.create_ref()?;
        let drain_ref = wake.create_ref()?;
        let mut recs = Records::new(self.values(env)?);

        let now = self.shared.now_ms();
        let mut inner = self.shared.lock();
        if inner.failed {
            drop(inner);
            for r in [store_ref, node_ref, drain_ref] {
                r.unref(env)?;
            }
            return Err(Error::new(
                Status::GenericFailure,
                "raft core failed earlier",
            ));
        }
        // persists of an earlier start no longer complete anything in the core
        inner.persist.gen += 1;
        let old = [
            inner.js.values.replace(store_ref),
            inner.js.node.replace(node_ref),
            inner.js.drain.replace(drain_ref),
        ];
        let same_id = inner.node.as_ref().is_some_and(|n| *n.id() == key);
        if !same_id {
            let seed = rand::random::<u64>();
            let mut node = Node::new(key, inner.config.clone(), seed);
            // the app's intents so far (its acks)
            let intents: Vec<(Key, bool)> = match inner.node.take() {
                Some(mut old) => {
                    // what the old node promised ends with it
                    old.end_outcomes();
                    let outs = old.take_outputs();
                    inner.stash.extend(outs);
                    old.intents().map(|(k, keep)| (k.clone(), keep)).collect()
                }
                None => std::mem::take(&mut inner.pending_members)
                    .into_iter()
                    .map(|k| (k, true))
                    .collect(),
            };
            for (m, keep) in intents {
                if keep {
                    node.add_member(m, now);
                } else {
                    node.remove_member(&m, now);
                }
            }
            // members added before the start produce no outputs worth sending
            node.take_outputs();
            inner.node = Some(node);
        }
        if let Some(node) = inner.node.as_mut() {
            node.start(hs, now);
        }
        if !inner.has_wake() {
            // the wake-up of the timer task: on the JS thread, persist requests go to the queue
            // and the next call starts (no JavaScript on the stack), then `wake` emits
            let shared = self.shared.clone();
            // SAFETY: created from a function by the caller
            let wake: Function<(), UnknownReturnValue> = unsafe { wake.cast()? };
            let tsfn: Wake = wake
                .build_threadsafe_function::<()>()
                .callee_handled::<false>()
                .weak::<false>()
                .build_callback(move |ctx| {
                    {
                        let mut inner = shared.lock();
                        let outs = inner.take_outputs();
                        inner.stash = outs;
                    }
                    persist::kick(&shared, &ctx.env)?;
                    Ok(())
                })?;
            inner.set_wake(tsfn);
        }
        if self.task.borrow().is_none() {
            *self.task.borrow_mut() = Some(spawn_timers(self.shared.clone()));
        }
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        for r in old.into_iter().flatten() {
            let r = r;
            r.unref(env)?;
        }
        self.shared.rearm();
        persist::kick(&self.shared, env)?;
        Ok(recs)
    }

    /// One of the four `...Received` events, read by the caller: `decoded` is the sender's key
    /// and the message (or why the body was rejected), `body` the object (for its `tag`),
    /// `digest` (with a secret) the SHA-256 of `JSON.stringify(body.data)` when it has data, and
    /// `data` the body's data value, read once. `None`: stepped, nothing to report.
    pub fn receive<'env>(
        &self,
        env: &'env Env,
        channel: Channel,
        decoded: Decoded,
        body: Option<&Object>,
        digest: Option<&[u8]>,
        data: Unknown,
    ) -> Result<Option<Records<'env>>> {
        let mut inner = self.shared.lock();
        if let Err(reason) = self.authenticate(&inner, channel, &decoded, body, digest) {
            let mut recs = Records::new(self.values(env)?);
            self.unauthenticated(&mut recs, &mut inner, channel, &reason)?;
            return Ok(Some(recs));
        }
        let (from, msg, voters) = match decoded {
            Ok(x) => x,
            Err(reason) => {
                let mut recs = Records::new(self.values(env)?);
                self.reject(&mut recs, &mut inner, channel, &reason)?;
                return Ok(Some(recs));
            }
        };
        let now = self.shared.now_ms();
        let outcome = self
            .steppable(&mut inner)
            .map(|node| node.step_with_voters(from.clone(), msg, voters, now));
        self.note_stranger(&mut inner, outcome.as_ref(), &from, channel, now);
        let accepted = outcome.and_then(|o| o.accepted);
        if accepted.is_none() && inner.notes.is_empty() && !self.has_outputs(&inner) {
            self.shared.rearm_if_earlier(inner.next_deadline());
            return Ok(None);
        }
        let mut recs = Records::new(self.values(env)?);
        if let Some(v) = accepted {
            recs.accepted(v, data)?;
        }
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        if accepted.is_some() {
            // what readers get cannot be edited locally (frozen in place: the records hold the
            // same object); outside the lock, a Proxy's traps may call back into the node
            js::freeze(env, js::Builtins::get(env)?, data)?;
        }
        persist::kick(&self.shared, env)?;
        Ok(Some(recs))
    }

    /// With a secret: the `tag` of an outgoing message to the node whose key is `to`.
    /// `digest`: the SHA-256 of `JSON.stringify(body.data)` when the body carries data.
    pub fn sign(
        &self,
        to: &str,
        msg: &Message,
        digest: Option<&[u8]>,
        members: Option<&[Key]>,
    ) -> Result<String> {
        let Some(auth) = &self.auth else {
            return Err(Error::from_reason("no secret: nothing to sign with"));
        };
        let from = {
            let inner = self.shared.lock();
            match inner.node.as_ref() {
                Some(node) => node.id().clone(),
                None => return Err(Error::from_reason("the node has not started")),
            }
        };
        auth.sign(msg.channel(), &from, to, msg, digest, members)
            .map_err(Error::from_reason)
    }

    /// `replicateData` on the leader: the new version, or why the node cannot propose.
    pub fn propose<'env>(
        &self,
        env: &'env Env,
        value: Unknown,
        timeout_ms: u64,
    ) -> Result<(std::result::Result<Version, ProposeError>, Records<'env>)> {
        let mut recs = Records::new(self.values(env)?);
        let now = self.shared.now_ms();
        let mut inner = self.shared.lock();
        let outcome = match self.steppable(&mut inner) {
            Some(node) => node.propose_with_timeout(now, timeout_ms),
            None => Err(ProposeError::NotStarted),
        };
        let result = match outcome {
            Ok(v) => {
                recs.values.set(v, value)?;
                Ok(v)
            }
            Err(e) => Err(e),
        };
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok((result, recs))
    }

    /// `confirmLeadership()`: the request's id (its `Confirmed` record follows), or why not.
    pub fn confirm<'env>(
        &self,
        env: &'env Env,
    ) -> Result<(std::result::Result<u64, ConfirmError>, Records<'env>)> {
        let mut recs = Records::new(self.values(env)?);
        let now = self.shared.now_ms();
        let mut inner = self.shared.lock();
        let outcome = match self.steppable(&mut inner) {
            Some(node) => node.confirm_leadership(now),
            None => Err(ConfirmError::NotStarted),
        };
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok((outcome, recs))
    }

    /// `read()`: the request's id (its `Read` record follows), or why not.
    pub fn read<'env>(
        &self,
        env: &'env Env,
        lease: bool,
    ) -> Result<(std::result::Result<u64, ConfirmError>, Records<'env>)> {
        let mut recs = Records::new(self.values(env)?);
        let now = self.shared.now_ms();
        let mut inner = self.shared.lock();
        let outcome = match self.steppable(&mut inner) {
            Some(node) => node.read_index(now, lease),
            None => Err(ConfirmError::NotStarted),
        };
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok((outcome, recs))
    }

    /// `maximumElectionTime` (ms).
    pub fn election_max(&self) -> u64 {
        self.shared.lock().config.election_max
    }

    /// The current term (0 before the first start).
    pub fn term(&self) -> u64 {
        self.shared.lock().node.as_ref().map_or(0, |n| n.term())
    }

    /// The known leader's key (the core's view), for errors.
    pub fn leader_key(&self) -> Option<Key> {
        let inner = self.shared.lock();
        inner.node.as_ref().and_then(|n| n.leader().cloned())
    }

    /// The counters for `getMetrics()`: the core's, the persist queue's, and a status.
    pub fn metrics(&self) -> EngineMetrics {
        let now = self.shared.now_ms();
        let inner = self.shared.lock();
        EngineMetrics {
            core: inner
                .node
                .as_ref()
                .map(|n| n.metrics().clone())
                .unwrap_or_default(),
            status: inner.node.as_ref().map(|n| n.status_at(now)),
            persist: inner.persist.stats.clone(),
            persist_in_flight: u32::from(inner.persist.in_flight.is_some()),
            persist_pending: u32::from(inner.persist.pending.is_some()),
            rejected: inner.rejected,
            strangers: self.strangers().count,
            unauthenticated: self.auth.as_ref().map_or(0, |a| a.total()),
        }
    }

    /// `serviceCrashed`.
    pub fn crashed<'env>(&self, env: &'env Env) -> Result<Records<'env>> {
        let mut recs = Records::new(self.values(env)?);
        let now = self.shared.now_ms();
        let mut inner = self.shared.lock();
        if let Some(node) = self.steppable(&mut inner) {
            node.crashed(now);
        }
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok(recs)
    }

    /// `transferLeadership(id?)` (`to`: the target's key): the target's key, or why not.
    pub fn transfer<'env>(
        &self,
        env: &'env Env,
        to: Option<Key>,
    ) -> Result<(std::result::Result<Key, &'static str>, Records<'env>)> {
        let mut recs = Records::new(self.values(env)?);
        let now = self.shared.now_ms();
        let mut inner = self.shared.lock();
        let outcome = match self.steppable(&mut inner) {
            Some(node) => node.transfer_leadership(to, now),
            None => Err(TransferError::NotStarted),
        };
        let result = outcome.map_err(transfer_refusal);
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok((result, recs))
    }

    /// The outputs the timer task produced (called by the wake-up).
    pub fn drain<'env>(&self, env: &'env Env) -> Result<Records<'env>> {
        let mut recs = Records::new(self.values(env)?);
        let mut inner = self.shared.lock();
        inner.drained();
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok(recs)
    }

    /// A restart (`serviceStarted` again) begins: stop the core until the next `start`, so no
    /// message is stepped and no timer fires while the app's `restore()` runs (a message
    /// stepped then would be answered from a state the start is about to replace). Returns the
    /// outputs produced before (persist requests among them).
    pub fn suspend<'env>(&self, env: &'env Env) -> Result<Records<'env>> {
        let mut recs = Records::new(self.values(env)?);
        let mut inner = self.shared.lock();
        let failed = inner.failed;
        if let Some(node) = inner.node.as_mut() {
            if !failed {
                let pending = node.take_outputs();
                node.stop();
                inner.stash.extend(pending);
            }
        }
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok(recs)
    }

    /// What `getData()` shows: the value of the visible version (`{}` if none).
    pub fn data<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let visible = {
            let inner = self.shared.lock();
            inner.node.as_ref().map_or(Version::ZERO, |n| n.visible())
        };
        let value = self.values(env)?.get(visible)?;
        if value.get_type()? == napi::ValueType::Undefined {
            return napi::bindgen_prelude::ToNapiValue::into_unknown(Object::new(env)?, env);
        }
        Ok(value)
    }

    /// A snapshot of the core for `getStatus()` (ids as keys).
    pub fn status(&self, env: &Env) -> Result<EngineStatus> {
        let values = self
            .values(env)?
            .obj
            .get_property_names()?
            .get_array_length()?;
        let now = self.shared.now_ms();
        let inner = self.shared.lock();
        let core = inner.node.as_ref().map(|n| n.status_at(now));
        let members = match &core {
            Some(s) => s.members.clone(),
            None => inner.pending_members.iter().cloned().collect(),
        };
        Ok(EngineStatus {
            core,
            members,
            rejected: inner.rejected,
            strangers: self.strangers().count,
            unauthenticated: self.auth.as_ref().map_or(0, |a| a.total()),
            values,
            persist: inner.persist.stats.clone(),
            persist_in_flight: u32::from(inner.persist.in_flight.is_some()),
            persist_pending: u32::from(inner.persist.pending.is_some()),
        })
    }

    /// `destroy()`: queue the final write (`last`: of the current state, when the node ran),
    /// stop the core, abort the timer task and release the wake-up callback, so nothing native
    /// keeps the process alive. Idempotent.
    pub fn stop(&self, env: &Env, last: bool) -> Result<()> {
        if self.stopped.get() {
            return Ok(());
        }
        self.stopped.set(true);
        if let Some(task) = self.task.borrow_mut().take() {
            task.abort();
        }
        let released = {
            let mut inner = self.shared.lock();
            let state = inner.node.as_ref().filter(|_| last).map(|n| n.hard_state());
            inner.persist.request_last(state);
            if let Some(node) = inner.node.as_mut() {
                node.stop();
                node.take_outputs();
            }
            inner.stash.clear();
            inner.notes.clear();
            inner.release_wake()
        };
        // released here, on the JS thread, outside the lock
        drop(released);
        persist::kick(&self.shared, env)
    }

    /// Resolves when no persist is in flight or pending (`null`), or after the bound
    /// (`max(1000, maximumElectionTime)` ms) with the bound: what a restart and `destroy()`
    /// wait for.
    pub fn settle<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred()?;
        let waiter: persist::Waiter = Arc::new(Mutex::new(Some(deferred)));
        let (idle, bound) = {
            let mut inner = self.shared.lock();
            let bound = inner.config.election_max.max(1000);
            let idle = inner.persist.idle();
            if !idle {
                inner.persist.waiters.push(waiter.clone());
            }
            (idle, bound)
        };
        if idle {
            persist::resolve_waiters(vec![waiter], None);
        } else {
            napi::bindgen_prelude::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(bound)).await;
                persist::resolve_waiters(vec![waiter], Some(bound as f64));
            });
        }
        Ok(promise)
    }

    /// `destroy()` gave up waiting for a persist: nothing more is written.
    pub fn close_persist(&self) {
        let mut inner = self.shared.lock();
        inner.persist.closed = true;
        inner.persist.pending = None;
    }

    /// The end of `destroy()`: release the references to the agent, the node and the wake-up
    /// function (the values stay readable through `data()`).
    pub fn release(&self, env: &Env) -> Result<()> {
        let mut js = std::mem::take(&mut self.shared.lock().js);
        let values = js.values.take();
        js.release(env, true)?;
        self.shared.lock().js.values = values;
        Ok(())
    }

    /// Release every JS reference (the class is being garbage-collected).
    pub fn finalize(&self, env: &Env) -> Result<()> {
        if let Some(values) = self.values.borrow_mut().take() {
            values.unref(env)?;
        }
        let mut js = std::mem::take(&mut self.shared.lock().js);
        js.release(env, false)
    }

    /// The values store.
    fn values<'env>(&self, env: &'env Env) -> Result<Values<'env>> {
        match &*self.values.borrow() {
            Some(r) => Ok(Values {
                obj: r.get_value(env)?,
            }),
            None => Err(Error::from_reason("the values store is gone")),
        }
    }

    /// Count and report a rejected message (nothing in the core changes).
    fn reject(
        &self,
        recs: &mut Records,
        inner: &mut crate::driver::Inner,
        channel: Channel,
        reason: &str,
    ) -> Result<()> {
        inner.rejected += 1;
        recs.log(format!(
            "raft rejected {}: {reason}",
            channel.incoming_event()
        ));
        self.finish(recs, inner)
    }

    /// Count (and report, bounded) a message the core ignored because its sender is not a
    /// member.
    fn note_stranger(
        &self,
        inner: &mut crate::driver::Inner,
        outcome: Option<&StepOutcome>,
        from: &str,
        channel: Channel,
        now: u64,
    ) {
        if outcome.is_some_and(|o| o.ignored == Some(NOT_A_MEMBER)) {
            if let Some(line) = self.strangers().note(from, channel.incoming_event(), now) {
                inner.notes.push(line);
            }
        }
    }

    fn strangers(&self) -> std::sync::MutexGuard<'_, Strangers> {
        self.strangers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// With a secret: check an incoming message's tag before the core sees it (`Ok` without a
    /// secret). The destination is this node itself, whatever the body's `destination` says.
    fn authenticate(
        &self,
        inner: &crate::driver::Inner,
        channel: Channel,
        decoded: &Decoded,
        body: Option<&Object>,
        digest: Option<&[u8]>,
    ) -> std::result::Result<(), String> {
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        let (from, msg, voters) = decoded
            .as_ref()
            .map_err(|reason| format!("malformed: {reason}"))?;
        let to = inner
            .node
            .as_ref()
            .map(|n| n.id())
            .ok_or("the node has not started")?;
        let tag = auth::read_tag(body.ok_or("no tag")?)?;
        let members = voters.as_ref().map(|v| v.as_slice());
        auth.verify(channel, from, to, msg, &tag, (digest, members))
    }

    /// Count a message dropped by `authenticate`, and report it when no report was made in the
    /// last `REPORT_INTERVAL_MS` (nothing in the core changes).
    fn unauthenticated(
        &self,
        recs: &mut Records,
        inner: &mut crate::driver::Inner,
        channel: Channel,
        reason: &str,
    ) -> Result<()> {
        if let Some(auth) = &self.auth {
            let now = self.shared.now_ms();
            if let Some(line) = auth.dropped(now, channel.incoming_event(), reason) {
                recs.log(line);
            }
        }
        self.finish(recs, inner)
    }

    /// Whether `finish` would append any record from the core.
    fn has_outputs(&self, inner: &crate::driver::Inner) -> bool {
        inner.node.as_ref().is_some_and(|n| n.has_outputs())
    }

    /// The core, unless `destroy()` stopped the node or the core panicked (never stepped again).
    fn steppable<'a>(&self, inner: &'a mut crate::driver::Inner) -> Option<&'a mut Node<Key>> {
        if inner.failed || self.stopped.get() {
            None
        } else {
            inner.node.as_mut()
        }
    }

    /// Append the pending outputs (and out-of-core notes) and re-arm the timer task when the
    /// next deadline is earlier than the time it will look again.
    fn finish(&self, recs: &mut Records, inner: &mut crate::driver::Inner) -> Result<()> {
        for line in std::mem::take(&mut inner.notes) {
            recs.log(line);
        }
        let outs = inner.take_outputs();
        if self.stopped.get() {
            return Ok(());
        }
        recs.term = inner.node.as_ref().map_or(0, |n| n.term());
        recs.outputs(outs)?;
        self.shared.rearm_if_earlier(inner.next_deadline());
        Ok(())
    }
}

/// What `Engine::status` reads (ids as keys).
pub struct EngineStatus {
    /// `None` before the first start.
    pub core: Option<raftq_core::Status<Key>>,
    pub members: Vec<Key>,
    pub rejected: u64,
    pub strangers: u64,
    pub unauthenticated: u64,
    pub values: u32,
    pub persist: persist::PersistStats,
    pub persist_in_flight: u32,
    pub persist_pending: u32,
}

/// What `Engine::metrics` reads.
pub struct EngineMetrics {
    pub core: Metrics,
    pub status: Option<raftq_core::Status<Key>>,
    pub persist: persist::PersistStats,
    pub persist_in_flight: u32,
    pub persist_pending: u32,
    pub rejected: u64,
    pub strangers: u64,
    pub unauthenticated: u64,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // garbage-collected without destroy(): leave no task behind
        if let Some(task) = self.task.get_mut().take() {
            task.abort();
        }
        let released = self.shared.lock().release_wake();
        drop(released);
    }
}

/// Why `replicateData` was refused, for the `log` line.
pub fn propose_refusal(e: ProposeError) -> &'static str {
    match e {
        ProposeError::NotStarted => "the node is not started",
        ProposeError::NotLeader => "not the leader",
        ProposeError::Transferring => "a leadership transfer is in progress",
        ProposeError::Exhausted => "the index space is exhausted",
    }
}

/// Why a transfer was refused, for the `log` line.
fn transfer_refusal(e: TransferError) -> &'static str {
    match e {
        TransferError::NotStarted => "the node is not started",
        TransferError::NotLeader => "not the leader",
        TransferError::NoCandidate => "no other member to hand over to",
        TransferError::UnknownMember => "the target is not a member",
    }
}
