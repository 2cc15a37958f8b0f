//! Small N-API helpers the `Raftq` class needs on the JS thread: Promises resolved in place
//! (not through a threadsafe function), calls that catch what the callee threw, and the
//! JavaScript built-ins the event bus uses (`Promise.prototype.then`, `Promise.all`,
//! `JSON.stringify`, a listener runner and body factories), made once per thread.

use napi::bindgen_prelude::{Function, FunctionCallContext, JsObjectValue, Object, Unknown};
use napi::{sys, Env, Error, JsValue, Result, Status, UnknownRef, ValueType};
use std::cell::Cell;

/// A Promise created on the JS thread and settled there, at once (`napi_resolve_deferred`).
pub struct Deferred(sys::napi_deferred);

impl Deferred {
    /// A new pending Promise and its resolver.
    pub fn new(env: &Env) -> Result<(Deferred, Unknown<'_>)> {
        let mut deferred = std::ptr::null_mut();
        let mut promise = std::ptr::null_mut();
        // SAFETY: N-API call on the JS thread
        check(unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) })?;
        // SAFETY: a value napi just created in this env
        Ok((Deferred(deferred), unsafe {
            Unknown::from_raw_unchecked(env.raw(), promise)
        }))
    }

    pub fn resolve(self, env: &Env, value: Unknown) -> Result<()> {
        // SAFETY: N-API call on the JS thread; the deferred is consumed once
        check(unsafe { sys::napi_resolve_deferred(env.raw(), self.0, value.raw()) })
    }

    pub fn reject(self, env: &Env, reason: Unknown) -> Result<()> {
        // SAFETY: N-API call on the JS thread; the deferred is consumed once
        check(unsafe { sys::napi_reject_deferred(env.raw(), self.0, reason.raw()) })
    }
}

/// `new globalThis[class](message)` (`Error`, `TypeError`, ...).
pub fn new_error<'env>(env: &'env Env, class: &str, message: &str) -> Result<Unknown<'env>> {
    let global = env.get_global()?;
    let c: Unknown = global.get_named_property_unchecked(class)?;
    let m = napi::bindgen_prelude::ToNapiValue::into_unknown(message, env)?;
    new_instance(env, &c, &[m])
}

/// `new constructor(...args)`, the error (a pending exception) propagated.
pub fn new_instance<'env>(
    env: &'env Env,
    constructor: &Unknown<'env>,
    args: &[Unknown<'env>],
) -> Result<Unknown<'env>> {
    let argv: Vec<sys::napi_value> = args.iter().map(|a| a.raw()).collect();
    let mut out = std::ptr::null_mut();
    // SAFETY: raw N-API call on the JS thread with values of this env
    check(unsafe {
        sys::napi_new_instance(
            env.raw(),
            constructor.raw(),
            argv.len(),
            argv.as_ptr(),
            &mut out,
        )
    })?;
    // SAFETY: a value napi just created in this env
    Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), out) })
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(Status::from(status), "N-API call failed"))
    }
}

/// `undefined`.
pub fn undefined(env: &Env) -> Result<Unknown<'_>> {
    let mut out = std::ptr::null_mut();
    // SAFETY: N-API call on the JS thread
    check(unsafe { sys::napi_get_undefined(env.raw(), &mut out) })?;
    // SAFETY: a value of this env
    Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), out) })
}

/// `null`.
pub fn null(env: &Env) -> Result<Unknown<'_>> {
    let mut out = std::ptr::null_mut();
    // SAFETY: N-API call on the JS thread
    check(unsafe { sys::napi_get_null(env.raw(), &mut out) })?;
    // SAFETY: a value of this env
    Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), out) })
}

/// Whether an exception is pending (a getter threw while something was read).
pub fn exception_pending(env: &Env) -> bool {
    let mut pending = false;
    // SAFETY: N-API call on the JS thread
    unsafe { sys::napi_is_exception_pending(env.raw(), &mut pending) };
    pending
}

/// The exception a failed N-API call left pending, cleared.
pub fn take_exception(env: &Env) -> Option<Unknown<'_>> {
    let mut pending = false;
    // SAFETY: N-API calls on the JS thread
    unsafe {
        sys::napi_is_exception_pending(env.raw(), &mut pending);
        if !pending {
            return None;
        }
        let mut thrown = std::ptr::null_mut();
        if sys::napi_get_and_clear_last_exception(env.raw(), &mut thrown) != sys::Status::napi_ok {
            return None;
        }
        Some(Unknown::from_raw_unchecked(env.raw(), thrown))
    }
}

