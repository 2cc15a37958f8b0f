//! `Raftq`, the public class: raftq's API over an [`Engine`].
//!
//! It keeps what raftq's own class keeps: the event bus (listeners run in microtasks after the
//! emitting step, `dispatch` resolves when they have finished and never rejects), the members'
//! objects as acked, the role and the leader as last emitted, and the Promises of `replicate()`
//! and `transferLeadership()`, which the core's outcome records settle. Every protocol decision
//! is the core's; the persist queue is the engine's. Node ids keep their JS type: a key
//! (`n:<number>` / `s:<string>`) decodes back to the id.

use super::convert::{id_key, intern_key, key_to_id, type_name, JsFields, Key, Rec, Records};
use super::errors::{self, Kind};
use super::js::{self, Builtins, Deferred};
use super::persist::{voters_array, Histogram, LATENCY_BUCKETS_MS};
use super::restore;
use super::{millis, Decoded, Engine, Restored};
use napi::bindgen_prelude::{
    Array, Function, FunctionCallContext, JsObjectValue, Object, ObjectFinalize, ToNapiValue,
    Unknown,
};
use napi::{Env, Error, JsValue, Result, Status, UnknownRef, ValueType};
use napi_derive::napi;
use raftq_core::{
    wire, Channel, Config, Message, ProposalFailure, ProposeError, ReadFailure, Role, Version,
    Voters,
};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};

/// raftq's `RaftRole` (the core's numbering; the names map back, `RaftRole[3] === 'LEADER'`).
#[napi]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum RaftRole {
    CANDIDATE = 1,
    FOLLOWER = 2,
    LEADER = 3,
}

const _: () = {
    assert!(RaftRole::CANDIDATE as u32 == Role::Candidate as u32);
    assert!(RaftRole::FOLLOWER as u32 == Role::Follower as u32);
    assert!(RaftRole::LEADER as u32 == Role::Leader as u32);
};

/// The names of the roles, by number.
#[cfg_attr(test, allow(dead_code))]
fn role_name(role: u32) -> Option<&'static str> {
    match role {
        1 => Some("CANDIDATE"),
        2 => Some("FOLLOWER"),
        3 => Some("LEADER"),
        _ => None,
    }
}

/// Add the reverse mapping to the exported enum (`RaftRole[3] === 'LEADER'`, as a TypeScript
/// enum has) and freeze it.
#[napi(module_exports)]
#[cfg_attr(test, allow(dead_code))]
pub fn module_exports(exports: Object, env: Env) -> Result<()> {
    let roles: Unknown = exports.get_named_property_unchecked("RaftRole")?;
    if roles.get_type()? != ValueType::Object {
        return Ok(());
    }
    // SAFETY: the type was checked
    let mut roles: Object = unsafe { roles.cast()? };
    for n in 1..=3u32 {
        if let Some(name) = role_name(n) {
            roles.set_named_property(&n.to_string(), name)?;
        }
    }
    let global = env.get_global()?;
    let object: Object = global.get_named_property_unchecked("Object")?;
    let freeze: Unknown = object.get_named_property_unchecked("freeze")?;
    js::call(&env, &freeze, &object.to_unknown(), &[roles.to_unknown()])?;
    let mut exports = exports;
    errors::install(&mut exports, &env)?;
    Ok(())
}

/// `replicateTimeout`'s default, in multiples of `maximumElectionTime`: long enough for a
/// new leader to be elected and catch up, short enough to tell the app in seconds.
const DEFAULT_REPLICATE_TIMEOUT: u64 = 5;

const LOG_DEBUG: u8 = 0;
const LOG_INFO: u8 = 1;
const LOG_WARN: u8 = 2;
const LOG_ERROR: u8 = 3;
const LOG_SILENT: u8 = 4;

fn log_level_of(name: &str) -> Option<u8> {
    match name {
        "debug" => Some(LOG_DEBUG),
        "info" => Some(LOG_INFO),
        "warn" => Some(LOG_WARN),
        "error" => Some(LOG_ERROR),
        "silent" => Some(LOG_SILENT),
        _ => None,
    }
}

/// The level of a `log` line, by what it reports: failures of the node or the app's agent are
/// errors; input it refused and conditions the app should look at are warnings; role, leader
/// and lifecycle changes are info; the rest (ignored inputs, routine protocol steps) debug.
fn line_level(line: &str) -> u8 {
    const ERROR: [&str; 4] = [
        "raft internal error",
        "persist failed",
        "raft crashed",
        "raft error",
    ];
    const WARN: [&str; 7] = [
        "raft rejected",
        "strangers",
        "stranger",
        "unauthenticated",
        "has not settled",
        "raft cannot sign",
        "timed out",
    ];
    const INFO: [&str; 9] = [
        "raft initialized",
        "raft destroyed",
        "raft started",
        "leader",
        "candidate",
        "follower",
        "term",
        "raft replicate",
        "raft destroy",
    ];
    if ERROR.iter().any(|p| line.contains(p)) {
        LOG_ERROR
    } else if WARN.iter().any(|p| line.contains(p)) {
        LOG_WARN
    } else if INFO.iter().any(|p| line.contains(p)) {
        LOG_INFO
    } else {
        LOG_DEBUG
    }
}

/// Throw a `TypeError` (what raftq's constructor checks throw).
fn type_error(env: &Env, msg: String) -> Error {
    if env.throw_type_error(&msg, None).is_ok() {
        Error::new(Status::PendingException, msg)
    } else {
        Error::new(Status::InvalidArg, msg)
    }
}

/// A leader's view of a follower, for `getStatus()` and `getMetrics()`.
fn progress_object<'env>(
    env: &'env Env,
    p: &raftq_core::MemberProgress<Key>,
) -> Result<Object<'env>> {
    let mut f = Object::new(env)?;
    f.set_named_property("id", key_to_id(env, &p.id)?)?;
    match p.match_version {
        Some(v) => f.set_named_property("matchVersion", version_object(env, v)?)?,
        None => f.set_named_property("matchVersion", js::null(env)?)?,
    }
    match p.last_contact {
        Some(ms) => f.set_named_property("lastContactMs", ms as f64)?,
        None => f.set_named_property("lastContactMs", js::null(env)?)?,
    }
    f.set_named_property("reachable", p.reachable)?;
    f.set_named_property("lagging", p.lagging)?;
    Ok(f)
}

/// `{ buckets: [{ le, count }] (cumulative, the last le: Infinity), sum, count }`.
fn histogram_object<'env>(env: &'env Env, h: &Histogram) -> Result<Object<'env>> {
    let mut o = Object::new(env)?;
    let mut buckets = env.create_array(0)?;
    let mut total = 0u64;
    for (i, c) in h.buckets.iter().enumerate() {
        total += c;
        let mut b = Object::new(env)?;
        let le = LATENCY_BUCKETS_MS.get(i).map_or(f64::INFINITY, |x| *x);
        b.set_named_property("le", le)?;
        b.set_named_property("count", total as f64)?;
        buckets.insert(b)?;
    }
    o.set_named_property("buckets", buckets)?;
    o.set_named_property("sum", h.sum)?;
    o.set_named_property("count", h.count as f64)?;
    Ok(o)
}

/// `{ term, index }`.
fn version_object(env: &Env, v: Version) -> Result<Unknown<'_>> {
    let mut x = Object::new(env)?;
    x.set_named_property("term", v.term as f64)?;
    x.set_named_property("index", v.index as f64)?;
    Ok(x.to_unknown())
}

fn is_object(v: &Unknown) -> Result<bool> {
    Ok(v.get_type()? == ValueType::Object)
}

/// The `RaftNode` of a `serviceStarted` while it restores (released when it ends).
type NodeRef = Rc<RefCell<Option<UnknownRef>>>;

/// A `serviceStarted` under way (waiting for the persist queue or for `restore`): its
/// Promise, its `RaftNode`, the timer of its bound. Finished once, by whichever comes first:
/// the start, a failure, the bound, `destroy()`.
struct PendingStart {
    done: RefCell<Option<Deferred>>,
    node: NodeRef,
    timer: RefCell<Option<UnknownRef>>,
}

impl PendingStart {
    fn is_done(&self) -> bool {
        self.done.borrow().is_none()
    }

    /// Release the node and the timer, resolve the Promise (later calls do nothing).
    fn finish(&self, env: &Env) -> Result<()> {
        let node = self.node.borrow_mut().take();
        if let Some(r) = node {
            r.unref(env)?;
        }
        let timer = self.timer.borrow_mut().take();
        if let Some(t) = timer {
            let v = t.get_value(env)?;
            t.unref(env)?;
            clear_timeout(env, v)?;
        }
        let d = self.done.borrow_mut().take();
        if let Some(d) = d {
            d.resolve(env, js::undefined(env)?)?;
        }
        Ok(())
    }
}

/// `clearTimeout(timer)`.
fn clear_timeout(env: &Env, timer: Unknown) -> Result<()> {
    let global = env.get_global()?;
    let clear: Unknown = global.get_named_property_unchecked("clearTimeout")?;
    let u = js::undefined(env)?;
    js::call(env, &clear, &u, &[timer])?;
    Ok(())
}

/// One listener: its id (for its unsubscribe function) and the function.
struct Listener {
    id: u64,
    f: UnknownRef,
}

/// Everything of the bus and the node as the app sees it; borrowed briefly, never across a
/// call into JavaScript.
struct Bus {
    /// Listeners by event name, in subscription order.
    listeners: HashMap<String, Vec<Listener>>,
    /// Listeners of events named by something other than a string (compared with `===`).
    odd_listeners: Vec<(UnknownRef, Vec<Listener>)>,
    next_listener: u64,
    /// Per event name: the rejection handler of its listeners (reports on `log`).
    on_fail: HashMap<String, UnknownRef>,
    /// Members as acked, in order: key -> the `RaftNode` object.
    members: Vec<(Key, UnknownRef)>,
    role: u32,
    leader: Option<Key>,
    self_key: Option<Key>,
    /// The `RaftNode` given to `serviceStarted`; the placeholder before.
    node: Option<UnknownRef>,
    placeholder: Option<UnknownRef>,
    started: bool,
    destroyed: bool,
    /// `destroy()`'s Promise.
    destroying: Option<UnknownRef>,
    start_gen: u64,
    /// The start generation whose restart is restoring (the core is suspended), or 0.
    restoring: u64,
    /// Send records whose destination is not a member: dropped, never addressed.
    dropped: u64,
    /// Inputs whose message threw while it was read (counted with the rejected ones).
    unreadable: u64,
    /// `replicate()` Promises by version, `transferLeadership()` Promises oldest first.
    waiters: HashMap<Version, Deferred>,
    transfer_waiters: VecDeque<Deferred>,
    /// `confirmLeadership()` Promises by request id.
    confirm_waiters: HashMap<u64, Deferred>,
    /// `read()` Promises by request id.
    read_waiters: HashMap<u64, Deferred>,
    /// Versions whose `replicate()` timed out, until a commit point decides them.
    timed_out: Vec<Version>,
    /// Commit latency of this node's committed proposals.
    commit_latency: Histogram,
    /// `persistAgent.restore` bound to the agent.
    restore: Option<UnknownRef>,
    /// `serviceStarted`s under way (some may be finished: pruned when one is added).
    pending_starts: Vec<Rc<PendingStart>>,
    /// The engine's wake-up function (emits what the timer task or a persist produced).
    wake: Option<UnknownRef>,
}

