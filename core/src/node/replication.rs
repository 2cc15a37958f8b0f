//! Replication of the data value as versions (Raft §5.3, §5.4.2), commit, and message entry.

use super::{
    Entry, Node, NodeId, Output, ProposeError, Role, StepOutcome, Voters, INDEX_TOO_FAR, MAX_HELD,
    MAX_INDEX_STEP, MAX_TERM_STEP, MAX_VALUE, MAX_VOTE_TERM_STEP, NOT_A_MEMBER, TERM_TOO_FAR,
};
use crate::message::{Message, Version};

impl<I: NodeId> Node<I> {
    /// Handle one incoming message from `from`.
    pub fn step(&mut self, from: I, msg: Message, now: u64) -> StepOutcome {
        self.step_with_voters(from, msg, None, now)
    }

    /// [`Node::step`] for a message that may carry a configuration: an `Append` with data
    /// carries the voters of its version (`None`: a sender that sends none, the version keeps
    /// the configuration this node holds).
    pub fn step_with_voters(
        &mut self,
        from: I,
        msg: Message,
        voters: Option<Voters<I>>,
        now: u64,
    ) -> StepOutcome {
        let slot = super::channel_slot(msg.channel());
        self.metrics.messages_in[slot] += 1;
        let out = self.step_inner(from, msg, voters, now);
        if let Some(reason) = out.ignored {
            *self.metrics.rejected.entry(reason).or_insert(0) += 1;
        }
        out
    }

    fn step_inner(
        &mut self,
        from: I,
        msg: Message,
        voters: Option<Voters<I>>,
        now: u64,
    ) -> StepOutcome {
        let mut out = StepOutcome::default();
        if !self.started {
            out.ignored = Some("node not started");
            return out;
        }
        if from == self.id {
            out.ignored = Some("message from ourselves");
            return out;
        }
        if !self.is_member(&from)
            && !self.departed_hand_off(&from, &msg)
            && !self.former_member_leads(&from, &msg)
            && !self.strangers_ok()
        {
            out.ignored = Some(NOT_A_MEMBER);
            return out;
        }
        let msg = match self.implausible(&msg) {
            None => msg,
            // a member's term beyond one step: taken one step at a time (see `within_reach`)
            Some(reason) => match self.within_reach(&msg, reason) {
                Some(stepped) if self.implausible(&stepped).is_none() => stepped,
                _ => {
                    out.ignored = Some(reason);
                    return out;
                }
            },
        };
        self.observe(now);
        out.ignored = match msg {
            Message::VoteRequest {
                term,
                pre_vote,
                last,
                transfer,
            } => self.on_vote_request(from, term, pre_vote, last, transfer, now),
            Message::VoteResponse {
                term,
                pre_vote,
                granted,
            } => self.on_vote_response(from, term, pre_vote, granted, now),
            Message::Append {
                term,
                version,
                with_data,
                commit,
                transfer,
                round,
            } => {
                let (accepted, ignored) = self.on_append(
                    from,
                    term,
                    version,
                    with_data,
                    commit,
                    (transfer, round),
                    voters.filter(|v| !v.is_empty()),
                    now,
                );
                out.accepted = accepted;
                ignored
            }
            Message::AppendResponse {
                term,
                success,
                latest,
                round,
            } => self.on_append_response(from, term, success, latest, round, now),
        };
        out
    }

    /// The hand-off (TimeoutNow) of the leader of our current term, which the app removed
    /// just before it crashed (see `departed_leader`).
    fn departed_hand_off(&self, from: &I, msg: &Message) -> bool {
        matches!(*msg, Message::Append { term, transfer: true, .. } if term == self.term)
            && self
                .departed_leader
                .as_ref()
                .is_some_and(|(id, t)| id == from && *t == self.term)
    }

    /// An append of our term or a later one, or a vote request, from a node its app removed
    /// here (acked before, not a peer now): a node whose removal this one holds while the
    /// cluster's configuration (of which this node may be behind) still counts it leads or
    /// campaigns. Without its appends this node never learns that configuration; with them it
    /// follows as Raft's followers follow any current leader. Never acked: a stranger still;
    /// and while this node holds no configuration (bootstrapping from its acks, as raftq), its
    /// acks are the membership, so a removed node is a stranger too.
    fn former_member_leads(&self, from: &I, msg: &Message) -> bool {
        self.intents.get(from) == Some(&false)
            && self.has_configuration()
            && match *msg {
                Message::Append { term, .. } => term >= self.term,
                Message::VoteRequest { term, .. } => term > self.term,
                _ => false,
            }
    }