/// Call `f` with `this` and `args`; `Err` with the thrown value (cleared) if it threw.
pub fn call_catching<'env>(
    env: &'env Env,
    f: &Unknown<'env>,
    this: Option<&Unknown<'env>>,
    args: &[Unknown<'env>],
) -> std::result::Result<Unknown<'env>, Unknown<'env>> {
    let raw_env = env.raw();
    let argv: Vec<sys::napi_value> = args.iter().map(|a| a.raw()).collect();
    let mut out = std::ptr::null_mut();
    // SAFETY: raw N-API calls on the JS thread with values of this env
    unsafe {
        let this = match this {
            Some(t) => t.raw(),
            None => {
                let mut u = std::ptr::null_mut();
                sys::napi_get_undefined(raw_env, &mut u);
                u
            }
        };
        let status =
            sys::napi_call_function(raw_env, this, f.raw(), argv.len(), argv.as_ptr(), &mut out);
        if status == sys::Status::napi_ok {
            return Ok(Unknown::from_raw_unchecked(raw_env, out));
        }
        match take_exception(env) {
            Some(thrown) => Err(thrown),
            None => {
                Err(undefined(env).unwrap_or_else(|_| Unknown::from_raw_unchecked(raw_env, out)))
            }
        }
    }
}

/// Call `f` with `this` and `args`, the error (a pending exception) propagated.
pub fn call<'env>(
    env: &'env Env,
    f: &Unknown<'env>,
    this: &Unknown<'env>,
    args: &[Unknown<'env>],
) -> Result<Unknown<'env>> {
    let argv: Vec<sys::napi_value> = args.iter().map(|a| a.raw()).collect();
    let mut out = std::ptr::null_mut();
    // SAFETY: raw N-API call on the JS thread with values of this env
    check(unsafe {
        sys::napi_call_function(
            env.raw(),
            this.raw(),
            f.raw(),
            argv.len(),
            argv.as_ptr(),
            &mut out,
        )
    })?;
    // SAFETY: a value of this env
    Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), out) })
}

/// A thrown or rejected value as a log line shows it (JS: `e instanceof Error ? e.message :
/// String(e)`; `unknown error` when even that throws).
pub fn describe(env: &Env, e: &Unknown) -> String {
    let text = (|| -> Result<String> {
        if e.get_type()? == ValueType::Object && e.is_error()? {
            // SAFETY: the type was checked
            let o: Object = unsafe { e.cast()? };
            let m: Unknown = o.get_named_property_unchecked("message")?;
            return to_string(&m);
        }
        to_string(e)
    })();
    match text {
        Ok(t) => t,
        Err(_) => {
            // a throwing toString() left its exception pending
            take_exception(env);
            "unknown error".to_string()
        }
    }
}

/// What a failed call means for a log line: the exception it left pending (cleared), or the
/// error's own reason.
pub fn why(env: &Env, e: &Error) -> String {
    match take_exception(env) {
        Some(thrown) => describe(env, &thrown),
        None => e.reason.clone(),
    }
}

/// The UTF-16 code units of the JS string `v`, when it holds a lone surrogate (an unpaired
/// code unit: its UTF-8 text reads it as U+FFFD, like every other lone surrogate and like
/// U+FFFD itself); `None` otherwise. Asked only of texts that contain U+FFFD (rare), so it
/// may allocate.
pub fn lone_surrogate_units(v: &Unknown) -> Result<Option<Vec<u16>>> {
    let mut len = 0usize;
    // SAFETY: N-API calls on the JS thread; the buffer outlives them and its size is passed
    unsafe {
        check(sys::napi_get_value_string_utf16(
            v.value().env,
            v.raw(),
            std::ptr::null_mut(),
            0,
            &mut len,
        ))?;
        let mut units = vec![0u16; len + 1];
        let mut written = 0usize;
        check(sys::napi_get_value_string_utf16(
            v.value().env,
            v.raw(),
            units.as_mut_ptr(),
            units.len(),
            &mut written,
        ))?;
        units.truncate(written);
        let lone = char::decode_utf16(units.iter().copied()).any(|c| c.is_err());
        Ok(lone.then_some(units))
    }
}

