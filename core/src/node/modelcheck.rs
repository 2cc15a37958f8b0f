//! Test-only (feature `rule-switches`): a canonical form of a node for an exhaustive model
//! checker (`modelcheck/`), which prunes states whose canonical forms are equal.
//!
//! Sound by construction: the canonical form is a clone of the whole node (derived `Hash`/`Eq`
//! see every field, also ones added later) in which only what cannot change the node's future
//! behaviour is rewritten:
//! - times (absolute ms): the node only ever compares them with each other and with the `now`
//!   of its inputs, by differences bounded by its timing, and messages carry none; so they are
//!   moved, with the host's clock `now`, to a fixed origin, and times further in the past than
//!   any window of the node's (16 timeouts) are clamped to that horizon (only the `latency_ms`
//!   reported for a proposal older than that could differ: a figure, never acted on);
//! - persist sequence numbers: only compared with each other and with the host's completions,
//!   so they are taken relative to the last completed one (a campaign's own persist that
//!   completed already is as good as the last one);
//! - counters that only feed metrics and logs: zeroed; a data message's resend count: capped
//!   where its back-off stops growing.

use super::{Node, NodeId};
use crate::node::Metrics;

/// Where `now` is moved to.
const ORIGIN: u64 = 1 << 40;
/// Where the last completed persist is moved to.
const SEQ_ORIGIN: u64 = 1 << 20;

impl<I: NodeId> Node<I> {
    /// The canonical form of this node for a host whose clock reads `now` (the `now` of its
    /// latest input): equal canonical forms behave the same under the same future inputs
    /// (with times taken relative to `now`). Test-only.
    pub fn canonical(&self, now: u64) -> Node<I> {
        let c = &self.config;
        let horizon = 16 * (c.election_max + c.heartbeat + c.election_min);
        let t = |x: u64| -> u64 {
            if x >= now {
                ORIGIN + (x - now)
            } else {
                ORIGIN - (now - x).min(horizon)
            }
        };
        let done = self.persist_done;
        let s = |x: u64| -> u64 {
            if x >= done {
                SEQ_ORIGIN + (x - done)
            } else {
                SEQ_ORIGIN - 1
            }
        };
        let mut n = self.clone();
        n.election_deadline = t(n.election_deadline);
        n.heartbeat_deadline = t(n.heartbeat_deadline);
        n.last_leader_contact = n.last_leader_contact.map(t);
        n.no_campaign_until = t(n.no_campaign_until);
        if let Some((_, d)) = n.transfer.as_mut() {
            *d = t(*d);
        }
        n.persist_stalled_since = n.persist_stalled_since.map(t);
        for p in n.proposals.iter_mut() {
            p.deadline = t(p.deadline);
            p.at = t(p.at);
        }
        for w in n.transfer_waits.iter_mut() {
            *w = t(*w);
        }
        for c in n.confirms.iter_mut() {
            c.deadline = t(c.deadline);
        }
        n.last_input = t(n.last_input);
        for p in n.members.values_mut() {
            if let Some((_, at, sent)) = p.data_sent.as_mut() {
                *at = t(*at);
                // the back-off shift is `min(sent - 1, 3)`
                *sent = (*sent).min(4);
            }
            p.answered_at = p.answered_at.map(t);
            p.last_contact = p.last_contact.map(t);
            p.lease_contact = p.lease_contact.map(t);
        }
        // only `persist_done >= campaign_seq` reads it
        n.campaign_seq = if n.campaign_seq <= done {
            SEQ_ORIGIN
        } else {
            s(n.campaign_seq)
        };
        n.persist_requested = s(n.persist_requested);
        n.persist_done = SEQ_ORIGIN;
        for (q, _) in n.pending_states.iter_mut() {
            *q = s(*q);
        }
        for g in n.gated.iter_mut() {
            g.seq = s(g.seq);
        }
        n.metrics = Metrics::default();
        n
    }
}
