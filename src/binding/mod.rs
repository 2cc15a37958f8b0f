//! The native half of `Raftq`: `NativeNode`, a thin napi class around one core node. It converts
//! JS values, steps the core on the JS thread and hands the outputs back as compact records; the
//! JS half (`index.js`) keeps the event bus, the members' objects and the data values.

mod auth;
mod convert;
pub mod persist;
mod protocol;
mod strangers;

use crate::driver::{spawn_timers, Shared, Wake};
use convert::{id_key, sender_key, version_key, JsFields, Records, Values};
use napi::bindgen_prelude::{Array, Function, JsObjectValue, Null, Object, Unknown};
use napi::bindgen_prelude::{ObjectFinalize, ObjectRef, ToNapiValue};
use napi::threadsafe_function::UnknownReturnValue;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use raftq_core::{
    wire, Channel, Config, HardState, Message, Node, StepOutcome, Version, NOT_A_MEMBER,
};
use raftq_core::{ProposeError, TransferError};
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

/// A persisted counter: a non-negative safe integer.
fn counter(obj: &Object, name: &str) -> Result<u64> {
    let v: Option<f64> = obj.get(name).ok().flatten();
    match v {
        Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= wire::MAX_SAFE_INTEGER => {
            Ok(n as u64)
        }
        _ => Err(type_error(format!(
            "persisted `{name}` must be a non-negative integer"
        ))),
    }
}

/// One Raft node, native side. Every method that steps the core returns an array: a fixed header
/// (the method's own result) followed by one record per output (see `convert::REC_*`).
#[napi(custom_finalize)]
pub struct NativeNode {
    shared: Arc<Shared>,
    /// The data value of each version the core holds (see `convert::Values`); replaced at
    /// each start, released when the object is finalized.
    values: RefCell<Option<ObjectRef<false>>>,
    /// Interior mutability: napi-rs refuses a `&mut self` method while another borrow is active,
    /// and the app's callbacks (persist, listeners) may call back into the node.
    task: RefCell<Option<JoinHandle<()>>>,
    stopped: Cell<bool>,
    /// Messages from non-members: counted and reported (touched on the JS thread only).
    strangers: Mutex<Strangers>,
    /// With a `secret`: tags outgoing bodies and drops incoming ones without a valid tag.
    auth: Option<auth::Auth>,
}