/// A node: the engine, the built-ins, the bus. Owned by the `Raftq` object; the JS functions
/// it creates (wake-up, unsubscribe, Promise reactions) hold it weakly.
pub struct State {
    engine: Engine,
    b: &'static Builtins,
    bus: RefCell<Bus>,
    me: Weak<State>,
    /// `minimumElectionTime / 2`: every outgoing body's `timeout`.
    timeout: f64,
    cluster: Option<String>,
    /// `replicate()`'s timeout (ms).
    replicate_timeout: u64,
    /// How long `serviceStarted` waits for `persistAgent.restore` (ms):
    /// 5 × max(1000, maximumElectionTime).
    restore_bound: u64,
    /// Log lines below this level are not emitted.
    log_level: u8,
}

/// raftq's `Raftq` class.
#[napi(custom_finalize)]
pub struct Raftq {
    state: Rc<State>,
}

/// Read and check the constructor's options (raftq's four, `secret`, `cluster`).
struct Options<'env> {
    config: Config,
    agent: Object<'env>,
    restore: Unknown<'env>,
    secret: Option<Vec<u8>>,
    cluster: Option<String>,
    timeout: f64,
    replicate_timeout: u64,
    log_level: u8,
}

/// A duration option in ms: `None` when absent, else a number > 0 and at most 2^53 - 1.
fn millis_option(env: &Env, o: &Object, name: &str) -> Result<Option<f64>> {
    let v: Unknown = o.get_named_property_unchecked(name)?;
    match v.get_type()? {
        ValueType::Undefined => Ok(None),
        ValueType::Number => {
            // SAFETY: the type was checked
            let n = unsafe { v.cast::<f64>()? };
            if n.is_finite() && n > 0.0 && n <= wire::MAX_SAFE_INTEGER {
                Ok(Some(n))
            } else {
                Err(millis_error(env, name, &Some(v)))
            }
        }
        _ => Err(millis_error(env, name, &Some(v))),
    }
}

fn millis_error(env: &Env, name: &str, v: &Option<Unknown>) -> Error {
    let got = v
        .as_ref()
        .map_or("undefined".to_string(), |v| js::describe(env, v));
    type_error(
        env,
        format!("Raftq: options.{name} must be a number > 0 and at most 2^53 - 1 ms (got {got})"),
    )
}

fn options<'env>(env: &'env Env, options: &Unknown<'env>) -> Result<Options<'env>> {
    if !is_object(options)? {
        return Err(type_error(env, "Raftq: options must be an object".into()));
    }
    // SAFETY: the type was checked
    let o: Object = unsafe { options.cast()? };
    let mut times = [0f64; 3];
    for (i, name) in ["heartbeat", "minimumElectionTime", "maximumElectionTime"]
        .iter()
        .enumerate()
    {
        times[i] = millis_option(env, &o, name)?
            .ok_or_else(|| millis_error(env, name, &js::undefined(env).ok()))?;
    }
    if times[1] > times[2] {
        return Err(type_error(
            env,
            "Raftq: options.minimumElectionTime must be <= options.maximumElectionTime".into(),
        ));
    }
    let agent: Unknown = o.get_named_property_unchecked("persistAgent")?;
    let bad_agent = || {
        type_error(
            env,
            "Raftq: options.persistAgent must have persist(node, data) and restore(node) functions"
                .into(),
        )
    };
    if !is_object(&agent)? {
        return Err(bad_agent());
    }
    // SAFETY: the type was checked
    let agent: Object = unsafe { agent.cast()? };
    let persist: Unknown = agent.get_named_property_unchecked("persist")?;
    let restore: Unknown = agent.get_named_property_unchecked("restore")?;
    if persist.get_type()? != ValueType::Function || restore.get_type()? != ValueType::Function {
        return Err(bad_agent());
    }
    // SAFETY: the type was checked
    let restore: Function<Unknown, Unknown> = unsafe { restore.cast()? };
    let restore = ToNapiValue::into_unknown(restore.bind(agent)?, env)?;
    let secret: Unknown = o.get_named_property_unchecked("secret")?;
    let secret = match secret.get_type()? {
        ValueType::Undefined | ValueType::Null => None,
        ValueType::String => {
            // SAFETY: the type was checked
            let s: String = unsafe { secret.cast()? };
            Some(s.into_bytes())
        }
        ValueType::Object if secret.is_typedarray()? => {
            // SAFETY: the type was checked
            let bytes: napi::bindgen_prelude::Uint8Array =
                unsafe { secret.cast() }.map_err(|_| {
                    js::take_exception(env);
                    type_error(
                        env,
                        "Raftq: options.secret must be a non-empty string, Buffer or Uint8Array"
                            .into(),
                    )
                })?;
            Some(bytes.to_vec())
        }
        _ => None,
    };
    let secret_given = {
        let v: Unknown = o.get_named_property_unchecked("secret")?;
        !matches!(v.get_type()?, ValueType::Undefined | ValueType::Null)
    };
    if secret_given && secret.as_ref().is_none_or(|s| s.is_empty()) {
        return Err(type_error(
            env,
            "Raftq: options.secret must be a non-empty string, Buffer or Uint8Array".into(),
        ));
    }
    let cluster: Unknown = o.get_named_property_unchecked("cluster")?;
    let cluster = match cluster.get_type()? {
        ValueType::Undefined | ValueType::Null => None,
        ValueType::String => {
            // SAFETY: the type was checked
            let js: napi::JsString = unsafe { cluster.cast()? };
            let len = js.utf16_len()?;
            if len == 0 || len > 256 {
                return Err(type_error(
                    env,
                    "Raftq: options.cluster must be a non-empty string of at most 256 characters"
                        .into(),
                ));
            }
            // SAFETY: the type was checked
            Some(unsafe { cluster.cast::<String>()? })
        }
        _ => {
            return Err(type_error(
                env,
                "Raftq: options.cluster must be a non-empty string of at most 256 characters"
                    .into(),
            ))
        }
    };
    let mut config = Config::new(
        millis("heartbeat", times[0])?,
        millis("minimumElectionTime", times[1])?,
        millis("maximumElectionTime", times[2])?,
    )
    .map_err(|e| type_error(env, format!("Raftq: {e}")))?;
    let be: Unknown = o.get_named_property_unchecked("bootstrapExpect")?;
    config.bootstrap_expect = match be.get_type()? {
        ValueType::Undefined => 0,
        // SAFETY: the type was checked
        ValueType::Number => match unsafe { be.cast::<f64>()? } {
            n if n.fract() == 0.0 && (1.0..=1024.0).contains(&n) => n as usize,
            _ => 0,
        },
        _ => 0,
    };
    if be.get_type()? != ValueType::Undefined && config.bootstrap_expect == 0 {
        return Err(type_error(
            env,
            format!(
                "Raftq: options.bootstrapExpect must be a whole number from 1 to 1024 (got {})",
                js::describe(env, &be)
            ),
        ));
    }
    for (name, slot) in [
        ("preVote", &mut config.pre_vote),
        ("checkQuorum", &mut config.check_quorum),
    ] {
        let v: Unknown = o.get_named_property_unchecked(name)?;
        match v.get_type()? {
            ValueType::Undefined => *slot = true,
            // SAFETY: the type was checked
            ValueType::Boolean => *slot = unsafe { v.cast::<bool>()? },
            _ => {
                return Err(type_error(
                    env,
                    format!(
                        "Raftq: options.{name} must be a boolean (got {})",
                        js::describe(env, &v)
                    ),
                ))
            }
        }
    }
    let replicate_timeout = match millis_option(env, &o, "replicateTimeout")? {
        None => config
            .election_max
            .saturating_mul(DEFAULT_REPLICATE_TIMEOUT),
        Some(n) => n.ceil() as u64,
    };
    let ll: Unknown = o.get_named_property_unchecked("logLevel")?;
    let log_level = match ll.get_type()? {
        ValueType::Undefined => LOG_DEBUG,
        _ => {
            let name = string_of(&ll)?;
            match name.as_deref().and_then(log_level_of) {
                Some(l) => l,
                None => {
                    return Err(type_error(
                        env,
                        format!(
                            "Raftq: options.logLevel must be one of 'debug', 'info', 'warn', 'error', 'silent' (got {})",
                            js::describe(env, &ll)
                        ),
                    ))
                }
            }
        }
    };
    Ok(Options {
        config,
        agent,
        restore,
        secret,
        cluster,
        timeout: times[1] / 2.0,
        replicate_timeout,
        log_level,
    })
}

#[napi]
impl Raftq {
    #[napi(constructor, catch_unwind, ts_args_type = "options: RaftqOptions")]
    pub fn new(env: &Env, options: Unknown) -> Result<Self> {
        let o = self::options(env, &options)?;
        let restore_bound = o.config.election_max.max(1000).saturating_mul(5);
        let engine = Engine::new(
            env,
            o.config,
            o.secret.as_deref(),
            o.cluster.clone(),
            o.agent,
        )?;
        let b = Builtins::get(env)?;
        let mut placeholder = Object::new(env)?;
        placeholder.set_named_property("id", ())?;
        placeholder.set_named_property("time", 0)?;
        let bus = Bus {
            listeners: HashMap::new(),
            odd_listeners: Vec::new(),
            next_listener: 0,
            on_fail: HashMap::new(),
            members: Vec::new(),
            role: Role::Follower as u32,
            leader: None,
            self_key: None,
            node: None,
            placeholder: Some(placeholder.to_unknown().create_ref()?),
            started: false,
            destroyed: false,
            destroying: None,
            start_gen: 0,
            restoring: 0,
            dropped: 0,
            unreadable: 0,
            waiters: HashMap::new(),
            transfer_waiters: VecDeque::new(),
            confirm_waiters: HashMap::new(),
            read_waiters: HashMap::new(),
            timed_out: Vec::new(),
            commit_latency: Histogram::default(),
            restore: Some(o.restore.create_ref()?),
            pending_starts: Vec::new(),
            wake: None,
        };
        let state = Rc::new_cyclic(|me| State {
            engine,
            b,
            bus: RefCell::new(bus),
            me: me.clone(),
            timeout: o.timeout,
            cluster: o.cluster,
            replicate_timeout: o.replicate_timeout,
            restore_bound,
            log_level: o.log_level,
        });
        // the wake-up: what the timer task or a completed persist produced, emitted
        let weak = state.me.clone();
        let wake: Function<Unknown, ()> =
            env.create_function_from_closure("wake", move |ctx: FunctionCallContext| {
                if let Some(s) = weak.upgrade() {
                    s.drain(ctx.env);
                }
                Ok(())
            })?;
        state.bus.borrow_mut().wake = Some(wake.to_unknown().create_ref()?);
        state.log(env, "raft initialized");
        Ok(Raftq { state })
    }

