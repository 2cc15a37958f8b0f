//! Validation of incoming bodies: a missing, mistyped or out-of-range field rejects the message
//! with a reason naming the field.

use raftq_core::wire::{self, Field, Fields, Out};
use raftq_core::{Channel, Message, Version};
use std::collections::HashMap;

#[derive(Default, Clone)]
struct Body(HashMap<&'static str, Field>, bool);

impl Fields for Body {
    fn field(&self, name: &'static str) -> Field {
        self.0.get(name).copied().unwrap_or(Field::Missing)
    }
    fn has_data(&self) -> bool {
        self.1
    }
}

fn encoded(msg: &Message, data: bool) -> Body {
    let mut b = Body(HashMap::new(), data);
    wire::encode(msg, |k, v| {
        b.0.insert(
            k,
            match v {
                Out::Number(n) => Field::Number(n as f64),
                Out::Bool(x) => Field::Bool(x),
            },
        );
    });
    b
}

fn samples() -> Vec<Message> {
    vec![
        Message::VoteRequest {
            term: 3,
            pre_vote: true,
            last: Version::new(2, 7),
            transfer: false,
        },
        Message::VoteRequest {
            term: 3,
            pre_vote: false,
            last: Version::new(3, 1),
            transfer: true,
        },
        Message::VoteResponse {
            term: 4,
            pre_vote: false,
            granted: true,
        },
        Message::Append {
            term: 5,
            version: Version::new(5, 9),
            with_data: true,
            commit: Version::new(4, 8),
            transfer: false,
            round: 0,
        },
        Message::Append {
            term: 5,
            version: Version::new(5, 9),
            with_data: false,
            commit: Version::new(5, 9),
            transfer: true,
            round: 0,
        },
        Message::AppendResponse {
            term: 6,
            success: false,
            latest: Version::new(2, 2),
            round: 0,
        },
    ]
}

#[test]
fn every_message_round_trips_through_its_fields() {
    for m in samples() {
        let with_data = matches!(
            m,
            Message::Append {
                with_data: true,
                ..
            }
        );
        let body = encoded(&m, with_data);
        assert_eq!(wire::decode(m.channel(), &body), Ok(m.clone()), "{m:?}");
    }
}

#[test]
fn a_missing_field_is_rejected_with_its_name() {
    for m in samples() {
        let body = encoded(&m, false);
        for &k in body.0.keys() {
            if matches!(k, wire::PRE_VOTE | wire::TRANSFER) {
                continue; // optional flags: absent means false
            }
            let mut b = body.clone();
            b.0.remove(k);
            let e = wire::decode(m.channel(), &b).expect_err("missing field accepted");
            assert_eq!(e.field, k, "{m:?} without {k}");
            assert!(e.to_string().contains("missing"), "{e}");
        }
    }
}

#[test]
fn mistyped_and_out_of_range_fields_are_rejected() {
    let m = &samples()[3];
    let bad: [(&'static str, Field); 8] = [
        (wire::TERM, Field::Other("string")),
        (wire::TERM, Field::Number(-1.0)),
        (wire::TERM, Field::Number(1.5)),
        (wire::TERM, Field::Number(f64::NAN)),
        (wire::TERM, Field::Number(1e300)),
        (wire::DATA_INDEX, Field::Bool(true)),
        (wire::COMMIT_INDEX, Field::Number(10.0)), // ahead of the data version
        (wire::TRANSFER, Field::Number(1.0)),
    ];
    for (k, v) in bad {
        let mut b = encoded(m, true);
        b.0.insert(k, v);
        let e = wire::decode(Channel::SyncData, &b).expect_err("bad field accepted");
        assert_eq!(e.field, k, "{k} = {v:?}: {e}");
    }
    let mut b = encoded(&samples()[2], false);
    b.0.insert(wire::GRANTED, Field::Number(1.0));
    assert_eq!(
        wire::decode(Channel::VoteResponse, &b).map_err(|e| e.field),
        Err(wire::GRANTED)
    );
    // a candidate claiming data from a term beyond its own
    let mut b = encoded(&samples()[1], false);
    b.0.insert(wire::LAST_TERM, Field::Number(4.0));
    assert_eq!(
        wire::decode(Channel::VoteRequest, &b).map_err(|e| e.field),
        Err(wire::LAST_TERM)
    );
}

#[test]
fn channels_keep_raftqs_event_names() {
    let names: Vec<_> = Channel::ALL
        .iter()
        .map(|c| (c.outgoing_event(), c.incoming_event(), c.sender_field()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("voteRequest", "voteRequestReceived", "candidate"),
            ("voteResponse", "voteResponseReceived", "voter"),
            ("syncData", "dataReceived", "node"),
            ("dataResponse", "dataResponseReceived", "node"),
        ]
    );
    for c in Channel::ALL {
        assert_eq!(Channel::from_incoming_event(c.incoming_event()), Some(c));
    }
    assert_eq!(Channel::from_incoming_event("syncData"), None);
}

#[test]
fn round_is_optional_and_travels_only_when_set() {
    let heartbeat = Message::Append {
        term: 2,
        version: Version::new(2, 5),
        with_data: false,
        commit: Version::new(2, 4),
        transfer: false,
        round: 0,
    };
    let b = encoded(&heartbeat, false);
    assert!(
        !b.0.contains_key(wire::ROUND),
        "a heartbeat without a pending confirmation stays as small as before"
    );
    assert_eq!(wire::decode(Channel::SyncData, &b), Ok(heartbeat));
    let ack = Message::AppendResponse {
        term: 2,
        success: true,
        latest: Version::new(2, 5),
        round: 9,
    };
    let mut b = encoded(&ack, false);
    assert_eq!(b.0.get(wire::ROUND), Some(&Field::Number(9.0)));
    assert_eq!(wire::decode(Channel::DataResponse, &b), Ok(ack));
    b.0.insert(wire::ROUND, Field::Number(-1.0));
    let e = wire::decode(Channel::DataResponse, &b).expect_err("negative round");
    assert_eq!(e.field, wire::ROUND);
    b.0.insert(wire::ROUND, Field::Bool(true));
    let e = wire::decode(Channel::DataResponse, &b).expect_err("boolean round");
    assert_eq!(e.field, wire::ROUND);
}