pub fn has_lone_surrogate(v: &Unknown) -> Result<bool> {
    Ok(lone_surrogate_units(v)?.is_some())
}

/// Marks an event-name key that is not the name's text (see `str_in`); no built-in event
/// name starts with it.
pub const ESCAPED_NAME: char = '\u{FFFF}';

/// A JS string's text as an event-name key: borrowed from `buf` when it fits, else owned;
/// `None` for any other value. The key is the text itself, except for two kinds of names: a
/// string with a lone surrogate (whose UTF-8 text would be the same as other strings') is
/// `U+FFFF 'L'` and its code units in hex, and a string that starts with U+FFFF is `U+FFFF
/// 'S'` and its text: distinct names, distinct keys. (Event names are short: most dispatches
/// allocate nothing for them.)
pub fn str_in<'b>(v: &Unknown, buf: &'b mut [u8]) -> Result<Option<std::borrow::Cow<'b, str>>> {
    let text = str_in_lossy(v, buf)?;
    let Some(t) = text else {
        return Ok(None);
    };
    if t.contains('\u{FFFD}') {
        if let Some(units) = lone_surrogate_units(v)? {
            let mut key = String::with_capacity(2 + 4 * units.len());
            key.push(ESCAPED_NAME);
            key.push('L');
            for u in units {
                key.push_str(&format!("{u:04x}"));
            }
            return Ok(Some(std::borrow::Cow::Owned(key)));
        }
    }
    if t.starts_with(ESCAPED_NAME) {
        let mut key = String::with_capacity(t.len() + 4);
        key.push(ESCAPED_NAME);
        key.push('S');
        key.push_str(&t);
        return Ok(Some(std::borrow::Cow::Owned(key)));
    }
    Ok(Some(t))
}

fn str_in_lossy<'b>(v: &Unknown, buf: &'b mut [u8]) -> Result<Option<std::borrow::Cow<'b, str>>> {
    if v.get_type()? != ValueType::String {
        return Ok(None);
    }
    let mut len = 0usize;
    // SAFETY: N-API calls on the JS thread; the buffer outlives them and its size is passed
    unsafe {
        check(sys::napi_get_value_string_utf8(
            v.value().env,
            v.raw(),
            std::ptr::null_mut(),
            0,
            &mut len,
        ))?;
        if len < buf.len() {
            let mut written = 0usize;
            check(sys::napi_get_value_string_utf8(
                v.value().env,
                v.raw(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            ))?;
            if let Ok(text) = std::str::from_utf8(&buf[..written]) {
                return Ok(Some(std::borrow::Cow::Borrowed(text)));
            }
        }
        Ok(Some(std::borrow::Cow::Owned(v.cast::<String>()?)))
    }
}

/// `String(v)`.
pub fn to_string(v: &Unknown) -> Result<String> {
    if v.get_type()? == ValueType::Symbol {
        return Ok("Symbol()".to_string());
    }
    v.coerce_to_string()?.into_utf8()?.into_owned()
}

/// JavaScript truthiness.
pub fn truthy(v: &Unknown) -> Result<bool> {
    v.coerce_to_bool()
}

/// `a === b`.
pub fn strict_equals(env: &Env, a: &Unknown, b: &Unknown) -> Result<bool> {
    let mut out = false;
    // SAFETY: N-API call on the JS thread
    check(unsafe { sys::napi_strict_equals(env.raw(), a.raw(), b.raw(), &mut out) })?;
    Ok(out)
}

/// A JS function running `f` once (later calls do nothing), with its first argument.
pub fn once<'env, F>(env: &'env Env, name: &str, f: F) -> Result<Unknown<'env>>
where
    F: FnOnce(&Env, Unknown) -> Result<()> + 'static,
{
    let cell = Cell::new(Some(f));
    let func: Function<Unknown, ()> =
        env.create_function_from_closure(name, move |ctx: FunctionCallContext| {
            let arg: Unknown = match ctx.get::<Unknown>(0) {
                Ok(a) => a,
                Err(_) => undefined(ctx.env)?,
            };
            match cell.take() {
                Some(f) => f(ctx.env, arg),
                None => Ok(()),
            }
        })?;
    Ok(func.to_unknown())
}