    // ---- raftq's API ----

    /// The current leader's id, or `null`.
    #[napi(catch_unwind, ts_return_type = "RaftNodeId | null")]
    pub fn get_leader<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        self.state.leader(env)
    }

    #[napi(catch_unwind, ts_return_type = "RaftRole")]
    pub fn get_role(&self) -> u32 {
        self.state.bus.borrow().role
    }

    /// The very object passed as `serviceStarted`'s `node` (a placeholder before the start).
    #[napi(catch_unwind, ts_return_type = "RaftNode")]
    pub fn get_node<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let bus = self.state.bus.borrow();
        match bus.node.as_ref().or(bus.placeholder.as_ref()) {
            Some(r) => r.get_value(env),
            None => js::undefined(env),
        }
    }

    /// The other members, as acked.
    #[napi(catch_unwind, ts_return_type = "RaftNode[]")]
    pub fn get_followers<'env>(&self, env: &'env Env) -> Result<Array<'env>> {
        let bus = self.state.bus.borrow();
        let mut out = env.create_array(0)?;
        for (key, node) in &bus.members {
            if bus.self_key.as_deref() != Some(&**key) {
                out.insert(node.get_value(env)?)?;
            }
        }
        Ok(out)
    }

    /// The replicated data (`{}` on a fresh node): the committed value on followers, the latest
    /// value on the leader (raftq's meaning; not a linearizable read: see `read()`). Frozen, as
    /// JSON holds it: the same value on every node for one version.
    #[napi(catch_unwind, ts_return_type = "any")]
    pub fn get_data<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        self.state.engine.data(env)
    }

    /// Listen to an event; returns the unsubscribe function.
    #[napi(
        catch_unwind,
        ts_generic_types = "T extends RaftEventType",
        ts_args_type = "type: T, listener: (message: RaftMessageType[T]) => any",
        ts_return_type = "() => void"
    )]
    pub fn subscribe<'env>(
        &self,
        env: &'env Env,
        r#type: Unknown<'env>,
        listener: Unknown<'env>,
    ) -> Result<Unknown<'env>> {
        if listener.get_type()? != ValueType::Function {
            return Err(type_error(
                env,
                "Raftq.subscribe: listener must be a function".into(),
            ));
        }
        let name = string_of(&r#type)?;
        let id = {
            let mut bus = self.state.bus.borrow_mut();
            bus.next_listener += 1;
            let id = bus.next_listener;
            let l = Listener {
                id,
                f: listener.create_ref()?,
            };
            match &name {
                Some(n) => bus.listeners.entry(n.clone()).or_default().push(l),
                None => {
                    let mut found = None;
                    for (i, (k, _)) in bus.odd_listeners.iter().enumerate() {
                        if js::strict_equals(env, &k.get_value(env)?, &r#type)? {
                            found = Some(i);
                            break;
                        }
                    }
                    match found {
                        Some(i) => bus.odd_listeners[i].1.push(l),
                        None => bus.odd_listeners.push((r#type.create_ref()?, vec![l])),
                    }
                }
            }
            id
        };
        let weak = self.state.me.clone();
        // the name for a string, else nothing: the listener's id finds it (no reference to the
        // name held by the function, which may never be called)
        let key = RefCell::new(Some(name));
        let unsubscribe: Function<Unknown, ()> =
            env.create_function_from_closure("unsubscribe", move |ctx: FunctionCallContext| {
                let Some(key) = key.borrow_mut().take() else {
                    return Ok(());
                };
                if let Some(s) = weak.upgrade() {
                    s.unsubscribe(ctx.env, key.as_deref(), id)?;
                }
                Ok(())
            })?;
        Ok(unsubscribe.to_unknown())
    }

    /// Run every listener of `type` (and the node's own handling); never rejects.
    #[napi(
        catch_unwind,
        ts_generic_types = "T extends RaftEventType",
        ts_args_type = "type: T, message: RaftMessageType[T]",
        ts_return_type = "Promise<void>"
    )]
    pub fn dispatch<'env>(
        &self,
        env: &'env Env,
        r#type: Unknown<'env>,
        message: Unknown<'env>,
    ) -> Result<Unknown<'env>> {
        let s = &self.state;
        match s.dispatch(env, r#type, message) {
            Ok(p) => Ok(p),
            Err(e) => {
                let why = js::why(env, &e);
                s.log(env, &format!("raft internal error: {why}"));
                s.b.resolved.get_value(env)
            }
        }
    }

    /// Persist, stop the timers, remove the listeners. The process can exit afterwards.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn destroy<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        if let Some(p) = &self.state.bus.borrow().destroying {
            return p.get_value(env);
        }
        let p = self.state.destroy(env)?;
        self.state.bus.borrow_mut().destroying = Some(p.create_ref()?);
        Ok(p)
    }

    // ---- extras ----

    /// Extra: a snapshot of the node's Raft state.
    #[napi(catch_unwind, ts_return_type = "RaftStatus")]
    pub fn get_status<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        self.state.status(env)
    }

    /// Extra: replicate `data` from the leader. Resolves with the committed version; rejects
    /// with `NotLeaderError` (`.leader`: the known leader; `null` while none is known or this
    /// leader hands over), `TimeoutError` (not committed within `replicateTimeout`; it may
    /// still commit), `SupersededError`, `DestroyedError`, or a `TypeError` for data that
    /// JSON cannot hold (never resolves `false`). The value stored, sent, persisted and shown
    /// is `data` as JSON holds it (`JSON.parse(JSON.stringify(data))`: a `Date` becomes its
    /// string, a `Set` `{}`, `NaN` `null`), frozen.
    #[napi(
        catch_unwind,
        ts_args_type = "data: any",
        ts_return_type = "Promise<RaftVersion>"
    )]
    pub fn replicate<'env>(&self, env: &'env Env, data: Unknown<'env>) -> Result<Unknown<'env>> {
        let s = &self.state;
        match s.replicate(env, data, s.replicate_timeout) {
            Ok(p) => Ok(p),
            Err(e) => {
                let why = js::why(env, &e);
                s.log(env, &format!("raft error in replicate: {why}"));
                let err = env.create_error(Error::from_reason(why))?;
                s.rejected(env, err.to_unknown())
            }
        }
    }

    /// Extra: the current term (only grows; a fencing token for leader-only work).
    #[napi(catch_unwind)]
    pub fn get_term(&self) -> f64 {
        self.state.engine.term() as f64
    }

    /// Extra: check with a majority, in one heartbeat round, that this node still leads in its
    /// term. `false` at once when it is not the leader (or not started, or destroyed); `false`
    /// within `maximumElectionTime` ms when it is cut off or deposed.
    #[napi(catch_unwind, ts_return_type = "Promise<boolean>")]
    pub fn confirm_leadership<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let s = &self.state;
        let r = s.confirm(env);
        s.or_false(env, "confirmLeadership", r)
    }

    /// Extra: a linearizable read (ReadIndex, Raft thesis §6.4): resolves `{ data, term, index }`,
    /// the committed value and its version, once this node (the leader) has confirmed with a
    /// majority, after the call, that it still leads, and has committed a version of its own
    /// term. Rejects with `NotLeaderError` (`.leader`: the known leader, or `null`),
    /// `TimeoutError` (no majority within `maximumElectionTime`) or `DestroyedError`.
    /// `{ lease: true }`: answer at once while the leader's lease holds (no round trip; safe
    /// only while clocks drift less than 10% of `minimumElectionTime`), else as without it.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: RaftReadOptions",
        ts_return_type = "Promise<RaftRead>"
    )]
    pub fn read<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'env>>,
    ) -> Result<Unknown<'env>> {
        self.state.read(env, options)
    }

    /// Extra: counters, gauges and histograms (see `RaftMetrics`).
    #[napi(catch_unwind, ts_return_type = "RaftMetrics")]
    pub fn get_metrics<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        self.state.metrics(env)
    }

    /// Extra: hand leadership over (to `id`, or the most up-to-date follower); true once
    /// another leader is known.
    #[napi(
        catch_unwind,
        ts_args_type = "id?: RaftNodeId",
        ts_return_type = "Promise<boolean>"
    )]
    pub fn transfer_leadership<'env>(
        &self,
        env: &'env Env,
        id: Option<Unknown<'env>>,
    ) -> Result<Unknown<'env>> {
        let s = &self.state;
        let id = match id {
            Some(id) => id,
            None => js::undefined(env)?,
        };
        let r = s.transfer(env, id);
        s.or_false(env, "transferLeadership", r)
    }
}

impl ObjectFinalize for Raftq {
    fn finalize(self, env: Env) -> Result<()> {
        let s = &self.state;
        let mut bus = s.bus.borrow_mut();
        let mut refs: Vec<UnknownRef> = Vec::new();
        for (_, ls) in bus.listeners.drain() {
            refs.extend(ls.into_iter().map(|l| l.f));
        }
        for (k, ls) in bus.odd_listeners.drain(..) {
            refs.push(k);
            refs.extend(ls.into_iter().map(|l| l.f));
        }
        refs.extend(bus.on_fail.drain().map(|(_, r)| r));
        refs.extend(bus.members.drain(..).map(|(_, r)| r));
        refs.extend(
            [
                bus.node.take(),
                bus.placeholder.take(),
                bus.destroying.take(),
                bus.restore.take(),
                bus.wake.take(),
            ]
            .into_iter()
            .flatten(),
        );
        drop(bus);
        for r in refs {
            r.unref(&env)?;
        }
        s.engine.finalize(&env)?;
        Ok(())
    }
}

/// A JS string's event-name key (see `js::str_in`: the text itself, unless it holds a lone
/// surrogate or starts with U+FFFF); `None` for any other value.
fn string_of(v: &Unknown) -> Result<Option<String>> {
    let mut buf = [0u8; 64];
    Ok(js::str_in(v, &mut buf)?.map(|t| t.into_owned()))
}

