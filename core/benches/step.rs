//! Messages stepped per second by raftq-core: a 5-node cluster in one thread, no faults, zero
//! latency, persistence completing at once. Measures the core plus a minimal host loop
//! (a FIFO of messages, outputs drained after every input).
//!
//! `cargo bench -p raftq-core --bench step` (or `bench/core.sh`); `RAFTQ_BENCH_MS` sets the
//! wall time per scenario (default 1000).

use raftq_core::{Config, HardState, Message, Node, Output, Role};
use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

const NODES: usize = 5;

struct Cluster {
    nodes: Vec<Node<u64>>,
    queue: VecDeque<(u64, usize, Message)>,
    outs: Vec<Output<u64>>,
    now: u64,
    stepped: u64,
}

impl Cluster {
    fn new() -> Self {
        let config = Config::new(10, 100, 200).expect("config");
        let mut nodes = Vec::with_capacity(NODES);
        for i in 0..NODES {
            let id = i as u64 + 1;
            let mut node = Node::new(id, config.clone(), 0x5eed + id);
            for j in 0..NODES as u64 {
                if j + 1 != id {
                    node.add_member(j + 1, 0);
                }
            }
            node.start(HardState::default(), 0);
            nodes.push(node);
        }
        let mut c = Cluster {
            nodes,
            queue: VecDeque::with_capacity(1024),
            outs: Vec::with_capacity(64),
            now: 0,
            stepped: 0,
        };
        for i in 0..NODES {
            c.flush(i);
        }
        c
    }

    /// Handle node `i`'s outputs: queue its messages, complete its persists at once.
    fn flush(&mut self, i: usize) {
        loop {
            self.nodes[i].drain_outputs_into(&mut self.outs);
            if self.outs.is_empty() {
                return;
            }
            let mut persisted = None;
            let from = i as u64 + 1;
            for out in self.outs.drain(..) {
                match out {
                    Output::Send { to, msg, .. } => {
                        self.queue.push_back((from, to as usize - 1, msg))
                    }
                    Output::Persist { seq, .. } => persisted = Some(seq),
                    other => {
                        black_box(other);
                    }
                }
            }
            match persisted {
                Some(seq) => self.nodes[i].persisted(seq, self.now),
                None => return,
            }
        }
    }

    fn deliver_all(&mut self) {
        while let Some((from, to, msg)) = self.queue.pop_front() {
            black_box(self.nodes[to].step(from, msg, self.now));
            self.stepped += 1;
            self.flush(to);
        }
    }

    /// Advance simulated time by 1 ms: fire due timers, deliver everything.
    fn advance(&mut self) {
        self.now += 1;
        for i in 0..NODES {
            if self.nodes[i].next_deadline().is_some_and(|d| d <= self.now) {
                self.nodes[i].tick(self.now);
                self.flush(i);
            }
        }
        self.deliver_all();
    }

    fn leader(&self) -> Option<usize> {
        self.nodes.iter().position(|n| n.role() == Role::Leader)
    }

    fn propose(&mut self) -> bool {
        let Some(l) = self.leader() else {
            return false;
        };
        let ok = self.nodes[l].propose(self.now).is_ok();
        self.flush(l);
        ok
    }

    fn elect(&mut self) {
        while self.leader().is_none() || self.now < 1_000 {
            self.advance();
        }
    }
}

struct Row {
    name: &'static str,
    sim_ms: u64,
    messages: u64,
    proposals: u64,
    commits: u64,
    wall: Duration,
}

/// Run `per_ms` proposals per simulated millisecond (0: heartbeats only; `None`: proposals
/// back to back, each delivered before the next) for about `budget` of wall time.
fn scenario(name: &'static str, per_ms: Option<u32>, budget: Duration) -> Row {
    let mut c = Cluster::new();
    c.elect();
    let l = c.leader().expect("leader");
    let start_commit = c.nodes[l].committed().index;
    let start_ms = c.now;
    let start_msgs = c.stepped;
    let mut proposals = 0u64;
    let t0 = Instant::now();
    loop {
        for _ in 0..64 {
            match per_ms {
                Some(k) => {
                    for _ in 0..k {
                        proposals += u64::from(c.propose());
                    }
                    c.advance();
                }
                None => {
                    proposals += u64::from(c.propose());
                    c.deliver_all();
                    if proposals.is_multiple_of(16) {
                        c.advance();
                    }
                }
            }
        }
        if t0.elapsed() >= budget {
            break;
        }
    }
    let wall = t0.elapsed();
    let l = c.leader().expect("leader kept");
    Row {
        name,
        sim_ms: c.now - start_ms,
        messages: c.stepped - start_msgs,
        proposals,
        commits: c.nodes[l].committed().index - start_commit,
        wall,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter on scenario names
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let ms = std::env::var("RAFTQ_BENCH_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000u64);
    let budget = Duration::from_millis(ms);
    let scenarios: [(&'static str, Option<u32>); 4] = [
        ("heartbeats only", Some(0)),
        ("1 proposal / ms", Some(1)),
        ("10 proposals / ms", Some(10)),
        ("proposals back to back", None),
    ];
    println!("raftq-core step benchmark: {NODES}-node cluster, no faults, zero latency, persistence at once");
    println!(
        "{:<24} {:>9} {:>12} {:>9} {:>12} {:>8} {:>11} {:>11}",
        "scenario", "sim ms", "messages", "wall ms", "msgs/s", "ns/msg", "proposals", "commits/s"
    );
    for (name, per_ms) in scenarios {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let r = scenario(name, per_ms, budget);
        let secs = r.wall.as_secs_f64();
        println!(
            "{:<24} {:>9} {:>12} {:>9.0} {:>12.0} {:>8.1} {:>11} {:>11.0}",
            r.name,
            r.sim_ms,
            r.messages,
            secs * 1e3,
            r.messages as f64 / secs,
            secs * 1e9 / r.messages.max(1) as f64,
            r.proposals,
            r.commits as f64 / secs,
        );
    }
}
