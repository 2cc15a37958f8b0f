//! Optional authentication of raftq's messages (options `secret` and `cluster`).
//!
//! With a secret, every outgoing body carries `tag`: an HMAC-SHA-256, keyed with the secret,
//! over one canonical encoding of what the receiving core will read. `Auth::keyed` builds that
//! encoding, and it is used both to sign (`Auth::sign`) and to verify (`Auth::verify`): both sides
//! decode the body through `wire::decode` and encode the decoded message, so a tag covers exactly
//! the fields the core acts on. An incoming body without a valid tag is dropped before the core
//! sees it, counted, and reported at most once per `REPORT_INTERVAL_MS`.
//!
//! The canonical encoding, version 1 (all lengths and numbers big-endian):
//!
//! | bytes | what |
//! |---|---|
//! | `raftq-native/auth/v1` then 0x00 | version and domain |
//! | u32 length, UTF-8 | the cluster name (empty without `cluster`) |
//! | u8 | the channel: 0 voteRequest, 1 voteResponse, 2 syncData, 3 dataResponse |
//! | u32 length, UTF-8 | the sender's id key (`n:5050` or `s:5050`, see `convert::id_key`) |
//! | u32 length, UTF-8 | the destination's id key (the receiver checks against its own) |
//! | per field, in `wire::encode`'s order | u8 name length, the name, then 0x01 and a u64 (number) or 0x02 and 0x00/0x01 (boolean) |
//! | 0x00 | end of the fields (a name is never empty) |
//! | 0x00, or 0x01 and 32 bytes | no `data`, or the SHA-256 of the UTF-8 of `JSON.stringify(data)` (a data-carrying syncData) |
//! | nothing, or 0x01, a u32 count and per id a u32 length and its key | no `members`, or the configuration a data-carrying syncData brings (sorted, as the core holds it) |
//!
//! The tag is the HMAC's 32 bytes as 64 lowercase hex digits. The term is the replay guard: a
//! message replayed within its term is accepted again (Raft tolerates duplicates), one replayed
//! later is stale.

use super::convert::Key;
use super::REPORT_INTERVAL_MS;
use hmac::{Hmac, KeyInit, Mac};
use napi::bindgen_prelude::{JsObjectValue, Object, Unknown};
use napi::JsString;
use napi::ValueType;
use raftq_core::wire::{self, Out};
use raftq_core::{Channel, Message};
use sha2::Sha256;
use std::sync::Mutex;

type HmacSha256 = Hmac<Sha256>;

/// The body field holding the tag.
pub const TAG_FIELD: &str = "tag";
/// Version and domain of the canonical encoding.
const DOMAIN: &[u8] = b"raftq-native/auth/v1\0";
/// Bytes of an HMAC-SHA-256 and of the data digest.
const MAC_LEN: usize = 32;
/// Longest `cluster` name, in characters.
pub const MAX_CLUSTER_CHARS: usize = 256;

/// The secret, the cluster name, and the count of dropped messages.
pub struct Auth {
    /// Keyed with the secret, with the domain and the cluster name already absorbed: each tag
    /// starts from a clone of it.
    keyed: HmacSha256,
    report: Mutex<Report>,
}

#[derive(Default)]
struct Report {
    /// Messages dropped since the node was created.
    total: u64,
    /// Dropped since the last report line.
    since: u64,
    /// When the last report line was made (the node's clock, ms).
    last_at: Option<u64>,
}

impl Auth {
    /// `secret`: at least one byte. `cluster`: `None`, or 1 to `MAX_CLUSTER_CHARS` characters.
    pub fn new(secret: &[u8], cluster: Option<&str>) -> Result<Auth, String> {
        if secret.is_empty() {
            return Err("secret must not be empty".into());
        }
        let mut keyed = HmacSha256::new_from_slice(secret)
            .map_err(|_| "secret cannot key an HMAC".to_string())?;
        keyed.update(DOMAIN);
        put_str(&mut keyed, cluster.unwrap_or(""))?;
        Ok(Auth {
            keyed,
            report: Mutex::new(Report::default()),
        })
    }

    /// The HMAC state after the canonical encoding of `msg` sent on `channel` by `from` to `to`;
    /// `digest` is the data's SHA-256, required when the message carries data.
    fn keyed(
        &self,
        channel: Channel,
        from: &str,
        to: &str,
        msg: &Message,
        digest: Option<&[u8]>,
        members: Option<&[Key]>,
    ) -> Result<HmacSha256, String> {
        if msg.channel() != channel {
            return Err("message does not belong to its channel".into());
        }
        let mut mac = self.keyed.clone();
        mac.update(&[channel_byte(channel)]);
        put_str(&mut mac, from)?;
        put_str(&mut mac, to)?;
        let mut fields = Ok(());
        wire::encode(msg, |name, v| {
            let Ok(len) = u8::try_from(name.len()) else {
                fields = Err("field name too long".to_string());
                return;
            };
            mac.update(&[len]);
            mac.update(name.as_bytes());
            match v {
                Out::Number(n) => {
                    mac.update(&[1]);
                    mac.update(&n.to_be_bytes());
                }
                Out::Bool(b) => mac.update(&[2, u8::from(b)]),
            }
        });
        fields?;
        mac.update(&[0]);
        let with_data = matches!(
            msg,
            Message::Append {
                with_data: true,
                ..
            }
        );
        if with_data {
            let digest = digest.ok_or("data is not JSON (no digest of JSON.stringify(data))")?;
            if digest.len() != MAC_LEN {
                return Err("data digest must be 32 bytes".into());
            }
            mac.update(&[1]);
            mac.update(digest);
        } else {
            mac.update(&[0]);
        }
        // the configuration a data-carrying syncData brings; nothing without one (the encoding
        // of every other body is unchanged, and the receiver reads `members` before verifying,
        // so a tag never fits a body with the list added or taken away)
        if let Some(ids) = members {
            mac.update(&[1]);
            let n = u32::try_from(ids.len()).map_err(|_| "too many members")?;
            mac.update(&n.to_be_bytes());
            for id in ids {
                put_str(&mut mac, id)?;
            }
        }
        Ok(mac)
    }

