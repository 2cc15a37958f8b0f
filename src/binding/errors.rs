//! The typed errors `replicate()` rejects with: `NotLeaderError`, `TimeoutError`,
//! `SupersededError`, `DestroyedError`, each a real subclass of `Error` (`instanceof` works)
//! with a `code` string. A class that extends `Error` cannot be made with N-API alone, so
//! `install` evaluates a few lines of class syntax once per environment (in the addon's
//! `module_exports` hook) and replaces the placeholder exports below with them: the loader
//! napi generates re-exports only names it knows from `#[napi]` items, and those lines are
//! what CommonJS consumers and ESM named imports (`import { NotLeaderError }`) see.

use super::js;
use napi::bindgen_prelude::{JsObjectValue, Object, ToNapiValue, Unknown};
use napi::{Env, Error, Result, UnknownRef};
use napi_derive::napi;

const SOURCE: &str = r#"
class NotLeaderError extends Error {
  constructor(message, leader) {
    super(message);
    this.name = 'NotLeaderError';
    this.code = 'NOT_LEADER';
    this.leader = leader === undefined ? null : leader;
  }
}
class TimeoutError extends Error {
  constructor(message, version) {
    super(message);
    this.name = 'TimeoutError';
    this.code = 'TIMEOUT';
    this.version = version === undefined ? null : version;
  }
}
class SupersededError extends Error {
  constructor(message, version) {
    super(message);
    this.name = 'SupersededError';
    this.code = 'SUPERSEDED';
    this.version = version === undefined ? null : version;
  }
}
class DestroyedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DestroyedError';
    this.code = 'DESTROYED';
  }
}
return [NotLeaderError, TimeoutError, SupersededError, DestroyedError];
"#;

/// The four classes, in `Kind` order.
const NAMES: [&str; 4] = [
    "NotLeaderError",
    "TimeoutError",
    "SupersededError",
    "DestroyedError",
];

#[derive(Clone, Copy)]
pub enum Kind {
    NotLeader = 0,
    Timeout = 1,
    Superseded = 2,
    Destroyed = 3,
}

thread_local! {
    /// This thread's classes (leaked on purpose, like `js::Builtins`).
    static CLASSES: std::cell::Cell<Option<&'static [UnknownRef; 4]>> =
        const { std::cell::Cell::new(None) };
}

/// Placeholders: `#[napi]` classes of the same names make the generated loader re-export the
/// names and index.d.ts declare them (their fields: interfaces in types/header.d.ts merged with
/// these declarations); `install` replaces them with the real classes before anyone sees them.
macro_rules! placeholder {
    ($rust:ident, $args:literal) => {
        #[napi]
        pub struct $rust {}

        #[napi]
        impl $rust {
            #[napi(constructor, ts_args_type = $args)]
            pub fn new() -> Self {
                $rust {}
            }
        }
    };
}

placeholder!(
    NotLeaderError,
    "message?: string, leader?: RaftNodeId | null"
);
placeholder!(
    TimeoutError,
    "message?: string, version?: RaftVersion | null"
);
placeholder!(
    SupersededError,
    "message?: string, version?: RaftVersion | null"
);
placeholder!(DestroyedError, "message?: string");

/// Make the classes (once per thread) and set them on `exports`.
pub fn install(exports: &mut Object, env: &Env) -> Result<()> {
    let classes = classes(env)?;
    for (name, class) in NAMES.iter().zip(classes.iter()) {
        exports.set_named_property(name, class.get_value(env)?)?;
    }
    Ok(())
}

fn classes(env: &Env) -> Result<&'static [UnknownRef; 4]> {
    if let Some(c) = CLASSES.with(|c| c.get()) {
        return Ok(c);
    }
    let global = env.get_global()?;
    let function: Unknown = global.get_named_property_unchecked("Function")?;
    let source = SOURCE.into_unknown(env)?;
    let factory = js::new_instance(env, &function, &[source])?;
    let u = js::undefined(env)?;
    let list = js::call(env, &factory, &u, &[])?;
    // SAFETY: the factory returns an array
    let list: Object = unsafe { list.cast()? };
    let mut refs = Vec::with_capacity(4);
    for i in 0..4u32 {
        let c: Unknown = list.get_element(i)?;
        refs.push(c.create_ref()?);
    }
    let refs: [UnknownRef; 4] = refs
        .try_into()
        .map_err(|_| Error::from_reason("error classes: wrong count"))?;
    let leaked: &'static [UnknownRef; 4] = Box::leak(Box::new(refs));
    CLASSES.with(|c| c.set(Some(leaked)));
    Ok(leaked)
}

/// A new error of `kind` with `message` and the constructor's second argument.
pub fn make<'env>(
    env: &'env Env,
    kind: Kind,
    message: &str,
    extra: Option<Unknown<'env>>,
) -> Result<Unknown<'env>> {
    let classes = classes(env)?;
    let class = classes[kind as usize].get_value(env)?;
    let mut args = vec![message.into_unknown(env)?];
    if let Some(x) = extra {
        args.push(x);
    }
    js::new_instance(env, &class, &args)
}
