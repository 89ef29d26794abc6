//! The newest events, kept in memory by each hub process and shared by every subscription
//! it delivers to: read from PostgreSQL once per poll, instead of once per subscription and
//! POST. A subscription whose cursor is older than the tail reads its own events from
//! PostgreSQL (`hub_webhook_next`) until it has caught up.

use std::collections::{HashMap, VecDeque};

use uuid::Uuid;

/// Where an event stands in the order subscriptions read them: (txid, id), compared as
/// PostgreSQL compares the row (uuids byte by byte, as `Uuid`'s `Ord` does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub txid: i64,
    pub event_id: Uuid,
}

impl Position {
    /// Past every event: a read after it answers the watermark alone.
    pub const END: Position = Position {
        txid: i64::MAX,
        event_id: Uuid::max(),
    };
}

#[derive(Clone, Debug)]
pub struct TailEvent {
    pub position: Position,
    pub event_type: String,
    pub partner_ids: Vec<Uuid>,
    /// The event's JSON, as written once when it happened.
    pub body: String,
}

/// Whom a subscription receives: its partner's events (the coalition's: every event), of
/// its types; as `hub_webhook_stream` selects them.
pub struct Audience<'a> {
    pub partner_id: Option<Uuid>,
    pub event_types: &'a [String],
}

impl Audience<'_> {
    fn receives(&self, event: &TailEvent) -> bool {
        let party = self
            .partner_id
            .is_none_or(|partner| event.partner_ids.contains(&partner));
        party
            && self
                .event_types
                .iter()
                .any(|t| t == "*" || *t == event.event_type)
    }
}

/// A POST's worth of a subscription's events.
#[derive(Debug, PartialEq)]
pub struct Batch {
    pub event_ids: Vec<Uuid>,
    /// The events' JSON array.
    pub events: String,
    /// Where the cursor goes once the POST is answered.
    pub cursor: Position,
    /// Nothing of the subscription's is left in the tail after this one.
    pub last: bool,
}

#[derive(Debug, PartialEq)]
pub enum TailRead {
    /// The cursor is older than the tail (or nothing was read yet): read from PostgreSQL.
    Uncovered,
    /// Nothing for the subscription in the tail; its cursor may move to `cursor`.
    Nothing {
        cursor: Position,
    },
    Batch(Batch),
}

/// Every event after `start` and up to `end` (both positions), at most `capacity` of
/// them: the oldest are dropped first.
pub struct Tail {
    events: VecDeque<TailEvent>,
    /// None until the first read, which only finds where the watermark is.
    start: Option<Position>,
    end: Position,
    capacity: usize,
    /// Each partner with events in the tail, and its newest event's position: which
    /// partners' subscriptions have something to send.
    newest_of: HashMap<Uuid, Position>,
}

impl Tail {
    pub fn new(capacity: usize) -> Tail {
        assert!(capacity > 0);
        Tail {
            events: VecDeque::new(),
            start: None,
            end: Position::END,
            capacity,
            newest_of: HashMap::new(),
        }
    }

    /// Where the tail begins: a subscription with an older cursor reads its own events.
    pub fn start(&self) -> Position {
        self.start.unwrap_or(Position::END)
    }

    /// The newest event in the tail ([`Tail::start`] when it holds none).
    pub fn newest(&self) -> Position {
        self.events.back().map_or(self.start(), |e| e.position)
    }