/// The built-ins the bus uses, looked up once.
pub struct Builtins {
    /// `(l, p, f) => Promise.resolve().then(() => l(p)).then(undefined, f)`: runs a listener
    /// in a microtask, its failure (thrown or rejected) to `f`; one call instead of four.
    pub run_listener: UnknownRef,
    /// Body factories by shape (see `body`): an object literal V8 builds with one hidden
    /// class, where setting each property through N-API costs a call and a name lookup.
    bodies: std::cell::RefCell<std::collections::HashMap<u64, UnknownRef>>,
    /// `Function`, to make them.
    function: UnknownRef,
    /// `Promise.prototype.then`
    pub then: UnknownRef,
    /// `Promise.all` bound to `Promise`
    pub all: UnknownRef,
    /// `Promise.resolve` bound to `Promise`
    pub resolve: UnknownRef,
    /// `JSON.stringify` bound to `JSON`
    pub stringify: UnknownRef,
    /// A resolved Promise (of `undefined`): what `dispatch` returns when nothing waits.
    pub resolved: UnknownRef,
    /// `() => {}`
    pub noop: UnknownRef,
    /// `(v) => freeze(JSON.parse(JSON.stringify(v)))`, `undefined` when JSON gives none: a
    /// value as JSON holds it (a `Date` as its string, a `Set` as `{}`, `NaN` as `null`), the
    /// same on every node and on disk, deeply frozen (see `freeze`).
    pub normalise: UnknownRef,
    /// Deep `Object.freeze` (iterative: any depth), remembered per root in a `WeakSet` so a
    /// value shared by nodes in one process is walked once. What readers get (`getData()`,
    /// `dataChanged`, `read()`) cannot be edited locally. Children already frozen are not
    /// walked again (JSON values have no cycles; a shallow-frozen child from a custom
    /// transport stays as it came).
    pub freeze: UnknownRef,
}

/// The source of `normalise` and `freeze` (one closure over one `WeakSet`).
const VALUES: &str = r#"
const sealed = new WeakSet();
const isFrozen = Object.isFrozen, freezeOne = Object.freeze, isArray = Array.isArray;
function freeze(root) {
  if (root === null || typeof root !== 'object' || sealed.has(root)) return root;
  const stack = [root];
  while (stack.length !== 0) {
    const o = stack.pop();
    freezeOne(o);
    if (isArray(o)) {
      for (let i = 0; i < o.length; i++) {
        const c = o[i];
        if (c !== null && typeof c === 'object' && !isFrozen(c)) stack.push(c);
      }
    } else {
      for (const k in o) {
        const c = o[k];
        if (c !== null && typeof c === 'object' && !isFrozen(c)) stack.push(c);
      }
    }
  }
  sealed.add(root);
  return root;
}
function normalise(v) {
  const t = JSON.stringify(v);
  return t === undefined ? undefined : freeze(JSON.parse(t));
}
return [normalise, freeze];
"#;

/// The property names the hot paths read and write, as C strings made at compile time
/// (reading or setting a property by a Rust name through napi-rs copies it into a new C string
/// every time; a JS string cannot be kept by reference before Node-API 10, and reading it back
/// from an array costs more than V8's string-table lookup of a C string).
const KEYS: [&std::ffi::CStr; 22] = [
    c"term",
    c"granted",
    c"success",
    c"preVote",
    c"transfer",
    c"lastTerm",
    c"lastIndex",
    c"data",
    c"dataTerm",
    c"dataIndex",
    c"commitTerm",
    c"commitIndex",
    c"round",
    c"candidate",
    c"voter",
    c"node",
    c"id",
    c"destination",
    c"timeout",
    c"tag",
    c"time",
    c"message",
];

fn key_index(name: &str) -> Option<usize> {
    KEYS.iter().position(|k| k.to_bytes() == name.as_bytes())
}

thread_local! {
    /// One set per thread (a worker thread has its own environment), kept for its lifetime.
    /// (Leaked on purpose: dropping its references at thread exit, after the environment is
    /// gone, would be wrong.)
    static BUILTINS: std::cell::Cell<Option<&'static Builtins>> = const { std::cell::Cell::new(None) };
}