#[napi]
impl NativeNode {
    /// `secret` (the UTF-8 of a string secret, or its bytes) turns authentication on; `cluster`
    /// is signed into every tag (see `auth`).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: &Env,
        heartbeat: f64,
        minimum_election_time: f64,
        maximum_election_time: f64,
        secret: Option<&[u8]>,
        cluster: Option<String>,
        persist_agent: Object,
    ) -> Result<Self> {
        let config = Config::new(
            millis("heartbeat", heartbeat)?,
            millis("minimumElectionTime", minimum_election_time)?,
            millis("maximumElectionTime", maximum_election_time)?,
        )
        .map_err(|e| type_error(e.to_string()))?;
        if let Some(c) = cluster.as_deref() {
            auth::check_cluster(c).map_err(type_error)?;
        }
        let auth = match secret {
            Some(s) => Some(auth::Auth::new(s, cluster.as_deref()).map_err(type_error)?),
            None => None,
        };
        // before the first start: version zero holds raftq's initial `{}`
        let mut values = Object::new(env)?;
        values.set_named_property(&version_key(Version::ZERO), Object::new(env)?)?;
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
            inner.persist.cluster = cluster.clone();
            inner.js.persist = Some(ToNapiValue::into_unknown(persist, env)?.create_ref()?);
            inner.js.resolve = Some(ToNapiValue::into_unknown(resolve, env)?.create_ref()?);
            inner.js.values = Some(ToNapiValue::into_unknown(values, env)?.create_ref()?);
        }
        Ok(NativeNode {
            shared,
            values: RefCell::new(Some(values_ref)),
            task: RefCell::new(None),
            stopped: Cell::new(false),
            strangers: Mutex::new(Strangers::default()),
            auth,
        })
    }

    /// The key of a node id (`n:<number>` / `s:<string>`), or `null` for an invalid id.
    #[napi(catch_unwind)]
    pub fn key(&self, id: Unknown) -> Result<Option<String>> {
        Ok(id_key(&id)?.ok())
    }

    /// Why a node id is invalid (completing "`id` ..."), or `null` when it is valid.
    #[napi(catch_unwind)]
    pub fn id_problem(&self, id: Unknown) -> Result<Option<String>> {
        Ok(id_key(&id)?.err())
    }

    /// `ackNode`: add (keep) or remove a member. `{ key, reason, records }`: the id's key, or
    /// null and the reason (completing "`id` ...") when the id is invalid.
    #[napi(
        catch_unwind,
        ts_return_type = "{ key: string | null, reason: string | null, records: Array<unknown> }"
    )]
    pub fn ack_node<'env>(&self, env: &'env Env, id: Unknown, keep: bool) -> Result<Object<'env>> {
        let mut recs = Records::new(env, self.values(env)?)?;
        let mut result = Object::new(env)?;
        let key = match id_key(&id)? {
            Ok(key) => key,
            Err(reason) => {
                result.set_named_property("key", Null)?;
                result.set_named_property("reason", reason)?;
                return recs.with(result);
            }
        };
        result.set_named_property("key", key.as_str())?;
        result.set_named_property("reason", Null)?;
        if self.stopped.get() {
            return recs.with(result);
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
        recs.with(result)
    }

    /// `serviceStarted`: (re)start the core from the restored state (`{term, votedFor, dataTerm,
    /// dataIndex, commitTerm, commitIndex}`, already shape-checked by JS) and begin the timers.
    /// `{ self, latest, committed, records }`: this node's key and the restored versions' keys.
    #[napi(
        catch_unwind,
        ts_return_type = "{ self: string, latest: string, committed: string, records: Array<unknown> }"
    )]
    pub fn start<'env>(
        &self,
        env: &'env Env,
        raft_node: Object,
        restored: Object,
        #[napi(ts_arg_type = "() => unknown")] wake: Unknown,
    ) -> Result<Object<'env>> {
        if wake.get_type()? != napi::ValueType::Function {
            return Err(type_error("wake must be a function"));
        }
        if self.stopped.get() {
            return Err(Error::new(Status::GenericFailure, "node destroyed"));
        }
        let id: Unknown = raft_node.get_named_property_unchecked("id")?;
        let key = id_key(&id)?.map_err(|reason| type_error(format!("node.id {reason}")))?;
        let voted: Unknown = restored.get_named_property_unchecked("votedFor")?;
        let voted_for = match voted.get_type()? {
            napi::ValueType::Undefined | napi::ValueType::Null => None,
            _ => Some(
                id_key(&voted)?
                    .map_err(|reason| type_error(format!("persisted `votedFor` {reason}")))?,
            ),
        };
        let hs = HardState {
            term: counter(&restored, "term")?,
            voted_for: voted_for.clone(),
            latest: Version::new(
                counter(&restored, "dataTerm")?,
                counter(&restored, "dataIndex")?,
            ),
            committed: Version::new(
                counter(&restored, "commitTerm")?,
                counter(&restored, "commitIndex")?,
            ),
        };
        if hs.committed > hs.latest {
            return Err(type_error(
                "persisted commit version is ahead of the data version",
            ));
        }
        // the restored values replace every version held before
        let mut store = Object::new(env)?;
        let data: Unknown = restored.get_named_property_unchecked("data")?;
        store.set_named_property(&version_key(hs.latest), data)?;
        if hs.committed != hs.latest {
            let committed: Unknown = restored.get_named_property_unchecked("committedData")?;
            store.set_named_property(&version_key(hs.committed), committed)?;
        }
        let replaced = self.values.borrow_mut().replace(store.create_ref()?);
        if let Some(old) = replaced {
            old.unref(env)?;
        }
        let store_ref = ToNapiValue::into_unknown(store, env)?.create_ref()?;
        let node_ref = ToNapiValue::into_unknown(raft_node, env)?.create_ref()?;
        let drain_ref = wake.create_ref()?;
        let mut recs = Records::new(env, self.values(env)?)?;
        let mut result = Object::new(env)?;
        result.set_named_property("self", key.as_str())?;
        result.set_named_property("latest", version_key(hs.latest))?;
        result.set_named_property("committed", version_key(hs.committed))?;

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
            let members: Vec<String> = match inner.node.take() {
                Some(mut old) => {
                    // what the old node promised ends with it
                    old.end_outcomes();
                    let outs = old.take_outputs();
                    inner.stash.extend(outs);
                    old.members().cloned().collect()
                }
                None => std::mem::take(&mut inner.pending_members)
                    .into_iter()
                    .collect(),
            };
            for m in members {
                node.add_member(m, now);
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
            // and the next call starts (no JavaScript on the stack), then `index.js` drains
            let shared = self.shared.clone();
            // SAFETY: the type was checked
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
            r.unref(env)?;
        }
        self.shared.rearm();
        persist::kick(&self.shared, env)?;
        recs.with(result)
    }

    /// One of the four `...Received` events (`channel`: 0 voteRequest, 1 voteResponse,
    /// 2 syncData, 3 dataResponse). Returns the records (an `Accepted` one first when the
    /// message's data value was accepted; a rejection is reported by a log record).
    /// `digest`: with a secret, the SHA-256 of `JSON.stringify(body.data)` when it has data.
    #[napi(catch_unwind)]
    pub fn receive<'env>(
        &self,
        env: &'env Env,
        channel: u32,
        body: Unknown,
        digest: Option<&[u8]>,
        data: Unknown,
    ) -> Result<Array<'env>> {
        let mut recs = Records::new(env, self.values(env)?)?;
        let Some(channel) = Channel::ALL.get(channel as usize).copied() else {
            return Err(type_error("unknown channel"));
        };
        let decoded = match body.get_type()? {
            napi::ValueType::Object => {
                // SAFETY: the type was checked
                let body: Object = unsafe { body.cast()? };
                match sender_key(&body, channel.sender_field())? {
                    Err(reason) => Err(reason),
                    Ok(from) => match wire::decode(channel, &JsFields { obj: &body }) {
                        Ok(msg) => Ok((from, msg)),
                        Err(e) => Err(e.to_string()),
                    },
                }
            }
            t => Err(format!(
                "the message must be an object, got {}",
                convert::type_name(t)
            )),
        };
        let object = match body.get_type()? {
            // SAFETY: the type was checked
            napi::ValueType::Object => Some(unsafe { body.cast::<Object>()? }),
            _ => None,
        };
        let mut inner = self.shared.lock();
        if let Err(reason) = self.authenticate(&inner, channel, &decoded, object.as_ref(), digest) {
            self.unauthenticated(&mut recs, &mut inner, channel, &reason)?;
            return Ok(recs.arr);
        }
        let (from, msg) = match decoded {
            Ok(x) => x,
            Err(reason) => {
                self.reject(&mut recs, &mut inner, channel, &reason)?;
                return Ok(recs.arr);
            }
        };
        let now = self.shared.now_ms();
        let outcome = self
            .steppable(&mut inner)
            .map(|node| node.step(from.clone(), msg, now));
        self.note_stranger(&mut inner, outcome.as_ref(), &from, channel, now);
        if let Some(v) = outcome.and_then(|o| o.accepted) {
            recs.accepted(v, data)?;
        }
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok(recs.arr)
    }

    /// The fast path of `receive`, for a body that is an object whose sender field holds an
    /// object: `index.js` has read the sender's key (`key(node.id)`, null when invalid) and
    /// classified the fields into `slots` (see `convert::SLOT_NAMES`); `wire::decode` still
    /// decides. Returns `null` when the message was stepped with nothing to report, else the
    /// records, as `receive` does. `digest`: as for `receive`.
    #[napi(catch_unwind)]
    #[allow(clippy::too_many_arguments)]
    pub fn receive_fields<'env>(
        &self,
        env: &'env Env,
        channel: u32,
        body: Object,
        key: Option<String>,
        slots: &[f64],
        digest: Option<&[u8]>,
        data: Unknown,
    ) -> Result<Option<Array<'env>>> {
        let Some(channel) = Channel::ALL.get(channel as usize).copied() else {
            return Err(type_error("unknown channel"));
        };
        if slots.len() < convert::SLOTS_LEN {
            return Err(type_error("field buffer too short"));
        }
        let decoded = match key {
            // the exact reason, read again from the body (only on this error path)
            None => Err(match sender_key(&body, channel.sender_field())? {
                Err(reason) => reason,
                Ok(_) => format!("field `{}.id` is not a valid id", channel.sender_field()),
            }),
            Some(from) => {
                let fields = convert::SlotFields {
                    slots,
                    filled: convert::channel_slots(channel),
                    obj: &body,
                };
                match wire::decode(channel, &fields) {
                    Ok(msg) => Ok((from, msg)),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        let mut inner = self.shared.lock();
        if let Err(reason) = self.authenticate(&inner, channel, &decoded, Some(&body), digest) {
            let mut recs = Records::new(env, self.values(env)?)?;
            self.unauthenticated(&mut recs, &mut inner, channel, &reason)?;
            return Ok(Some(recs.arr));
        }
        let (from, msg) = match decoded {
            Ok(x) => x,
            Err(reason) => {
                let mut recs = Records::new(env, self.values(env)?)?;
                self.reject(&mut recs, &mut inner, channel, &reason)?;
                return Ok(Some(recs.arr));
            }
        };
        let now = self.shared.now_ms();
        let outcome = self
            .steppable(&mut inner)
            .map(|node| node.step(from.clone(), msg, now));
        self.note_stranger(&mut inner, outcome.as_ref(), &from, channel, now);
        let accepted = outcome.and_then(|o| o.accepted);
        if accepted.is_none() && inner.notes.is_empty() && !self.has_outputs(&inner) {
            self.shared.rearm_if_earlier(inner.next_deadline());
            return Ok(None);
        }
        let mut recs = Records::new(env, self.values(env)?)?;
        if let Some(v) = accepted {
            recs.accepted(v, data)?;
        }
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok(Some(recs.arr))
    }

    /// With a secret: the `tag` of an outgoing body `index.js` built from a send record, to the
    /// node whose key is `to`. The body is read back as the receiver will read it (`slots` filled
    /// as for `receive_fields`, then `wire::decode`), so the tag covers what was really sent.
    /// `digest`: the SHA-256 of `JSON.stringify(body.data)` when the body carries data.
    #[napi(catch_unwind)]
    pub fn sign(
        &self,
        channel: u32,
        to: String,
        body: Object,
        slots: &[f64],
        digest: Option<&[u8]>,
    ) -> Result<String> {
        let Some(auth) = &self.auth else {
            return Err(Error::from_reason("no secret: nothing to sign with"));
        };
        let Some(channel) = Channel::ALL.get(channel as usize).copied() else {
            return Err(type_error("unknown channel"));
        };
        if slots.len() < convert::SLOTS_LEN {
            return Err(type_error("field buffer too short"));
        }
        let fields = convert::SlotFields {
            slots,
            filled: convert::channel_slots(channel),
            obj: &body,
        };
        let msg = wire::decode(channel, &fields).map_err(|e| {
            Error::from_reason(format!("outgoing {} body: {e}", channel.outgoing_event()))
        })?;
        let from = {
            let inner = self.shared.lock();
            match inner.node.as_ref() {
                Some(node) => node.id().clone(),
                None => return Err(Error::from_reason("the node has not started")),
            }
        };
        auth.sign(channel, &from, &to, &msg, digest)
            .map_err(Error::from_reason)
    }

    /// `replicateData` on the leader. `{ version, reason, records }`: the new version's key, or
    /// null and why the node cannot propose.
    #[napi(
        catch_unwind,
        ts_return_type = "{ version: string | null, reason: string | null, records: Array<unknown> }"
    )]
    pub fn propose<'env>(&self, env: &'env Env, value: Unknown) -> Result<Object<'env>> {
        let mut recs = Records::new(env, self.values(env)?)?;
        let mut result = Object::new(env)?;
        let now = self.shared.now_ms();
        let mut inner = self.shared.lock();
        let outcome = match self.steppable(&mut inner) {
            Some(node) => node.propose(now),
            None => Err(ProposeError::NotStarted),
        };
        match outcome {
            Ok(v) => {
                recs.values.set(v, value)?;
                result.set_named_property("version", version_key(v))?;
                result.set_named_property("reason", Null)?;
            }
            Err(e) => {
                result.set_named_property("version", Null)?;
                result.set_named_property("reason", propose_refusal(e))?;
            }
        }
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        recs.with(result)
    }

    /// `serviceCrashed`.
    #[napi(catch_unwind)]
    pub fn crashed<'env>(&self, env: &'env Env) -> Result<Array<'env>> {
        let mut recs = Records::new(env, self.values(env)?)?;
        let now = self.shared.now_ms();
        let mut inner = self.shared.lock();
        if let Some(node) = self.steppable(&mut inner) {
            node.crashed(now);
        }
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok(recs.arr)
    }

    /// Leadership transfer (to `id`, or to the most up-to-date follower when `id` is
    /// `undefined`/`null`). `{ target, reason, records }`: the target's key, or null and why.
    #[napi(
        catch_unwind,
        ts_return_type = "{ target: string | null, reason: string | null, records: Array<unknown> }"
    )]
    pub fn transfer<'env>(&self, env: &'env Env, id: Unknown) -> Result<Object<'env>> {
        let mut recs = Records::new(env, self.values(env)?)?;
        let mut result = Object::new(env)?;
        let to = match id.get_type()? {
            napi::ValueType::Undefined | napi::ValueType::Null => None,
            _ => match id_key(&id)? {
                Ok(k) => Some(k),
                Err(reason) => {
                    result.set_named_property("target", Null)?;
                    result.set_named_property("reason", format!("`id` {reason}"))?;
                    return recs.with(result);
                }
            },
        };
        let now = self.shared.now_ms();
        let mut inner = self.shared.lock();
        let outcome = match self.steppable(&mut inner) {
            Some(node) => node.transfer_leadership(to, now),
            None => Err(TransferError::NotStarted),
        };
        match outcome {
            Ok(k) => {
                result.set_named_property("target", k)?;
                result.set_named_property("reason", Null)?;
            }
            Err(e) => {
                result.set_named_property("target", Null)?;
                result.set_named_property("reason", transfer_refusal(e))?;
            }
        }
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        recs.with(result)
    }

    /// The outputs the timer task produced (called by the wake-up callback).
    #[napi(catch_unwind)]
    pub fn drain<'env>(&self, env: &'env Env) -> Result<Array<'env>> {
        let mut recs = Records::new(env, self.values(env)?)?;
        let mut inner = self.shared.lock();
        inner.drained();
        self.finish(&mut recs, &mut inner)?;
        drop(inner);
        persist::kick(&self.shared, env)?;
        Ok(recs.arr)
    }

    /// A restart (`serviceStarted` again) begins: stop the core until the next `start`, so no
    /// message is stepped and no timer fires while the app's `restore()` runs (a message
    /// stepped then would be answered from a state the start is about to replace). Returns the
    /// outputs produced before (persist requests among them).
    #[napi(catch_unwind)]
    pub fn suspend<'env>(&self, env: &'env Env) -> Result<Array<'env>> {
        let mut recs = Records::new(env, self.values(env)?)?;
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
        Ok(recs.arr)
    }

    /// What `getData()` shows: the value of the visible version (`{}` if none).
    #[napi(catch_unwind)]
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

    /// A snapshot for `getStatus()` (ids as keys; JS maps them back to ids).
    #[napi(catch_unwind)]
    pub fn status<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let held_values = self
            .values(env)?
            .obj
            .get_property_names()?
            .get_array_length()?;
        let inner = self.shared.lock();
        let mut o = Object::new(env)?;
        let version = |v: Version| -> Result<Object<'env>> {
            let mut x = Object::new(env)?;
            x.set_named_property("term", v.term as f64)?;
            x.set_named_property("index", v.index as f64)?;
            Ok(x)
        };
        match inner.node.as_ref() {
            Some(node) => {
                let s = node.status();
                o.set_named_property("id", s.id)?;
                o.set_named_property("started", s.started && !self.stopped.get())?;
                o.set_named_property("role", s.role as u32)?;
                o.set_named_property("preCandidate", s.pre_candidate)?;
                o.set_named_property("term", s.term as f64)?;
                o.set_named_property("votedFor", s.voted_for)?;
                o.set_named_property("leader", s.leader)?;
                o.set_named_property("version", version(s.latest)?)?;
                o.set_named_property("commit", version(s.committed)?)?;
                o.set_named_property("members", s.members)?;
                o.set_named_property("persistRequested", s.persist_requested as f64)?;
                o.set_named_property("persistDone", s.persist_done as f64)?;
                o.set_named_property("held", s.held as f64)?;
            }
            None => {
                o.set_named_property("id", Null)?;
                o.set_named_property("started", false)?;
                o.set_named_property("role", 2)?;
                o.set_named_property("preCandidate", false)?;
                o.set_named_property("term", 0)?;
                o.set_named_property("votedFor", Null)?;
                o.set_named_property("leader", Null)?;
                o.set_named_property("version", version(Version::ZERO)?)?;
                o.set_named_property("commit", version(Version::ZERO)?)?;
                let members: Vec<String> = inner.pending_members.iter().cloned().collect();
                o.set_named_property("members", members)?;
                o.set_named_property("persistRequested", 0)?;
                o.set_named_property("persistDone", 0)?;
                o.set_named_property("held", 0)?;
            }
        }
        o.set_named_property("rejected", inner.rejected as f64)?;
        o.set_named_property("strangers", self.strangers().count as f64)?;
        let unauthenticated = self.auth.as_ref().map_or(0, |a| a.total());
        o.set_named_property("unauthenticated", unauthenticated as f64)?;
        o.set_named_property("failed", inner.failed)?;
        o.set_named_property("values", held_values)?;
        Ok(o)
    }

    /// `destroy()`: queue the final write (`last`: of the current state, when the node ran),
    /// stop the core, abort the timer task and release the wake-up callback, so nothing native
    /// keeps the process alive. Idempotent.
    #[napi(catch_unwind)]
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
    #[napi(catch_unwind, ts_return_type = "Promise<number | null>")]
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
    #[napi(catch_unwind)]
    pub fn close_persist(&self) -> Result<()> {
        let mut inner = self.shared.lock();
        inner.persist.closed = true;
        inner.persist.pending = None;
        Ok(())
    }

    /// The end of `destroy()`: release the references to the agent, the node and the drain
    /// callback (the values stay readable through `data()`).
    #[napi(catch_unwind)]
    pub fn release(&self, env: &Env) -> Result<()> {
        let mut js = std::mem::take(&mut self.shared.lock().js);
        let values = js.values.take();
        js.release(env, true)?;
        self.shared.lock().js.values = values;
        Ok(())
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
        recs.log(&format!(
            "raft rejected {}: {reason}",
            channel.incoming_event()
        ))?;
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
        decoded: &std::result::Result<(String, Message), String>,
        body: Option<&Object>,
        digest: Option<&[u8]>,
    ) -> std::result::Result<(), String> {
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        let (from, msg) = decoded
            .as_ref()
            .map_err(|reason| format!("malformed: {reason}"))?;
        let to = inner
            .node
            .as_ref()
            .map(|n| n.id())
            .ok_or("the node has not started")?;
        let tag = auth::read_tag(body.ok_or("no tag")?)?;
        auth.verify(channel, from, to, msg, &tag, digest)
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
                recs.log(&line)?;
            }
        }
        self.finish(recs, inner)
    }

    /// Whether `finish` would append any record from the core.
    fn has_outputs(&self, inner: &crate::driver::Inner) -> bool {
        inner.node.as_ref().is_some_and(|n| n.has_outputs())
    }

    /// The core, unless `destroy()` stopped the node or the core panicked (never stepped again).
    fn steppable<'a>(&self, inner: &'a mut crate::driver::Inner) -> Option<&'a mut Node<String>> {
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
            recs.log(&line)?;
        }
        let outs = inner.take_outputs();
        if self.stopped.get() {
            return Ok(());
        }
        recs.outputs(outs)?;
        self.shared.rearm_if_earlier(inner.next_deadline());
        Ok(())
    }
}

impl ObjectFinalize for NativeNode {
    fn finalize(self, env: Env) -> Result<()> {
        if let Some(values) = self.values.borrow_mut().take() {
            values.unref(&env)?;
        }
        let mut js = std::mem::take(&mut self.shared.lock().js);
        js.release(&env, false)
    }
}

impl Drop for NativeNode {
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
fn propose_refusal(e: ProposeError) -> &'static str {
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