    /// The partners with events in the tail, with their newest event's position.
    pub fn partners(&self) -> impl Iterator<Item = (Uuid, Position)> + '_ {
        self.newest_of.iter().map(|(p, at)| (*p, *at))
    }

    /// Where the next read starts.
    pub fn after(&self) -> Position {
        self.end
    }

    /// Appends a read of the events after [`Tail::after`] up to `watermark`, at most `max`
    /// of them (all of them when fewer came).
    pub fn extend(&mut self, read: Vec<TailEvent>, watermark: Position, max: usize) {
        if self.start.is_none() {
            assert!(read.is_empty(), "the first read only finds the watermark");
            self.start = Some(watermark);
            self.end = watermark;
            return;
        }
        let complete = read.len() < max;
        for event in read {
            assert!(event.position > self.end, "events are read in order, once");
            self.end = event.position;
            for partner in &event.partner_ids {
                self.newest_of.insert(*partner, event.position);
            }
            self.events.push_back(event);
        }
        if complete {
            self.end = self.end.max(watermark);
        }
        if self.events.len() > self.capacity {
            while self.events.len() > self.capacity {
                let dropped = self.events.pop_front().expect("more than capacity");
                self.start = Some(dropped.position);
            }
            let start = self.start();
            self.newest_of.retain(|_, newest| *newest > start);
        }
    }

    /// The next POST of up to `max` events for `audience` after `cursor`.
    pub fn read(&self, audience: &Audience<'_>, cursor: Position, max: usize) -> TailRead {
        match self.start {
            Some(start) if cursor >= start => {}
            _ => return TailRead::Uncovered,
        }
        if cursor >= self.end {
            return TailRead::Nothing { cursor };
        }
        let first = self.events.partition_point(|e| e.position <= cursor);
        let mut matching = self.events.range(first..).filter(|e| audience.receives(e));
        let taken: Vec<&TailEvent> = matching.by_ref().take(max).collect();
        let Some(newest) = taken.last() else {
            return TailRead::Nothing { cursor: self.end };
        };
        let last = matching.next().is_none();
        let mut events = String::with_capacity(taken.iter().map(|e| e.body.len() + 1).sum());
        events.push('[');
        for (i, event) in taken.iter().enumerate() {
            if i > 0 {
                events.push(',');
            }
            events.push_str(&event.body);
        }
        events.push(']');
        TailRead::Batch(Batch {
            event_ids: taken.iter().map(|e| e.position.event_id).collect(),
            events,
            // All of the tail was looked through when nothing is left in it.
            cursor: if last { self.end } else { newest.position },
            last,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn event(txid: i64, n: u8, partner: u8, event_type: &str) -> TailEvent {
        TailEvent {
            position: Position {
                txid,
                event_id: Uuid::from_bytes([n; 16]),
            },
            event_type: event_type.to_string(),
            partner_ids: vec![Uuid::from_bytes([partner; 16])],
            body: format!(r#"{{"n":{n}}}"#),
        }
    }

    fn at(txid: i64) -> Position {
        Position {
            txid,
            event_id: Uuid::nil(),
        }
    }

    fn started(capacity: usize, from: i64) -> Tail {
        let mut tail = Tail::new(capacity);
        tail.extend(Vec::new(), at(from), 10);
        tail
    }

    #[test]
    fn a_cursor_before_the_tail_reads_from_postgres() {
        let tail = Tail::new(10);
        let all = ["*".to_string()];
        let everyone = Audience {
            partner_id: None,
            event_types: &all,
        };
        assert_eq!(tail.read(&everyone, at(5), 10), TailRead::Uncovered);
        let mut tail = started(2, 5);
        tail.extend(
            vec![
                event(6, 1, 1, "a"),
                event(7, 2, 1, "a"),
                event(8, 3, 1, "a"),
            ],
            at(9),
            10,
        );
        // The oldest event was dropped: a cursor before it is no longer covered.
        assert_eq!(tail.read(&everyone, at(5), 10), TailRead::Uncovered);
        assert_eq!(tail.start(), at(6).max(event(6, 1, 1, "a").position));
        assert_eq!(tail.newest(), event(8, 3, 1, "a").position);
        // Partner 2's only event was dropped with it.
        let partners: Vec<_> = tail.partners().collect();
        assert_eq!(partners, vec![(Uuid::from_bytes([1; 16]), tail.newest())]);
        match tail.read(&everyone, event(6, 1, 1, "a").position, 10) {
            TailRead::Batch(b) => {
                assert_eq!(b.events, r#"[{"n":2},{"n":3}]"#);
                assert_eq!(b.cursor, at(9));
                assert!(b.last);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            tail.read(&everyone, at(9), 10),
            TailRead::Nothing { cursor: at(9) }
        );
    }

    proptest! {
        /// Batch after batch, a subscription gets exactly its events after its cursor, in
        /// order, and its cursor ends at the tail's end.
        #[test]
        fn batches_carry_exactly_the_audiences_events(
            kinds in proptest::collection::vec((0u8..3, 0u8..3), 0..60),
            max in 1usize..7,
            partner in proptest::option::of(0u8..3),
            only_a in any::<bool>(),
            skip in 0usize..10,
        ) {
            let events: Vec<TailEvent> = kinds
                .iter()
                .enumerate()
                .map(|(i, (p, t))| event(10 + i as i64, i as u8, *p, ["a", "b", "c"][*t as usize]))
                .collect();
            let mut tail = started(1000, 9);
            for chunk in events.chunks(8) {
                tail.extend(chunk.to_vec(), at(100), 8);
            }
            tail.extend(Vec::new(), at(100), 8);
            let types = if only_a { vec!["a".to_string()] } else { vec!["*".to_string()] };
            let audience = Audience {
                partner_id: partner.map(|p| Uuid::from_bytes([p; 16])),
                event_types: &types,
            };
            let mut cursor = events.get(skip).map_or(at(9), |e| e.position);
            let expected: Vec<Uuid> = events
                .iter()
                .filter(|e| e.position > cursor && audience.receives(e))
                .map(|e| e.position.event_id)
                .collect();
            let mut got = Vec::new();
            loop {
                match tail.read(&audience, cursor, max) {
                    TailRead::Batch(b) => {
                        prop_assert!(!b.event_ids.is_empty() && b.event_ids.len() <= max);
                        prop_assert!(b.cursor > cursor);
                        got.extend(b.event_ids);
                        cursor = b.cursor;
                        if b.last {
                            prop_assert_eq!(cursor, at(100));
                        }
                    }
                    TailRead::Nothing { cursor: to } => {
                        cursor = to;
                        break;
                    }
                    TailRead::Uncovered => prop_assert!(false, "the tail holds everything"),
                }
            }
            prop_assert_eq!(got, expected);
            prop_assert_eq!(cursor, at(100));
        }
    }
}