    #[cfg(feature = "rule-switches")]
    fn strangers_ok(&self) -> bool {
        self.config
            .broken(crate::config::BrokenRule::AcceptStrangers)
    }

    #[cfg(not(feature = "rule-switches"))]
    fn strangers_ok(&self) -> bool {
        false
    }

    /// A term or index no real member could send us: more than [`MAX_TERM_STEP`] (appends) or
    /// [`MAX_VOTE_TERM_STEP`] (anything else) / [`MAX_INDEX_STEP`] ahead of ours. Taking it
    /// would bring the cluster nearer to where terms or indexes run out (a JS number holds
    /// integers up to 2^53 exactly) by more than any real cluster ever moves.
    fn implausible(&self, msg: &Message) -> Option<&'static str> {
        let step = match msg {
            Message::Append { .. } => MAX_TERM_STEP,
            _ => MAX_VOTE_TERM_STEP,
        };
        if msg.term() > self.term.saturating_add(step) {
            return Some(TERM_TOO_FAR);
        }
        let limit = self.latest().index.saturating_add(MAX_INDEX_STEP);
        let index = match *msg {
            Message::VoteRequest { last, .. } => last.index,
            Message::Append {
                version, commit, ..
            } => version.index.max(commit.index),
            Message::AppendResponse { latest, .. } => latest.index,
            Message::VoteResponse { .. } => 0,
        };
        (index > limit).then_some(INDEX_TOO_FAR)
    }

    #[cfg(feature = "rule-switches")]
    fn flow_control(&self) -> bool {
        !self.config.broken(crate::config::BrokenRule::NoFlowControl)
    }

    #[cfg(not(feature = "rule-switches"))]
    fn flow_control(&self) -> bool {
        true
    }

    /// `replicateData` on the leader: a new version, sent to every member at once. It is
    /// decided ([`super::Output::Proposal`]) within `election_max` ms.
    pub fn propose(&mut self, now: u64) -> Result<Version, ProposeError> {
        self.propose_with_timeout(now, self.config.election_max)
    }

    /// [`Node::propose`], decided as [`super::ProposalFailure::TimedOut`] when neither committed
    /// nor superseded within `timeout_ms` (0: by the next timer check, unless it commits at
    /// once).
    pub fn propose_with_timeout(
        &mut self,
        now: u64,
        timeout_ms: u64,
    ) -> Result<Version, ProposeError> {
        if !self.started {
            return Err(ProposeError::NotStarted);
        }
        self.observe(now);
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader);
        }
        if self.transfer.is_some() {
            return Err(ProposeError::Transferring);
        }
        if self.latest().index >= MAX_VALUE {
            return Err(ProposeError::Exhausted);
        }
        let v = Version::new(self.term, self.latest().index + 1);
        self.proposals.push_back(super::Pending {
            version: v,
            carrier: v,
            deadline: now.saturating_add(timeout_ms),
            at: now,
        });
        let voters = self.log.back().and_then(|e| e.voters.clone());
        self.append_own(v, voters, now);
        Ok(v)
    }

    /// Leader: hold `v` (of our term, under the configuration `voters`) as the latest version,
    /// persist it and send it, with its data, to every member at once.
    pub(crate) fn append_own(&mut self, v: Version, voters: Option<Voters<I>>, now: u64) {
        self.push_entry(v, self.term, voters);
        self.request_persist();
        self.update_visible();
        let targets: Vec<I> = self.members.keys().cloned().collect();
        for to in targets {
            if let Some(p) = self.members.get_mut(&to) {
                p.needs_data = true;
            }
            self.send_append(to, now, false);
        }
        self.maybe_commit(now);
    }

    /// Append a version at the end of the held ones, dropping the oldest uncommitted ones beyond
    /// the bound (their values are obsolete; the commit point may then skip them).
    pub(crate) fn push_entry(&mut self, v: Version, seen: u64, voters: Option<Voters<I>>) {
        let before = self.config_marks();
        self.push_entry_only(v, seen, voters);
        self.config_moved(before);
    }

    /// [`Node::push_entry`] without the configuration's consequences (the caller sees to them).
    fn push_entry_only(&mut self, v: Version, seen: u64, voters: Option<Voters<I>>) {
        self.log.push_back(Entry { v, seen, voters });
        while self.log.len() > MAX_HELD {
            // keep the committed front and the latest back
            if let Some(gone) = self.log.remove(1) {
                self.outputs.push(Output::Released(gone.v));
            }
        }
    }

    /// Leader: send our latest version (with the data if `to` may lack it) and commit point.
    pub(crate) fn send_append(&mut self, to: I, now: u64, transfer: bool) {
        let latest = self.latest();
        let commit = self.committed();
        let term = self.term;
        let resend_after = (self.config.election_min / 2).max(self.config.heartbeat);
        let backoff = self.flow_control();
        let round = self.append_round();
        if !self.members.contains_key(&to) {
            return;
        }
        self.note_round_sent(round, now);
        let Some(p) = self.members.get_mut(&to) else {
            return;
        };
        let lacks = p.matched != Some(latest);
        // the same version's data again only after a while, longer each time it went unanswered
        // (up to 8x): a follower that never receives it (a value over its transport's body
        // limit, say) costs one data message per interval, not a storm
        let in_flight = p.data_sent.is_some_and(|(v, at, sent)| {
            let shift = if backoff {
                sent.saturating_sub(1).min(3)
            } else {
                0
            };
            v == latest && now < at.saturating_add(resend_after << shift)
        });
        let with_data = lacks && (p.needs_data || transfer) && (transfer || !in_flight);
        if with_data {
            let sent = match p.data_sent {
                Some((v, _, sent)) if v == latest => sent.saturating_add(1),
                _ => 1,
            };
            p.data_sent = Some((latest, now, sent));
        }
        self.send_now(
            to,
            Message::Append {
                term,
                version: latest,
                with_data,
                commit,
                transfer,
                round,
            },
        );
    }

    pub(crate) fn broadcast_append(&mut self, now: u64) {
        self.heartbeat_deadline = now.saturating_add(self.config.heartbeat);
        let targets: Vec<I> = self.members.keys().cloned().collect();
        for to in targets {
            self.send_append(to, now, false);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        from: I,
        term: u64,
        version: Version,
        with_data: bool,
        commit: Version,
        (transfer, round): (bool, u64),
        voters: Option<Voters<I>>,
        now: u64,
    ) -> (Option<Version>, Option<&'static str>) {
        if term < self.term {
            // tell a deposed leader about the newer term
            let reply = Message::AppendResponse {
                term: self.term,
                success: false,
                latest: self.latest(),
                round: 0,
            };
            self.send_after_persist(from, reply);
            return (None, Some("stale term"));
        }
        if term == self.term && self.role == Role::Leader {
            return (None, Some("another leader in our term"));
        }
        if term > self.term
            || self.role != Role::Follower
            || self.leader.as_ref() != Some(&from)
            || self.pre_candidate
        {
            self.become_follower(term, Some(from.clone()), now);
        }
        self.last_leader_contact = Some(now);
        self.reset_election_timer(now);
        // the echo: the highest round of this leader's, only in answer to an append with one
        let echo = if round == 0 {
            0
        } else {
            if self.seen_round.0 != term {
                self.seen_round = (term, 0);
            }
            self.seen_round.1 = self.seen_round.1.max(round);
            self.seen_round.1
        };

        let mut accepted = None;
        let latest = self.latest();
        if version > latest {
            if with_data {
                let before = self.config_marks();
                // a sender that sends no configuration keeps ours
                let voters = voters.or_else(|| self.log.back().and_then(|e| e.voters.clone()));
                // versions of earlier terms that this leader has not confirmed are either on its
                // log before `version` or superseded by it: either way obsolete now
                let front = self.log.pop_front();
                let outputs = &mut self.outputs;
                self.log.retain(|e| {
                    let keep = e.seen == term;
                    if !keep {
                        outputs.push(Output::Released(e.v));
                    }
                    keep
                });
                if let Some(f) = front {
                    self.log.push_front(f);
                }
                self.push_entry_only(version, term, voters);
                self.config_moved(before);
                self.persist_later();
                accepted = Some(version);
            }
        } else if version == latest {
            if let Some(back) = self.log.back_mut() {
                back.seen = term;
            }
        }
        self.follow_commit(commit, term);

        let success = self.log.back().is_some_and(|e| e.seen == term);
        let latest = self.latest();
        // an acknowledgement promises the version is on disk
        let waits = self.send_after_persist(
            from.clone(),
            Message::AppendResponse {
                term,
                success,
                latest,
                round: echo,
            },
        );
        if waits && accepted.is_none() {
            // a heartbeat while the ack still waits for its write (a slow disk): say we are here
            // and hold the version (a refusal promises nothing), or the leader hears nothing and
            // steps down for want of a majority. Not for the append that brought the data: on
            // a disk of usual speed its ack follows at once.
            self.send_now(
                from,
                Message::AppendResponse {
                    term,
                    success: false,
                    latest,
                    round: echo,
                },
            );
        }
        if transfer && self.latest() == version {
            self.log_line("leadership transfer: campaigning at once".to_string());
            self.campaign(now, true);
        }
        (accepted, None)
    }

    /// Follower: advance the commit point to the newest held version the leader's `commit`
    /// covers: the very version, or one this leader confirmed (on its log) at or below it.
    fn follow_commit(&mut self, commit: Version, term: u64) {
        let mut pos = None;
        for (i, e) in self.log.iter().enumerate().skip(1) {
            if e.v == commit || (e.seen == term && e.v.index <= commit.index) {
                pos = Some(i);
            }
        }
        if let Some(i) = pos {
            self.commit_to(i);
        }
    }

    /// Make `log[i]` the committed version.
    fn commit_to(&mut self, i: usize) {
        let before = self.config_marks();
        for gone in self.log.drain(..i) {
            self.outputs.push(Output::Released(gone.v));
        }
        let c = self.committed();
        self.outputs.push(Output::Committed(c));
        self.config_moved(before);
        self.decide_proposals(c);
        self.persist_later();
        self.update_visible();
        self.serve_reads();
    }

    fn on_append_response(
        &mut self,
        from: I,
        term: u64,
        success: bool,
        latest: Version,
        round: u64,
        now: u64,
    ) -> Option<&'static str> {
        if !self.members.contains_key(&from) {
            return Some("response from a non-member");
        }
        if term > self.term {
            self.become_follower(term, None, now);
            return None;
        }
        if term < self.term || self.role != Role::Leader {
            return Some("stale response");
        }
        if success && latest > self.latest() {
            // a follower cannot hold a version of our term we never had: never count it (not
            // even as a sign of life for check-quorum)
            return Some("response claims a version the leader does not hold");
        }
        let Some(counts) = self.take_echo(&from, round, success, now) else {
            return Some("response echoes a round the leader never sent");
        };
        self.check_confirms();
        let ours = self.latest();
        let heartbeat = self.config.heartbeat;
        let flow_control = self.flow_control();
        let Some(p) = self.members.get_mut(&from) else {
            return Some("response from a non-member");
        };
        if counts {
            p.recent_active = true;
        }
        if success && p.matched.is_none_or(|m| latest > m) {
            p.matched = Some(latest);
        }
        p.needs_data = p.matched != Some(ours);
        let lacks = p.needs_data;
        let transfer_ready = self.transfer.as_ref().is_some_and(|(t, _)| *t == from) && !lacks;
        // answer its responses with an append at most once per heartbeat interval, whatever it
        // replies: a follower that keeps failing gets the heartbeats and the backed-off data
        let may_answer = !flow_control
            || p.answered_at
                .is_none_or(|t| now >= t.saturating_add(heartbeat));
        let answer = may_answer && ((lacks && latest < ours) || transfer_ready);
        if answer {
            p.answered_at = Some(now);
        }
        if answer && lacks && latest < ours {
            self.send_append(from.clone(), now, false);
        }
        self.maybe_commit(now);
        if answer && transfer_ready && self.role == Role::Leader {
            self.send_append(from, now, true);
        }
        self.reconcile_configuration(now);
        None
    }

    /// Leader: commit the newest version of our term that a majority (us included, once our
    /// own persist of it completed) holds.
    pub(crate) fn maybe_commit(&mut self, _now: u64) {
        if self.role != Role::Leader {
            return;
        }
        #[cfg(feature = "rule-switches")]
        let any_term = self
            .config
            .broken(crate::config::BrokenRule::CommitCurrentTerm);
        #[cfg(not(feature = "rule-switches"))]
        let any_term = false;

        let voters = self.voters();
        let mut acks: Vec<u64> = Vec::with_capacity(voters.len());
        for id in voters.iter() {
            if *id == self.id {
                let own = self.disk.latest;
                let counts =
                    own.term == self.term || (any_term && self.log.iter().any(|e| e.v == own));
                acks.push(if counts { own.index } else { 0 });
            } else {
                acks.push(
                    self.members
                        .get(id)
                        .and_then(|p| p.matched)
                        .map_or(0, |m| m.index),
                );
            }
        }
        acks.sort_unstable_by(|a, b| b.cmp(a));
        let q = self.quorum();
        let Some(&k) = acks.get(q - 1) else {
            return;
        };
        let committed = self.committed();
        let mut pos = None;
        for (i, e) in self.log.iter().enumerate().skip(1) {
            let ours = e.v.term == self.term || any_term;
            if ours && e.v.index <= k && e.v > committed {
                pos = Some(i);
            }
        }
        if let Some(i) = pos {
            self.commit_to(i);
            // let followers learn the commit point now, not at the next heartbeat (as etcd)
            let now = _now;
            let targets: Vec<I> = self.members.keys().cloned().collect();
            for to in targets {
                self.send_append(to, now, false);
            }
            self.after_commit_configuration(now);
        }
    }
}