impl Builtins {
    /// This thread's built-ins.
    pub fn get(env: &Env) -> Result<&'static Builtins> {
        if let Some(b) = BUILTINS.with(|b| b.get()) {
            return Ok(b);
        }
        let b: &'static Builtins = Box::leak(Box::new(Builtins::new(env)?));
        BUILTINS.with(|cell| cell.set(Some(b)));
        Ok(b)
    }

    fn new(env: &Env) -> Result<Self> {
        let global = env.get_global()?;
        let promise: Object = global.get_named_property_unchecked("Promise")?;
        let proto: Object = promise.get_named_property_unchecked("prototype")?;
        let then: Unknown = proto.get_named_property_unchecked("then")?;
        let bind_of = |obj: &Object, name: &str| -> Result<UnknownRef> {
            let f: Function<Unknown, Unknown> = obj.get_named_property_unchecked(name)?;
            let bound = f.bind(*obj)?;
            bound.to_unknown().create_ref()
        };
        let json: Object = global.get_named_property_unchecked("JSON")?;
        let resolve: Unknown = promise.get_named_property_unchecked("resolve")?;
        let resolved = call(env, &resolve, &promise.to_unknown(), &[])?;
        let noop: Function<Unknown, ()> =
            env.create_function_from_closure("noop", |_ctx: FunctionCallContext| Ok(()))?;
        let function: Unknown = global.get_named_property_unchecked("Function")?;
        let run_listener = compile(
            env,
            &function,
            &["l", "p", "f"],
            "return Promise.resolve().then(() => l(p)).then(undefined, f);",
        )?;
        let make = compile(env, &function, &[], VALUES)?;
        let u = undefined(env)?;
        let pair = call(env, &make, &u, &[])?;
        // SAFETY: VALUES returns an array
        let pair: Object = unsafe { pair.cast()? };
        let normalise: Unknown = pair.get_element(0)?;
        let freeze: Unknown = pair.get_element(1)?;
        Ok(Builtins {
            normalise: normalise.create_ref()?,
            freeze: freeze.create_ref()?,
            run_listener: run_listener.create_ref()?,
            bodies: std::cell::RefCell::new(std::collections::HashMap::new()),
            function: function.create_ref()?,
            then: then.create_ref()?,
            all: bind_of(&promise, "all")?,
            resolve: bind_of(&promise, "resolve")?,
            stringify: bind_of(&json, "stringify")?,
            resolved: resolved.create_ref()?,
            noop: noop.to_unknown().create_ref()?,
        })
    }
}

/// `new Function(...params, body)`.
fn compile<'env>(
    env: &'env Env,
    function: &Unknown<'env>,
    params: &[&str],
    body: &str,
) -> Result<Unknown<'env>> {
    let mut args = Vec::with_capacity(params.len() + 1);
    for p in params {
        args.push(env.create_string(p)?.to_unknown());
    }
    args.push(env.create_string(body)?.to_unknown());
    new_instance(env, function, &args)
}

impl Builtins {
    /// A message body: `{ <names[i]>: values[i]..., destination, timeout, <sender>: node }`,
    /// built by a factory made once per shape. `names` and `sender` are the wire's field names
    /// (identifiers from `KEYS`; anything else is refused).
    pub fn body<'env>(
        &self,
        env: &'env Env,
        names: &[&str],
        values: &[Unknown<'env>],
        sender: &str,
        tail: [Unknown<'env>; 3],
    ) -> Result<Unknown<'env>> {
        let mut shape = 0u64;
        for n in names.iter().chain(std::iter::once(&sender)) {
            let i = key_index(n).ok_or_else(|| Error::from_reason(format!("unknown field {n}")))?;
            shape |= 1 << i;
        }
        // the sender field has its own bit range: a name may be a field in one shape and the
        // sender in another
        shape |= (key_index(sender).unwrap_or(0) as u64) << 32;
        let factory = match self.bodies.borrow().get(&shape) {
            Some(f) => Some(f.get_value(env)?),
            None => None,
        };
        let factory = match factory {
            Some(f) => f,
            None => {
                let mut params: Vec<String> = (0..names.len()).map(|i| format!("v{i}")).collect();
                params.extend(["d", "t", "s"].map(String::from));
                let mut props: Vec<String> = names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| format!("{n}: v{i}"))
                    .collect();
                props.push("destination: d".into());
                props.push("timeout: t".into());
                props.push(format!("{sender}: s"));
                let body = format!("return {{ {} }};", props.join(", "));
                let refs: Vec<&str> = params.iter().map(|s| s.as_str()).collect();
                let function = self.function.get_value(env)?;
                let f = compile(env, &function, &refs, &body)?;
                self.bodies.borrow_mut().insert(shape, f.create_ref()?);
                f
            }
        };
        let mut args: Vec<Unknown> = values.to_vec();
        args.extend(tail);
        let u = undefined(env)?;
        call(env, &factory, &u, &args)
    }

    /// `obj[name]` (a pending exception when a getter throws).
    pub fn prop<'env>(&self, env: &'env Env, obj: &Object, name: &str) -> Result<Unknown<'env>> {
        let Some(i) = key_index(name) else {
            return obj.get_named_property_unchecked(name);
        };
        let mut out = std::ptr::null_mut();
        // SAFETY: N-API call on the JS thread with values of this env; the name is NUL-terminated
        check(unsafe {
            sys::napi_get_named_property(env.raw(), obj.raw(), KEYS[i].as_ptr(), &mut out)
        })?;
        // SAFETY: a value of this env
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), out) })
    }

    /// `obj[name] = value`.
    pub fn set_prop(&self, env: &Env, obj: &Object, name: &str, value: Unknown) -> Result<()> {
        match key_index(name) {
            // SAFETY: N-API call on the JS thread with values of this env; NUL-terminated name
            Some(i) => check(unsafe {
                sys::napi_set_named_property(env.raw(), obj.raw(), KEYS[i].as_ptr(), value.raw())
            }),
            None => {
                let key = env.create_string(name)?.to_unknown();
                // SAFETY: N-API call on the JS thread with values of this env
                check(unsafe {
                    sys::napi_set_property(env.raw(), obj.raw(), key.raw(), value.raw())
                })
            }
        }
    }
}