/// The SHA-256 of `JSON.stringify(data)`: what a tag covers of `data`.
fn digest_of(env: &Env, b: &Builtins, data: &Unknown) -> std::result::Result<[u8; 32], String> {
    match js::stringify(env, b, data)? {
        Some(text) => Ok(Sha256::digest(text.as_bytes()).into()),
        None => Err(format!(
            "data is not JSON ({})",
            data.get_type().map(type_name).unwrap_or("unknown")
        )),
    }
}

impl State {
    // ---- the bus ----

    /// The functions listening to `type` now (a later change does not affect this emit).
    fn listeners_of<'env>(
        &self,
        env: &'env Env,
        name: Option<&str>,
        r#type: Option<&Unknown>,
    ) -> Result<Vec<Unknown<'env>>> {
        let bus = self.bus.borrow();
        let list = match (name, r#type) {
            (Some(n), _) => bus.listeners.get(n),
            (None, Some(t)) => {
                let mut found = None;
                for (k, ls) in &bus.odd_listeners {
                    if js::strict_equals(env, &k.get_value(env)?, t)? {
                        found = Some(ls);
                        break;
                    }
                }
                found
            }
            (None, None) => None,
        };
        match list {
            Some(ls) => ls.iter().map(|l| l.f.get_value(env)).collect(),
            None => Ok(Vec::new()),
        }
    }

    fn has_listeners(&self, name: &str) -> bool {
        self.bus
            .borrow()
            .listeners
            .get(name)
            .is_some_and(|l| !l.is_empty())
    }

    /// Remove listener `id` of `key`; the event's entry goes with its last listener (its name
    /// or key and its rejection handler too): distinct names subscribed and unsubscribed cost
    /// nothing afterwards, and the `===` scan of the non-string names stays short.
    fn unsubscribe(&self, env: &Env, key: Option<&str>, id: u64) -> Result<()> {
        let mut released: Vec<UnknownRef> = Vec::new();
        {
            let mut bus = self.bus.borrow_mut();
            match key {
                Some(n) => {
                    if let Some(ls) = bus.listeners.get_mut(n) {
                        if let Some(i) = ls.iter().position(|l| l.id == id) {
                            released.push(ls.remove(i).f);
                        }
                        if ls.is_empty() {
                            bus.listeners.remove(n);
                            released.extend(bus.on_fail.remove(n));
                        }
                    }
                }
                None => {
                    let found = bus
                        .odd_listeners
                        .iter()
                        .enumerate()
                        .find_map(|(i, (_, ls))| {
                            ls.iter().position(|l| l.id == id).map(|j| (i, j))
                        });
                    if let Some((i, j)) = found {
                        let ls = &mut bus.odd_listeners[i].1;
                        released.push(ls.remove(j).f);
                        if ls.is_empty() {
                            let (k, _) = bus.odd_listeners.remove(i);
                            released.push(k);
                        }
                    }
                }
            }
        }
        for r in released {
            r.unref(env)?;
        }
        Ok(())
    }

    /// The rejection handler of `type`'s listeners: reports on `log` (never for `log` itself).
    fn on_fail<'env>(
        &self,
        env: &'env Env,
        name: Option<&str>,
        r#type: &Unknown,
    ) -> Result<Unknown<'env>> {
        if let Some(n) = name {
            if let Some(f) = self.bus.borrow().on_fail.get(n) {
                return f.get_value(env);
            }
        }
        let shown = match name {
            Some(n) if !n.starts_with(js::ESCAPED_NAME) => n.to_string(),
            _ => js::describe(env, r#type),
        };
        let weak = self.me.clone();
        let is_log = name == Some("log");
        let label = shown.clone();
        let f: Function<Unknown, ()> =
            env.create_function_from_closure("listenerFailed", move |ctx: FunctionCallContext| {
                if is_log {
                    return Ok(()); // never loop
                }
                let e: Unknown = match ctx.get::<Unknown>(0) {
                    Ok(e) => e,
                    Err(_) => js::undefined(ctx.env)?,
                };
                if let Some(s) = weak.upgrade() {
                    let why = js::describe(ctx.env, &e);
                    s.log(ctx.env, &format!("raft listener for {label} failed: {why}"));
                }
                Ok(())
            })?;
        let f = f.to_unknown();
        if let Some(n) = name {
            self.bus
                .borrow_mut()
                .on_fail
                .insert(n.to_string(), f.create_ref()?);
        }
        Ok(f)
    }

    /// Run `listener(payload)` in a microtask; its failure (thrown or rejected) is reported.
    /// Returns the Promise of its end (never rejected).
    fn schedule<'env>(
        &self,
        env: &'env Env,
        listener: Unknown<'env>,
        payload: Unknown<'env>,
        on_fail: Unknown<'env>,
    ) -> Result<Unknown<'env>> {
        let run = self.b.run_listener.get_value(env)?;
        let u = js::undefined(env)?;
        js::call(env, &run, &u, &[listener, payload, on_fail])
    }

    /// Emit an event to its listeners (each in a microtask).
    fn emit(&self, env: &Env, name: &str, payload: Unknown) -> Result<()> {
        let listeners = self.listeners_of(env, Some(name), None)?;
        if listeners.is_empty() {
            return Ok(());
        }
        let u = js::undefined(env)?;
        let on_fail = self.on_fail(env, Some(name), &u)?;
        for l in listeners {
            self.schedule(env, l, payload, on_fail)?;
        }
        Ok(())
    }

    /// A line for the `log` event (`{ message }`), built only when someone listens.
    fn log(&self, env: &Env, message: &str) {
        if !self.has_listeners("log") {
            return;
        }
        if self.log_level > LOG_DEBUG && line_level(message) < self.log_level {
            return;
        }
        let r = (|| -> Result<()> {
            let mut o = Object::new(env)?;
            o.set_named_property("message", message)?;
            self.emit(env, "log", o.to_unknown())
        })();
        if r.is_err() {
            js::take_exception(env);
        }
    }

    /// A Promise already rejected with `reason`.
    fn rejected<'env>(&self, env: &'env Env, reason: Unknown<'env>) -> Result<Unknown<'env>> {
        let (d, p) = Deferred::new(env)?;
        d.reject(env, reason)?;
        Ok(p)
    }

    /// A `replicate()` Promise rejected with a typed error.
    fn rejected_with<'env>(
        &self,
        env: &'env Env,
        kind: Kind,
        message: &str,
        extra: Option<Unknown<'env>>,
    ) -> Result<Unknown<'env>> {
        let e = errors::make(env, kind, message, extra)?;
        self.rejected(env, e)
    }

    /// A method's Promise, or, when the method failed, the failure on `log` and a Promise of
    /// `false` (the extras never throw).
    fn or_false<'env>(
        &self,
        env: &'env Env,
        what: &str,
        r: Result<Unknown<'env>>,
    ) -> Result<Unknown<'env>> {
        r.or_else(|e| {
            let why = js::why(env, &e);
            self.log(env, &format!("raft error in {what}: {why}"));
            self.settled(env, false)
        })
    }

    /// A Promise already resolved with `value`.
    fn settled<'env>(&self, env: &'env Env, value: bool) -> Result<Unknown<'env>> {
        let (d, p) = Deferred::new(env)?;
        d.resolve(env, value.into_unknown(env)?)?;
        Ok(p)
    }

    fn dispatch<'env>(
        &self,
        env: &'env Env,
        r#type: Unknown<'env>,
        message: Unknown<'env>,
    ) -> Result<Unknown<'env>> {
        let mut buf = [0u8; 64];
        let name = js::str_in(&r#type, &mut buf)?;
        let mut tasks: Vec<Unknown> = Vec::new();
        match self.input(env, name.as_deref(), message) {
            Ok(Some(p)) => tasks.push(p),
            Ok(None) => {}
            Err(e) => {
                let why = js::why(env, &e);
                let shown = match &name {
                    Some(n) if !n.starts_with(js::ESCAPED_NAME) => n.to_string(),
                    _ => js::describe(env, &r#type),
                };
                self.bus.borrow_mut().unreadable += 1;
                self.log(
                    env,
                    &format!("raft rejected {shown}: the message cannot be read: {why}"),
                );
            }
        }
        let listeners = self.listeners_of(env, name.as_deref(), Some(&r#type))?;
        if !listeners.is_empty() {
            let on_fail = self.on_fail(env, name.as_deref(), &r#type)?;
            for l in listeners {
                tasks.push(self.schedule(env, l, message, on_fail)?);
            }
        }
        let all = match tasks.len() {
            0 => return self.b.resolved.get_value(env),
            1 => tasks[0],
            _ => {
                let mut arr = env.create_array(0)?;
                for t in tasks {
                    arr.insert(t)?;
                }
                let all = self.b.all.get_value(env)?;
                let u = js::undefined(env)?;
                js::call(env, &all, &u, &[arr.to_unknown()])?
            }
        };
        let noop = self.b.noop.get_value(env)?;
        js::then(env, self.b, &all, noop, noop)
    }

    /// The node's own handling of an input event: a Promise to wait for, or `None`.
    fn input<'env>(
        &self,
        env: &'env Env,
        name: Option<&str>,
        message: Unknown<'env>,
    ) -> Result<Option<Unknown<'env>>> {
        let Some(name) = name else {
            return Ok(None);
        };
        if let Some(channel) = Channel::ALL
            .iter()
            .copied()
            .find(|c| c.incoming_event() == name)
        {
            self.receive(env, channel, message)?;
            return Ok(None);
        }
        match name {
            "ackNode" => {
                self.ack_node(env, message)?;
                Ok(None)
            }
            // raftq's shape: decided within the core's own bound (an election timeout)
            "replicateData" => {
                let bound = self.engine.election_max();
                self.replicate(env, message, bound).map(Some)
            }
            "serviceStarted" => self.service_started(env, message),
            "serviceCrashed" => {
                self.service_crashed(env, message)?;
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    // ---- inputs ----

    fn receive(&self, env: &Env, channel: Channel, message: Unknown) -> Result<()> {
        {
            let bus = self.bus.borrow();
            if !bus.started || bus.destroyed || bus.restoring != 0 {
                return Ok(());
            }
        }
        let u = js::undefined(env)?;
        let (decoded, body, data, digest): (Decoded, Option<Object>, Unknown, Option<[u8; 32]>) =
            if is_object(&message)? {
                // SAFETY: the type was checked
                let body: Object = unsafe { message.cast()? };
                // each field is read once: a getter may answer differently the second time
                let data: Unknown = if channel == Channel::SyncData {
                    self.b.prop(env, &body, wire::DATA)?
                } else {
                    u
                };
                let has_data = data.get_type()? != ValueType::Undefined;
                let digest = if self.engine.authenticating() && has_data {
                    digest_of(env, self.b, &data).ok()
                } else {
                    None
                };
                let field = channel.sender_field();
                let sender: Unknown = self.b.prop(env, &body, field)?;
                let decoded = if !is_object(&sender)? {
                    Err(format!("field `{field}` must be a RaftNode object"))
                } else {
                    // SAFETY: the type was checked
                    let sender: Object = unsafe { sender.cast()? };
                    let id: Unknown = self.b.prop(env, &sender, "id")?;
                    match id_key(&id)? {
                        Err(reason) => Err(format!("field `{field}.id` {reason}")),
                        Ok(from) => {
                            let fields = JsFields::new(env, self.b, &body, Some(has_data));
                            let decoded = wire::decode(channel, &fields);
                            if fields.thrown.get() {
                                return Err(Error::new(Status::PendingException, "a field threw"));
                            }
                            match decoded {
                                Err(e) => Err(e.to_string()),
                                Ok(msg) if has_data && channel == Channel::SyncData => {
                                    // the configuration the version brings (read once)
                                    let m: Unknown = self.b.prop(env, &body, wire::MEMBERS)?;
                                    match restore::voters(&m)? {
                                        Ok(v) => Ok((from, msg, v)),
                                        Err(reason) => Err(format!("field `members` {reason}")),
                                    }
                                }
                                Ok(msg) => Ok((from, msg, None)),
                            }
                        }
                    }
                };
                (decoded, Some(body), data, digest)
            } else {
                let t = message.get_type()?;
                (
                    Err(format!(
                        "the message must be an object, got {}",
                        type_name(t)
                    )),
                    None,
                    u,
                    None,
                )
            };
        let recs = self.engine.receive(
            env,
            channel,
            decoded,
            body.as_ref(),
            digest.as_ref().map(|d| d.as_slice()),
            data,
        )?;
        if js::exception_pending(env) {
            // reading the tag threw: reported as unreadable by `dispatch`
            return Err(Error::new(Status::PendingException, "the tag threw"));
        }
        if let Some(recs) = recs {
            self.apply(env, recs)?;
        }
        Ok(())
    }

    fn ack_node(&self, env: &Env, message: Unknown) -> Result<()> {
        if self.bus.borrow().destroyed {
            return Ok(());
        }
        if !is_object(&message)? {
            self.log(
                env,
                "raft rejected ackNode: the message must be a RaftNode object",
            );
            return Ok(());
        }
        // SAFETY: the type was checked
        let node: Object = unsafe { message.cast()? };
        let time: Unknown = node.get_named_property_unchecked("time")?;
        let keep = js::truthy(&time)?;
        let id: Unknown = node.get_named_property_unchecked("id")?;
        let key = match intern_key(&id)? {
            Ok(k) => k,
            Err(reason) => {
                self.log(env, &format!("raft rejected ackNode: `id` {reason}"));
                return Ok(());
            }
        };
        let recs = self.engine.ack_node(env, key.clone(), keep)?;
        let shown = js::describe(env, &id);
        if keep {
            let new_ref = node.to_unknown().create_ref()?;
            let (known, old) = {
                let mut bus = self.bus.borrow_mut();
                match bus.members.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, r)) => (true, Some(std::mem::replace(r, new_ref))),
                    None => {
                        bus.members.push((key, new_ref));
                        (false, None)
                    }
                }
            };
            if let Some(old) = old {
                old.unref(env)?;
            }
            if !known {
                self.log(env, &format!("raft node added: {shown}"));
            }
        } else {
            let removed = {
                let mut bus = self.bus.borrow_mut();
                match bus.members.iter().position(|(k, _)| *k == key) {
                    Some(i) => Some(bus.members.remove(i).1),
                    None => None,
                }
            };
            if let Some(r) = removed {
                r.unref(env)?;
                self.log(env, &format!("raft node destroyed: {shown}"));
            }
        }
        self.apply(env, recs)
    }

    fn service_started<'env>(
        &self,
        env: &'env Env,
        message: Unknown<'env>,
    ) -> Result<Option<Unknown<'env>>> {
        if self.bus.borrow().destroyed {
            return Ok(None);
        }
        let reject = |why: &str| {
            self.log(env, &format!("raft rejected serviceStarted: {why}"));
        };
        let node: Option<Object> = if is_object(&message)? {
            // SAFETY: the type was checked
            let m: Object = unsafe { message.cast()? };
            let n: Unknown = m.get_named_property_unchecked("node")?;
            if is_object(&n)? {
                // SAFETY: the type was checked
                Some(unsafe { n.cast()? })
            } else {
                None
            }
        } else {
            None
        };
        let Some(node) = node else {
            reject("`node` must be a RaftNode with a string or number id");
            return Ok(None);
        };
        let id: Unknown = node.get_named_property_unchecked("id")?;
        let is_id = match id.get_type()? {
            ValueType::String => true,
            // SAFETY: the type was checked
            ValueType::Number => unsafe { id.cast::<f64>()? }.is_finite(),
            _ => false,
        };
        if !is_id {
            reject("`node` must be a RaftNode with a string or number id");
            return Ok(None);
        }
        let key = match intern_key(&id)? {
            Ok(k) => k,
            Err(problem) => {
                reject(&format!("`node.id` {problem}"));
                return Ok(None);
            }
        };
        let (gen, restart) = {
            let mut bus = self.bus.borrow_mut();
            bus.start_gen += 1;
            let gen = bus.start_gen;
            let restart = bus.started || bus.restoring != 0;
            if restart {
                bus.restoring = gen;
                bus.started = false;
            }
            (gen, restart)
        };
        if restart {
            // a restart: nothing is stepped and no timer fires until the restored state is in
            // (a vote given meanwhile would be forgotten by the start: two votes in one term)
            let recs = self.engine.suspend(env)?;
            self.apply(env, recs)?;
            self.set_role(env, Role::Follower as u32)?;
            let had = self.bus.borrow_mut().leader.take().is_some();
            if had {
                // the documented shape, as every other leaderChanged (not a bare null)
                let mut o = Object::new(env)?;
                o.set_named_property("leader", js::null(env)?)?;
                o.set_named_property("term", self.engine.term() as f64)?;
                self.emit(env, "leaderChanged", o.to_unknown())?;
            }
        }
        let (done, promise) = Deferred::new(env)?;
        let pending = Rc::new(PendingStart {
            done: RefCell::new(Some(done)),
            node: Rc::new(RefCell::new(Some(node.to_unknown().create_ref()?))),
            timer: RefCell::new(None),
        });
        {
            // `destroy()` settles the starts still under way
            let mut bus = self.bus.borrow_mut();
            bus.pending_starts.retain(|p| !p.is_done());
            bus.pending_starts.push(pending.clone());
        }
        // a restart reads what was persisted: let requested writes land first (bounded)
        let settle = self.engine.settle(env)?.to_unknown();
        let weak = self.me.clone();
        let after_settle = js::once(env, "restore", move |env, waited| {
            let Some(s) = weak.upgrade() else {
                return pending.finish(env);
            };
            let r = s.restore(env, gen, key, pending.clone(), waited);
            if let Err(e) = r {
                let why = js::why(env, &e);
                s.not_started(env, gen, &format!("restore failed: {why}"));
                pending.finish(env)?;
            }
            Ok(())
        })?;
        let u = js::undefined(env)?;
        js::then(env, self.b, &settle, after_settle, u)?;
        Ok(Some(promise))
    }

    /// `serviceStarted` after the persist queue settled: call `restore(node)`, then start.
    /// A restore that has not settled after `restore_bound` ms is given up (on `log`): the
    /// node does not start, `serviceStarted` resolves, a late answer is ignored.
    fn restore(
        &self,
        env: &Env,
        gen: u64,
        key: Key,
        pending: Rc<PendingStart>,
        waited: Unknown,
    ) -> Result<()> {
        if waited.get_type()? == ValueType::Number {
            let ms = js::to_string(&waited)?;
            self.log(
                env,
                &format!("raft restart: a persist has not settled after {ms} ms; restoring anyway"),
            );
        }
        if self.superseded(gen) {
            return pending.finish(env);
        }
        let restore = match &self.bus.borrow().restore {
            Some(r) => r.get_value(env)?,
            None => return pending.finish(env),
        };
        let node_value = match &*pending.node.borrow() {
            Some(n) => n.get_value(env)?,
            None => return pending.finish(env),
        };
        let returned = match js::call_catching(env, &restore, None, &[node_value]) {
            Ok(r) => r,
            Err(thrown) => {
                let why = js::describe(env, &thrown);
                self.not_started(env, gen, &format!("restore failed: {why}"));
                return pending.finish(env);
            }
        };
        let promise = js::resolved(env, self.b, returned)?;
        let (w1, w2, w3) = (self.me.clone(), self.me.clone(), self.me.clone());
        let (p1, p2, p3) = (pending.clone(), pending.clone(), pending.clone());
        let on_ok = js::once(env, "restored", move |env, r| {
            if let Some(s) = w1.upgrade() {
                if p1.is_done() {
                    s.log(
                        env,
                        "raft: restore settled after it was given up; its answer is ignored",
                    );
                } else if let Err(e) = s.start(env, gen, &key, &p1.node, r) {
                    let why = js::why(env, &e);
                    s.not_started(env, gen, &format!("restore failed: {why}"));
                }
            }
            p1.finish(env)
        })?;
        let on_err = js::once(env, "restoreFailed", move |env, e| {
            if let Some(s) = w2.upgrade() {
                if !p2.is_done() {
                    let why = js::describe(env, &e);
                    s.not_started(env, gen, &format!("restore failed: {why}"));
                }
            }
            p2.finish(env)
        })?;
        js::then(env, self.b, &promise, on_ok, on_err)?;
        // the bound: a restore that never settles must not leave `serviceStarted` pending
        let bound = self.restore_bound;
        let on_timeout = js::once(env, "restoreTimedOut", move |env, _| {
            p3.timer
                .borrow_mut()
                .take()
                .map(|t| t.unref(env))
                .transpose()?;
            if p3.is_done() {
                return Ok(());
            }
            if let Some(s) = w3.upgrade() {
                s.not_started(
                    env,
                    gen,
                    &format!(
                        "persistAgent.restore has not settled after {bound} ms (a later answer is ignored; dispatch serviceStarted to try again)"
                    ),
                );
            }
            p3.finish(env)
        })?;
        let global = env.get_global()?;
        let set_timeout: Unknown = global.get_named_property_unchecked("setTimeout")?;
        let ms = (bound as f64).into_unknown(env)?;
        let u = js::undefined(env)?;
        let timer = js::call(env, &set_timeout, &u, &[on_timeout, ms])?;
        if pending.is_done() {
            clear_timeout(env, timer)?;
        } else {
            *pending.timer.borrow_mut() = Some(timer.create_ref()?);
        }
        Ok(())
    }

    fn superseded(&self, gen: u64) -> bool {
        let bus = self.bus.borrow();
        gen != bus.start_gen || bus.destroyed
    }

    fn not_started(&self, env: &Env, gen: u64, why: &str) {
        {
            let mut bus = self.bus.borrow_mut();
            if gen != bus.start_gen {
                return;
            }
            bus.restoring = 0;
        }
        self.log(env, &format!("raft not started: {why}"));
    }

    /// What `restore` returned is in: check it, start the core.
    fn start(&self, env: &Env, gen: u64, key: &Key, node: &NodeRef, r: Unknown) -> Result<()> {
        if self.superseded(gen) {
            return Ok(());
        }
        let node_value = match &*node.borrow() {
            Some(n) => n.get_value(env)?,
            None => return Ok(()),
        };
        // SAFETY: checked to be an object by `service_started`
        let node_obj: Object = unsafe { node_value.cast()? };
        let id: Unknown = node_obj.get_named_property_unchecked("id")?;
        let restored: Restored = match restore::parse(env, self.b, r, &id, self.cluster.as_deref())?
        {
            Ok(x) => x,
            Err(why) => {
                self.not_started(env, gen, &format!("restore failed: {why}"));
                return Ok(());
            }
        };
        if self.superseded(gen) {
            return Ok(());
        }
        let wake = match &self.bus.borrow().wake {
            Some(w) => w.get_value(env)?,
            None => return Ok(()),
        };
        let recs = match self
            .engine
            .start(env, key.clone(), node_obj, restored, wake)
        {
            Ok(recs) => recs,
            Err(e) => {
                let why = js::why(env, &e);
                self.not_started(env, gen, &why);
                return Ok(());
            }
        };
        let new_ref = node_value.create_ref()?;
        let (had_leader, old) = {
            let mut bus = self.bus.borrow_mut();
            bus.restoring = 0;
            let old = bus.node.replace(new_ref);
            bus.started = true;
            bus.self_key = Some(key.clone());
            (bus.leader.take().is_some(), old)
        };
        if let Some(old) = old {
            old.unref(env)?;
        }
        if had_leader {
            let mut o = Object::new(env)?;
            o.set_named_property("leader", js::null(env)?)?;
            o.set_named_property("term", self.engine.term() as f64)?;
            self.emit(env, "leaderChanged", o.to_unknown())?;
        }
        self.apply(env, recs)
    }

    fn service_crashed(&self, env: &Env, message: Unknown) -> Result<()> {
        if self.bus.borrow().destroyed {
            return Ok(());
        }
        let reason = if is_object(&message)? {
            // SAFETY: the type was checked
            let m: Object = unsafe { message.cast()? };
            m.get_named_property_unchecked::<Unknown>("reason")?
        } else {
            message
        };
        let why = js::describe(env, &reason);
        self.log(env, &format!("raft crashed: {why}"));
        if !self.bus.borrow().started {
            return Ok(());
        }
        // the core persists the crashed state itself (a Persist output)
        let recs = self.engine.crashed(env)?;
        self.apply(env, recs)
    }

    fn replicate<'env>(
        &self,
        env: &'env Env,
        value: Unknown<'env>,
        timeout_ms: u64,
    ) -> Result<Unknown<'env>> {
        let (started, destroyed, leader) = {
            let bus = self.bus.borrow();
            (bus.started, bus.destroyed, bus.role == Role::Leader as u32)
        };
        if destroyed {
            self.log(env, "raft ignored replicateData: the node is destroyed");
            return self.rejected_with(env, Kind::Destroyed, "the node is destroyed", None);
        }
        if !started {
            self.log(env, "raft ignored replicateData: the node is not started");
            let n = js::null(env)?;
            return self.rejected_with(env, Kind::NotLeader, "the node is not started", Some(n));
        }
        if value.get_type()? == ValueType::Undefined {
            let msg = "raft rejected replicateData: the data must not be undefined";
            self.log(env, msg);
            let e = js::new_error(env, "TypeError", msg)?;
            return self.rejected(env, e);
        }
        // on the leader only (elsewhere it is refused anyway, at no cost): a value JSON cannot
        // hold would make every node's persist agent fail on it, for good; one it holds
        // differently (a Date, a Set, NaN) is stored as JSON holds it, so the version's value is
        // the same on every node, on disk and in every reader's hands, and frozen
        let value = if leader {
            let problem = match js::normalise(env, self.b, &value) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(format!(
                    "{} is not JSON",
                    value.get_type().map(type_name).unwrap_or("value")
                )),
                Err(why) => Err(why),
            };
            match problem {
                Ok(v) => v,
                Err(p) => {
                    let msg =
                        format!("raft rejected replicateData: the data must be a JSON value ({p})");
                    self.log(env, &msg);
                    let e = js::new_error(env, "TypeError", &msg)?;
                    return self.rejected(env, e);
                }
            }
        } else {
            value
        };
        let (result, recs) = self.engine.propose(env, value, timeout_ms)?;
        match result {
            Err(e) => {
                let reason = super::propose_refusal(e);
                self.log(env, &format!("raft ignored replicateData: {reason}"));
                self.apply(env, recs)?;
                match e {
                    ProposeError::Exhausted => {
                        let err = env.create_error(Error::from_reason(reason))?;
                        self.rejected(env, err.to_unknown())
                    }
                    ProposeError::Transferring => {
                        // this node still leads, but hands over: no leader takes writes yet
                        // (`.leader` null, as during an election); retry once `leaderChanged`
                        // names the new one
                        let n = js::null(env)?;
                        let msg = format!("{reason}: retry on the new leader");
                        self.rejected_with(env, Kind::NotLeader, &msg, Some(n))
                    }
                    ProposeError::NotLeader | ProposeError::NotStarted => {
                        let known = self.leader(env)?;
                        let msg = match self.engine.leader_key() {
                            Some(_) => {
                                format!("{reason}; the leader is {}", js::describe(env, &known))
                            }
                            _ => reason.to_string(),
                        };
                        self.rejected_with(env, Kind::NotLeader, &msg, Some(known))
                    }
                }
            }
            Ok(v) => {
                let (d, p) = Deferred::new(env)?;
                self.bus.borrow_mut().waiters.insert(v, d);
                self.apply(env, recs)?;
                Ok(p)
            }
        }
    }

    /// `confirmLeadership()`.
    fn confirm<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        {
            let bus = self.bus.borrow();
            if !bus.started || bus.destroyed {
                return self.settled(env, false);
            }
        }
        let (result, recs) = self.engine.confirm(env)?;
        match result {
            Err(_) => {
                self.apply(env, recs)?;
                self.settled(env, false)
            }
            Ok(id) => {
                let (d, p) = Deferred::new(env)?;
                self.bus.borrow_mut().confirm_waiters.insert(id, d);
                self.apply(env, recs)?;
                Ok(p)
            }
        }
    }

    /// `read(options)`.
    fn read<'env>(&self, env: &'env Env, options: Option<Unknown<'env>>) -> Result<Unknown<'env>> {
        let lease = match options {
            Some(o) if o.get_type()? == ValueType::Object => {
                // SAFETY: the type was checked
                let o: Object = unsafe { o.cast()? };
                let l: Unknown = o.get_named_property_unchecked("lease")?;
                match l.get_type()? {
                    ValueType::Undefined => false,
                    ValueType::Boolean => js::truthy(&l)?,
                    t => {
                        let msg = format!(
                            "read(): options.lease must be a boolean, got {}",
                            type_name(t)
                        );
                        let e = js::new_error(env, "TypeError", &msg)?;
                        return self.rejected(env, e);
                    }
                }
            }
            Some(o) if !matches!(o.get_type()?, ValueType::Undefined | ValueType::Null) => {
                let msg = format!(
                    "read(): options must be an object, got {}",
                    type_name(o.get_type()?)
                );
                let e = js::new_error(env, "TypeError", &msg)?;
                return self.rejected(env, e);
            }
            _ => false,
        };
        let (started, destroyed) = {
            let bus = self.bus.borrow();
            (bus.started, bus.destroyed)
        };
        if destroyed {
            return self.rejected_with(env, Kind::Destroyed, "the node is destroyed", None);
        }
        if !started {
            let n = js::null(env)?;
            return self.rejected_with(env, Kind::NotLeader, "the node is not started", Some(n));
        }
        let (result, recs) = self.engine.read(env, lease)?;
        match result {
            Err(_) => {
                self.apply(env, recs)?;
                self.not_leader(env, "read(): not the leader")
            }
            Ok(id) => {
                let (d, p) = Deferred::new(env)?;
                self.bus.borrow_mut().read_waiters.insert(id, d);
                self.apply(env, recs)?;
                Ok(p)
            }
        }
    }

    /// A rejected Promise of a `NotLeaderError` naming the known leader (or `null`).
    fn not_leader<'env>(&self, env: &'env Env, reason: &str) -> Result<Unknown<'env>> {
        let known = self.leader(env)?;
        let msg = match self.engine.leader_key() {
            Some(_) => format!("{reason}; the leader is {}", js::describe(env, &known)),
            None => format!("{reason}; no leader is known"),
        };
        self.rejected_with(env, Kind::NotLeader, &msg, Some(known))
    }

    /// A `read()` decided: settle its Promise.
    fn read_decided(
        &self,
        env: &Env,
        id: u64,
        result: std::result::Result<(Unknown, Version), ReadFailure>,
    ) -> Result<()> {
        let (d, destroyed) = {
            let mut bus = self.bus.borrow_mut();
            (bus.read_waiters.remove(&id), bus.destroyed)
        };
        let Some(d) = d else {
            return Ok(());
        };
        let e = match result {
            Ok((data, v)) => {
                let mut o = Object::new(env)?;
                o.set_named_property("data", data)?;
                o.set_named_property("term", v.term as f64)?;
                o.set_named_property("index", v.index as f64)?;
                return d.resolve(env, o.to_unknown());
            }
            Err(ReadFailure::TimedOut) => errors::make(
                env,
                Kind::Timeout,
                "read(): no majority confirmed the leadership in time",
                None,
            )?,
            Err(_) if destroyed => {
                errors::make(env, Kind::Destroyed, "the node is destroyed", None)?
            }
            Err(_) => {
                let known = self.leader(env)?;
                errors::make(
                    env,
                    Kind::NotLeader,
                    "read(): the node stopped leading before it could answer",
                    Some(known),
                )?
            }
        };
        d.reject(env, e)
    }

    fn transfer<'env>(&self, env: &'env Env, id: Unknown<'env>) -> Result<Unknown<'env>> {
        {
            let bus = self.bus.borrow();
            if !bus.started || bus.destroyed {
                return self.settled(env, false);
            }
        }
        let to = match id.get_type()? {
            ValueType::Undefined | ValueType::Null => None,
            _ => match id_key(&id)? {
                Ok(k) => Some(k),
                Err(reason) => {
                    self.log(env, &format!("raft transfer refused: `id` {reason}"));
                    return self.settled(env, false);
                }
            },
        };
        let (result, recs) = self.engine.transfer(env, to)?;
        match result {
            Err(reason) => {
                self.log(env, &format!("raft transfer refused: {reason}"));
                self.apply(env, recs)?;
                self.settled(env, false)
            }
            Ok(_) => {
                let (d, p) = Deferred::new(env)?;
                self.bus.borrow_mut().transfer_waiters.push_back(d);
                self.apply(env, recs)?;
                Ok(p)
            }
        }
    }

    /// The wake-up: what the timer task or a completed persist produced.
    fn drain(&self, env: &Env) {
        let r = self
            .engine
            .drain(env)
            .and_then(|recs| self.apply(env, recs));
        if let Err(e) = r {
            let why = js::why(env, &e);
            self.log(env, &format!("raft internal error: {why}"));
        }
    }

    // ---- outputs ----

    /// Emit the records of one call.
    fn apply(&self, env: &Env, recs: Records) -> Result<()> {
        for r in recs.list {
            match r {
                Rec::Send {
                    to,
                    msg,
                    data,
                    voters,
                } => self.send(env, &to, &msg, data, voters.as_ref())?,
                Rec::Role(role) => self.set_role(env, role)?,
                Rec::Leader(leader, term) => {
                    self.bus.borrow_mut().leader = leader;
                    let id = self.leader(env)?;
                    let mut o = Object::new(env)?;
                    o.set_named_property("leader", id)?;
                    o.set_named_property("term", term as f64)?;
                    self.emit(env, "leaderChanged", o.to_unknown())?;
                }
                Rec::Data(value, v) => {
                    let mut o = Object::new(env)?;
                    o.set_named_property("data", value)?;
                    o.set_named_property("term", v.term as f64)?;
                    o.set_named_property("index", v.index as f64)?;
                    self.emit(env, "dataChanged", o.to_unknown())?
                }
                Rec::Log(line) => self.log(env, &line),
                Rec::Proposal {
                    version,
                    committed,
                    failure,
                    latency_ms,
                } => self.proposal(env, version, committed, failure, latency_ms)?,
                Rec::Committed(c) => self.committed(env, c),
                Rec::Confirmed { id, confirmed } => {
                    let d = self.bus.borrow_mut().confirm_waiters.remove(&id);
                    if let Some(d) = d {
                        d.resolve(env, confirmed.into_unknown(env)?)?;
                    }
                }
                Rec::Read { id, result } => self.read_decided(env, id, result)?,
                Rec::Transfer { succeeded } => {
                    let d = self.bus.borrow_mut().transfer_waiters.pop_front();
                    if let Some(d) = d {
                        d.resolve(env, succeeded.into_unknown(env)?)?;
                    }
                }
                Rec::Config {
                    voters,
                    version,
                    committed,
                } => {
                    let mut o = Object::new(env)?;
                    o.set_named_property("members", voters_array(env, &voters)?)?;
                    o.set_named_property("committed", committed)?;
                    o.set_named_property("term", version.term as f64)?;
                    o.set_named_property("index", version.index as f64)?;
                    self.log(
                        env,
                        &format!(
                            "raft configuration {}: {} voters at version {}.{}",
                            if committed { "committed" } else { "changed" },
                            voters.len(),
                            version.term,
                            version.index
                        ),
                    );
                    self.emit(env, "membershipChanged", o.to_unknown())?
                }
            }
        }
        Ok(())
    }

    /// A proposal decided: settle its `replicate()` Promise.
    fn proposal(
        &self,
        env: &Env,
        version: Version,
        committed: bool,
        failure: Option<ProposalFailure>,
        latency_ms: u64,
    ) -> Result<()> {
        let (d, destroyed) = {
            let mut bus = self.bus.borrow_mut();
            if committed {
                bus.commit_latency.observe(latency_ms);
            }
            if failure == Some(ProposalFailure::TimedOut) {
                bus.timed_out.push(version);
            }
            (bus.waiters.remove(&version), bus.destroyed)
        };
        let Some(d) = d else {
            return Ok(());
        };
        let v = version_object(env, version)?;
        if committed {
            return d.resolve(env, v);
        }
        let at = format!("{}:{}", version.term, version.index);
        let e = match failure {
            Some(ProposalFailure::Superseded) => errors::make(
                env,
                Kind::Superseded,
                &format!("version {at} was replaced by a newer leader's data"),
                Some(v),
            )?,
            Some(ProposalFailure::TimedOut) => errors::make(
                env,
                Kind::Timeout,
                &format!("version {at} was not committed in time (it may still commit)"),
                Some(v),
            )?,
            _ if destroyed => errors::make(env, Kind::Destroyed, "the node is destroyed", None)?,
            _ => {
                let n = js::null(env)?;
                errors::make(
                    env,
                    Kind::NotLeader,
                    &format!("the node restarted before version {at} was decided"),
                    Some(n),
                )?
            }
        };
        d.reject(env, e)
    }

    /// The commit point advanced: what it proves about timed-out proposals is logged.
    fn committed(&self, env: &Env, c: Version) {
        let decided: Vec<(Version, bool)> = {
            let mut bus = self.bus.borrow_mut();
            let mut out = Vec::new();
            bus.timed_out.retain(|v| match v.fate_under(c) {
                Some(f) => {
                    out.push((*v, f));
                    false
                }
                None => true,
            });
            out
        };
        for (v, f) in decided {
            let what = if f { "committed" } else { "superseded" };
            self.log(
                env,
                &format!(
                    "raft replicate: version {}:{} (timed out earlier) was {what}",
                    v.term, v.index
                ),
            );
        }
    }

    fn set_role(&self, env: &Env, role: u32) -> Result<()> {
        let changed = {
            let mut bus = self.bus.borrow_mut();
            let changed = bus.role != role;
            bus.role = role;
            changed
        };
        if changed {
            self.emit(env, "roleChanged", role.into_unknown(env)?)?;
        }
        Ok(())
    }

    fn leader<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        match &self.bus.borrow().leader {
            Some(k) => key_to_id(env, k),
            None => js::null(env),
        }
    }

    /// A message to the member `to`: its body is built only when someone listens to its
    /// event; with a secret it is signed.
    fn send(
        &self,
        env: &Env,
        to: &str,
        msg: &Message,
        data: Option<Unknown>,
        voters: Option<&Voters<Key>>,
    ) -> Result<()> {
        let channel = msg.channel();
        let event = channel.outgoing_event();
        // the body is built only when someone listens
        if !self.has_listeners(event) {
            return Ok(());
        }
        let (destination, node) = {
            let bus = self.bus.borrow();
            let destination = match bus.members.iter().find(|(k, _)| &**k == to) {
                Some((_, r)) => Some(r.get_value(env)?.to_unknown()),
                // a voter of the configuration this node never acked (it holds the
                // configuration from its leader or its file): addressed by its id alone
                None => {
                    let mut d = Object::new(env)?;
                    d.set_named_property("id", key_to_id(env, to)?)?;
                    Some(d.to_unknown())
                }
            };
            let node = bus.node.as_ref().map(|n| n.get_value(env)).transpose()?;
            (destination, node)
        };
        let Some(destination) = destination else {
            return Ok(());
        };
        let mut names: Vec<&'static str> = Vec::with_capacity(8);
        let mut values: Vec<Unknown> = Vec::with_capacity(8);
        let mut err = Ok(());
        wire::encode(msg, |name, v| {
            if err.is_ok() {
                let value = match v {
                    wire::Out::Number(n) => (n as f64).into_unknown(env),
                    wire::Out::Bool(b) => b.into_unknown(env),
                };
                match value {
                    Ok(v) => {
                        names.push(name);
                        values.push(v);
                    }
                    Err(e) => err = Err(e),
                }
            }
        });
        err?;
        let sender = match node {
            Some(n) => n,
            None => js::undefined(env)?,
        };
        let timeout = self.timeout.into_unknown(env)?;
        let built = self.b.body(
            env,
            &names,
            &values,
            channel.sender_field(),
            [destination, timeout, sender],
        )?;
        // SAFETY: the factory returns an object literal
        let body: Object = unsafe { built.cast()? };
        if let Some(d) = data {
            self.b.set_prop(env, &body, wire::DATA, d)?;
            if let Some(v) = voters {
                self.b.set_prop(
                    env,
                    &body,
                    wire::MEMBERS,
                    voters_array(env, v)?.to_unknown(),
                )?;
            }
        }
        let members = voters.filter(|_| data.is_some()).map(|v| v.as_slice());
        if self.engine.authenticating() {
            let digest = match data {
                Some(d) => digest_of(env, self.b, &d).map(Some),
                None => Ok(None),
            };
            let tag = digest.and_then(|d| {
                self.engine
                    .sign(to, msg, d.as_ref().map(|d| d.as_slice()), members)
                    .map_err(|e| e.reason.clone())
            });
            match tag {
                Ok(tag) => self.b.set_prop(env, &body, "tag", tag.into_unknown(env)?)?,
                Err(why) => self.log(env, &format!("raft cannot sign {event}: {why}")),
            }
        }
        self.emit(env, event, body.to_unknown())
    }

    // ---- extras ----

    fn status<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let st = self.engine.status(env)?;
        let mut o = Object::new(env)?;
        let version = |v: Version| -> Result<Object<'env>> {
            let mut x = Object::new(env)?;
            x.set_named_property("term", v.term as f64)?;
            x.set_named_property("index", v.index as f64)?;
            Ok(x)
        };
        let key_id = |k: Option<&Key>| -> Result<Unknown<'env>> {
            match k {
                Some(k) => key_to_id(env, k),
                None => js::null(env),
            }
        };
        let (node, role, dropped, unreadable) = {
            let bus = self.bus.borrow();
            (
                bus.node.as_ref().map(|n| n.get_value(env)).transpose()?,
                bus.role,
                bus.dropped,
                bus.unreadable,
            )
        };
        let id = match node {
            Some(n) if is_object(&n)? => {
                // SAFETY: the type was checked
                let n: Object = unsafe { n.cast()? };
                n.get_named_property_unchecked::<Unknown>("id")?
            }
            _ => js::null(env)?,
        };
        o.set_named_property("id", id)?;
        o.set_named_property("role", role)?;
        let core = st.core.as_ref();
        o.set_named_property("preCandidate", core.is_some_and(|c| c.pre_candidate))?;
        o.set_named_property("term", core.map_or(0.0, |c| c.term as f64))?;
        o.set_named_property("votedFor", key_id(core.and_then(|c| c.voted_for.as_ref()))?)?;
        o.set_named_property("leader", self.leader(env)?)?;
        o.set_named_property(
            "version",
            version(core.map_or(Version::ZERO, |c| c.latest))?,
        )?;
        o.set_named_property(
            "commit",
            version(core.map_or(Version::ZERO, |c| c.committed))?,
        )?;
        let mut members = env.create_array(0)?;
        for m in &st.members {
            members.insert(key_to_id(env, m)?)?;
        }
        o.set_named_property("members", members)?;
        // the configuration: the voters counted over, the committed ones (null: none held
        // yet, bootstrapping from the acks), and the leader's learners
        let ids = |list: &[Key]| -> Result<napi::bindgen_prelude::Array> {
            let mut a = env.create_array(0)?;
            for k in list {
                a.insert(key_to_id(env, k)?)?;
            }
            Ok(a)
        };
        let mut configuration = Object::new(env)?;
        configuration.set_named_property("voters", ids(core.map_or(&[][..], |c| &c.voters))?)?;
        match core.and_then(|c| c.committed_voters.as_ref()) {
            Some(v) => configuration.set_named_property("committed", ids(v)?)?,
            None => configuration.set_named_property("committed", js::null(env)?)?,
        }
        let pending = core.is_some_and(|c| c.committed_voters.as_ref() != Some(&c.voters));
        configuration.set_named_property("pending", pending)?;
        configuration
            .set_named_property("learners", ids(core.map_or(&[][..], |c| &c.learners))?)?;
        o.set_named_property("configuration", configuration)?;
        let mut persist = Object::new(env)?;
        persist.set_named_property(
            "requested",
            core.map_or(0.0, |c| c.persist_requested as f64),
        )?;
        persist.set_named_property("done", core.map_or(0.0, |c| c.persist_done as f64))?;
        o.set_named_property("persist", persist)?;
        o.set_named_property("rejected", (st.rejected + unreadable) as f64)?;
        o.set_named_property("held", core.map_or(0.0, |c| c.held as f64))?;
        o.set_named_property("strangers", st.strangers as f64)?;
        o.set_named_property("dropped", dropped as f64)?;
        o.set_named_property("unauthenticated", st.unauthenticated as f64)?;
        o.set_named_property("values", st.values)?;
        o.set_named_property("leaseValid", core.is_some_and(|c| c.lease_valid))?;
        match core.and_then(|c| c.last_leader_contact) {
            Some(ms) => o.set_named_property("lastLeaderContactMs", ms as f64)?,
            None => o.set_named_property("lastLeaderContactMs", js::null(env)?)?,
        }
        let mut followers = env.create_array(0)?;
        if let Some(c) = core {
            for p in &c.progress {
                if p.id == c.id {
                    continue;
                }
                followers.insert(progress_object(env, p)?)?;
            }
        }
        o.set_named_property("followers", followers)?;
        persist.set_named_property("inFlight", st.persist_in_flight)?;
        persist.set_named_property("pending", st.persist_pending)?;
        persist.set_named_property("calls", st.persist.calls as f64)?;
        persist.set_named_property("failures", st.persist.failures as f64)?;
        match st.persist.last_ms {
            Some(ms) => persist.set_named_property("lastMs", ms)?,
            None => persist.set_named_property("lastMs", js::null(env)?)?,
        }
        let h = &st.persist.latency;
        if h.count > 0 {
            persist.set_named_property("meanMs", h.sum / h.count as f64)?;
        } else {
            persist.set_named_property("meanMs", js::null(env)?)?;
        }
        Ok(o)
    }

    /// `getMetrics()`.
    fn metrics<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let m = self.engine.metrics();
        let (dropped, unreadable, commit_latency, role) = {
            let bus = self.bus.borrow();
            (
                bus.dropped,
                bus.unreadable,
                bus.commit_latency.clone(),
                bus.role,
            )
        };
        let c = &m.core;
        let mut o = Object::new(env)?;
        let n = |x: u64| x as f64;
        o.set_named_property("term", n(m.status.as_ref().map_or(0, |s| s.term)))?;
        o.set_named_property("role", role)?;
        o.set_named_property("isLeader", role == Role::Leader as u32)?;
        o.set_named_property("preVotesStarted", n(c.pre_votes_started))?;
        o.set_named_property("electionsStarted", n(c.elections_started))?;
        o.set_named_property("electionsWon", n(c.elections_won))?;
        o.set_named_property("leaderChanges", n(c.leader_changes))?;
        o.set_named_property("configChanges", n(c.config_changes))?;
        let mut msg_in = Object::new(env)?;
        let mut msg_out = Object::new(env)?;
        for ch in Channel::ALL {
            msg_in.set_named_property(ch.outgoing_event(), n(c.messages_in(ch)))?;
            msg_out.set_named_property(ch.outgoing_event(), n(c.messages_out(ch)))?;
        }
        o.set_named_property("messagesIn", msg_in)?;
        o.set_named_property("messagesOut", msg_out)?;
        let mut rejected = Object::new(env)?;
        for (reason, count) in &c.rejected {
            rejected.set_named_property(reason, n(*count))?;
        }
        if m.rejected + unreadable > 0 {
            rejected.set_named_property("malformed", n(m.rejected + unreadable))?;
        }
        if m.strangers > 0 {
            // counted by the core under its own reason too; kept as the binding's total
            rejected.set_named_property("stranger", n(m.strangers))?;
        }
        if m.unauthenticated > 0 {
            rejected.set_named_property("unauthenticated", n(m.unauthenticated))?;
        }
        o.set_named_property("rejected", rejected)?;
        o.set_named_property("dropped", n(dropped))?;
        let mut proposals = Object::new(env)?;
        proposals.set_named_property("committed", n(c.proposals_committed))?;
        proposals.set_named_property("superseded", n(c.proposals_superseded))?;
        proposals.set_named_property("timedOut", n(c.proposals_timed_out))?;
        proposals.set_named_property("stopped", n(c.proposals_stopped))?;
        o.set_named_property("proposals", proposals)?;
        o.set_named_property("commitLatencyMs", histogram_object(env, &commit_latency)?)?;
        let mut confirmations = Object::new(env)?;
        confirmations.set_named_property("confirmed", n(c.confirmations_true))?;
        confirmations.set_named_property("failed", n(c.confirmations_false))?;
        o.set_named_property("confirmations", confirmations)?;
        o.set_named_property("pausesDetected", n(c.pauses_detected))?;
        let mut persist = Object::new(env)?;
        persist.set_named_property("calls", n(m.persist.calls))?;
        persist.set_named_property("failures", n(m.persist.failures))?;
        persist.set_named_property("inFlight", m.persist_in_flight)?;
        persist.set_named_property("pending", m.persist_pending)?;
        persist.set_named_property("latencyMs", histogram_object(env, &m.persist.latency)?)?;
        o.set_named_property("persist", persist)?;
        let mut followers = env.create_array(0)?;
        if let Some(st) = &m.status {
            let commit = st.committed.index;
            for p in &st.progress {
                if p.id == st.id {
                    continue;
                }
                let mut f = progress_object(env, p)?;
                // versions behind the commit point (the index counts versions)
                let lag = commit.saturating_sub(p.match_version.map_or(0, |v| v.index));
                f.set_named_property("lag", n(lag))?;
                followers.insert(f)?;
            }
        }
        o.set_named_property("followers", followers)?;
        Ok(o)
    }

    fn destroy<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let (was_started, waiters, transfers) = {
            let mut bus = self.bus.borrow_mut();
            let was = bus.started || bus.restoring != 0;
            bus.destroyed = true;
            bus.started = false;
            bus.restoring = 0;
            bus.start_gen += 1;
            let mut waiters: Vec<Deferred> = bus.waiters.drain().map(|(_, d)| d).collect();
            waiters.extend(bus.read_waiters.drain().map(|(_, d)| d));
            let mut transfers: Vec<Deferred> = bus.transfer_waiters.drain(..).collect();
            transfers.extend(bus.confirm_waiters.drain().map(|(_, d)| d));
            (was, waiters, transfers)
        };
        // the final state goes through the persist queue (after the call in flight, never
        // beside it), covering any request still pending
        if let Err(e) = self.engine.stop(env, was_started) {
            let why = js::why(env, &e);
            self.log(env, &format!("raft internal error: {why}"));
        }
        for d in waiters {
            let e = errors::make(env, Kind::Destroyed, "the node is destroyed", None)?;
            d.reject(env, e)?;
        }
        for d in transfers {
            d.resolve(env, false.into_unknown(env)?)?;
        }
        // a `serviceStarted` still waiting (for `restore`, say) resolves now
        let starts = std::mem::take(&mut self.bus.borrow_mut().pending_starts);
        for p in starts {
            if !p.is_done() {
                self.log(env, "raft not started: destroyed while restoring");
            }
            p.finish(env)?;
        }
        let (done, promise) = Deferred::new(env)?;
        let settle = self.engine.settle(env)?.to_unknown();
        let weak = self.me.clone();
        let after = js::once(env, "destroyed", move |env, waited| {
            if let Some(s) = weak.upgrade() {
                s.destroyed(env, waited)?;
            }
            done.resolve(env, js::undefined(env)?)
        })?;
        let u = js::undefined(env)?;
        js::then(env, self.b, &settle, after, u)?;
        Ok(promise)
    }

    /// The end of `destroy()`, once the persist queue settled (or its bound passed).
    fn destroyed(&self, env: &Env, waited: Unknown) -> Result<()> {
        if waited.get_type()? == ValueType::Number {
            let ms = js::to_string(&waited)?;
            self.log(
                env,
                &format!("raft destroy: a persist has not settled after {ms} ms; the final state is not written"),
            );
            // nothing more is written: a late write could land over a newer instance's state
            self.engine.close_persist();
        }
        self.log(env, "raft destroyed");
        // the log listeners were scheduled already: remove every listener now
        let refs: Vec<UnknownRef> = {
            let mut bus = self.bus.borrow_mut();
            let mut refs = Vec::new();
            for (_, ls) in bus.listeners.drain() {
                refs.extend(ls.into_iter().map(|l| l.f));
            }
            for (k, ls) in bus.odd_listeners.drain(..) {
                refs.push(k);
                refs.extend(ls.into_iter().map(|l| l.f));
            }
            refs.extend(bus.on_fail.drain().map(|(_, r)| r));
            refs.extend([bus.restore.take(), bus.wake.take()].into_iter().flatten());
            refs
        };
        for r in refs {
            r.unref(env)?;
        }
        self.engine.release(env)
    }
}
