//! Messages from non-members (`StepOutcome::ignored == NOT_A_MEMBER`): counted, and reported on
//! `log` once per sender per interval. What this keeps per sender is bounded: a fixed number of
//! recently reported senders, beyond which messages are reported together.

use super::convert::display_id;
use super::REPORT_INTERVAL_MS;
use std::collections::HashMap;

/// Senders remembered for that; messages from further senders are reported in one line per
/// interval.
pub const REMEMBERED: usize = 64;

#[derive(Default)]
pub struct Strangers {
    /// Messages from non-members, ever.
    pub count: u64,
    /// Sender key -> when it was last reported.
    reported: HashMap<String, u64>,
    /// Messages from senders not remembered, since the last aggregated line.
    unlisted: u64,
    unlisted_reported_at: Option<u64>,
}

impl Strangers {
    /// Count one message from the non-member `key` arriving on `event`; the log line to emit, if
    /// any.
    pub fn note(&mut self, key: &str, event: &str, now: u64) -> Option<String> {
        self.count += 1;
        let fresh = |at: u64| now.saturating_sub(at) < REPORT_INTERVAL_MS;
        if let Some(at) = self.reported.get_mut(key) {
            if fresh(*at) {
                return None;
            }
            *at = now;
            return Some(line(event, key));
        }
        if self.reported.len() >= REMEMBERED {
            self.reported.retain(|_, at| fresh(*at));
        }
        if self.reported.len() < REMEMBERED {
            self.reported.insert(key.to_string(), now);
            return Some(line(event, key));
        }
        self.unlisted += 1;
        if self.unlisted_reported_at.is_some_and(fresh) {
            return None;
        }
        self.unlisted_reported_at = Some(now);
        let n = std::mem::take(&mut self.unlisted);
        Some(format!(
            "raft ignored {n} message(s) from non-members beyond the {REMEMBERED} reported one by \
             one (reported together every {} s), the latest: {event} from non-member {}",
            REPORT_INTERVAL_MS / 1000,
            display_id(key)
        ))
    }
}

fn line(event: &str, key: &str) -> String {
    format!(
        "raft ignored {event} from non-member {} (reported once per {} s per sender)",
        display_id(key),
        REPORT_INTERVAL_MS / 1000
    )
}