    /// The tag of an outgoing message (64 lowercase hex digits).
    pub fn sign(
        &self,
        channel: Channel,
        from: &str,
        to: &str,
        msg: &Message,
        digest: Option<&[u8]>,
        members: Option<&[Key]>,
    ) -> Result<String, String> {
        let mac = self.keyed(channel, from, to, msg, digest, members)?;
        Ok(hex(&mac.finalize().into_bytes()))
    }

    /// Check an incoming message's tag (as `read_tag` found it); the reason when it is not valid.
    /// The comparison is `verify_slice`'s, in constant time.
    pub fn verify(
        &self,
        channel: Channel,
        from: &str,
        to: &str,
        msg: &Message,
        tag: &[u8; MAC_LEN],
        (digest, members): (Option<&[u8]>, Option<&[Key]>),
    ) -> Result<(), String> {
        self.keyed(channel, from, to, msg, digest, members)?
            .verify_slice(tag)
            .map_err(|_| "tag does not match".to_string())
    }

    /// Count a dropped message; returns the log line to emit when none was made in the last
    /// `REPORT_INTERVAL_MS`.
    pub fn dropped(&self, now: u64, event: &str, reason: &str) -> Option<String> {
        let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
        r.total += 1;
        r.since += 1;
        let due = r
            .last_at
            .is_none_or(|t| now.saturating_sub(t) >= REPORT_INTERVAL_MS);
        if !due {
            return None;
        }
        let line = format!(
            "raft dropped unauthenticated {event} ({reason}); {} dropped since the last report, {} in all",
            r.since, r.total
        );
        r.since = 0;
        r.last_at = Some(now);
        Some(line)
    }

    /// Messages dropped so far.
    pub fn total(&self) -> u64 {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

/// Check a `cluster` option: 1 to `MAX_CLUSTER_CHARS` characters.
pub fn check_cluster(cluster: &str) -> Result<(), String> {
    let n = cluster.chars().count();
    if n == 0 || n > MAX_CLUSTER_CHARS {
        return Err(format!(
            "cluster must be a non-empty string of at most {MAX_CLUSTER_CHARS} characters"
        ));
    }
    Ok(())
}

/// Read an incoming body's `tag`: 64 lowercase hex digits. The reason when it is not.
pub fn read_tag(body: &Object) -> Result<[u8; MAC_LEN], String> {
    let v: Unknown = body
        .get_named_property_unchecked(TAG_FIELD)
        .map_err(|_| "tag unreadable".to_string())?;
    let t = v.get_type().map_err(|_| "tag unreadable".to_string())?;
    match t {
        ValueType::Undefined | ValueType::Null => return Err("no tag".into()),
        ValueType::String => {}
        t => {
            return Err(format!(
                "tag must be a string, got {}",
                super::convert::type_name(t)
            ))
        }
    }
    // SAFETY: the type was checked just above
    let js: JsString = unsafe { v.cast() }.map_err(|_| "tag unreadable".to_string())?;
    // a tag of the wrong length is refused before it is copied (a 10 MB tag costs nothing)
    let len = js.utf16_len().map_err(|_| "tag unreadable".to_string())?;
    if len != 2 * MAC_LEN {
        return Err(format!(
            "tag has the wrong length ({len} characters, not {})",
            2 * MAC_LEN
        ));
    }
    let s = js
        .into_utf8()
        .and_then(|u| u.into_owned())
        .map_err(|_| "tag unreadable".to_string())?;
    unhex(&s)
}

fn channel_byte(channel: Channel) -> u8 {
    match channel {
        Channel::VoteRequest => 0,
        Channel::VoteResponse => 1,
        Channel::SyncData => 2,
        Channel::DataResponse => 3,
    }
}

fn put_str(mac: &mut HmacSha256, s: &str) -> Result<(), String> {
    let len = u32::try_from(s.len()).map_err(|_| "string too long to sign".to_string())?;
    mac.update(&len.to_be_bytes());
    mac.update(s.as_bytes());
    Ok(())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

fn unhex(s: &str) -> Result<[u8; MAC_LEN], String> {
    let b = s.as_bytes();
    if b.len() != 2 * MAC_LEN {
        return Err(format!(
            "tag has the wrong length ({} characters, not {})",
            s.chars().count(),
            2 * MAC_LEN
        ));
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; MAC_LEN];
    for (i, o) in out.iter_mut().enumerate() {
        match (nibble(b[2 * i]), nibble(b[2 * i + 1])) {
            (Some(h), Some(l)) => *o = (h << 4) | l,
            _ => return Err("tag is not lowercase hex".into()),
        }
    }
    Ok(out)
}