/// `promise.then(on_ok, on_err)` (either may be `undefined`).
pub fn then<'env>(
    env: &'env Env,
    b: &Builtins,
    promise: &Unknown<'env>,
    on_ok: Unknown<'env>,
    on_err: Unknown<'env>,
) -> Result<Unknown<'env>> {
    let then = b.then.get_value(env)?;
    call(env, &then, promise, &[on_ok, on_err])
}

/// `Promise.resolve(value)`.
pub fn resolved<'env>(env: &'env Env, b: &Builtins, value: Unknown<'env>) -> Result<Unknown<'env>> {
    let resolve = b.resolve.get_value(env)?;
    let u = undefined(env)?;
    call(env, &resolve, &u, &[value])
}

/// `JSON.stringify(value)`: `Ok(None)` when it gives `undefined`, `Err` with the thrown value's
/// description when it throws.
pub fn stringify(
    env: &Env,
    b: &Builtins,
    value: &Unknown,
) -> std::result::Result<Option<String>, String> {
    let f = b.stringify.get_value(env).map_err(|e| e.reason.clone())?;
    match call_catching(env, &f, None, &[*value]) {
        Ok(text) => match text.get_type() {
            Ok(ValueType::String) => {
                // SAFETY: the type was checked
                unsafe { text.cast::<String>() }
                    .map(Some)
                    .map_err(|e| e.reason.clone())
            }
            _ => Ok(None),
        },
        Err(thrown) => Err(describe(env, &thrown)),
    }
}

/// The value as JSON holds it, deeply frozen (`Builtins::normalise`): `Ok(None)` when JSON
/// gives nothing for it (a function, `undefined`, a symbol), `Err` with the thrown value's
/// description when JSON throws (a BigInt, a cycle, a throwing `toJSON`).
pub fn normalise<'env>(
    env: &'env Env,
    b: &Builtins,
    value: &Unknown<'env>,
) -> std::result::Result<Option<Unknown<'env>>, String> {
    let f = b.normalise.get_value(env).map_err(|e| e.reason.clone())?;
    match call_catching(env, &f, None, &[*value]) {
        Ok(v) => match v.get_type() {
            Ok(ValueType::Undefined) => Ok(None),
            Ok(_) => Ok(Some(v)),
            Err(e) => Err(e.reason.clone()),
        },
        Err(thrown) => Err(describe(env, &thrown)),
    }
}

/// `value`, deeply frozen (`Builtins::freeze`); as it is when freezing throws (a Proxy from a
/// custom transport: it is the app's, and every reader gets it as it came).
pub fn freeze<'env>(env: &'env Env, b: &Builtins, value: Unknown<'env>) -> Result<Unknown<'env>> {
    match value.get_type()? {
        ValueType::Object => {
            let f = b.freeze.get_value(env)?;
            Ok(call_catching(env, &f, None, &[value]).map_or(value, |_| value))
        }
        _ => Ok(value),
    }
}
