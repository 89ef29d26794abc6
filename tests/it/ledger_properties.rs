//! Property test: random sequences of issue / redeem / hold / capture / void / reverse /
//! expire, with duplicated idempotency keys and invalid amounts, run against the real
//! database. After every operation the hub's answer must match an independent model of each
//! member's balance; after every sequence every invariant of `hub verify` must hold.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use coalition_hub::{
    AppError,
    auth::{Principal, Scopes},
    db::models::ledger::Balance,
    services::{
        consents, expiry,
        ledger::{self, Amount, Outcome},
        members::{self, MemberRef},
        verify,
    },
};
use proptest::prelude::*;
use uuid::Uuid;

use crate::support::TestApp;

const PARTNERS: usize = 3;
const MEMBERS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Issue {
        partner: usize,
        member: usize,
        points: i64,
        key: u8,
        days: i64,
    },
    Redeem {
        partner: usize,
        member: usize,
        points: i64,
        key: u8,
    },
    Authorize {
        partner: usize,
        member: usize,
        points: i64,
        key: u8,
    },
    Capture {
        hold: usize,
        points: Option<i64>,
        key: u8,
    },
    Void {
        hold: usize,
        key: u8,
    },
    Reverse {
        entry: usize,
        points: Option<i64>,
        own: bool,
        key: u8,
    },
    Expire {
        days: i64,
    },
}

/// Mostly sensible amounts, sometimes invalid ones.
fn points() -> impl Strategy<Value = i64> {
    prop_oneof![8 => 1i64..120, 1 => -3i64..=0, 1 => Just(2_000_000_000i64)]
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PARTNERS;
    let m = 0..MEMBERS;
    // A small key space per caller makes repeated keys common.
    let key = 0u8..6;
    prop_oneof![
        4 => (p.clone(), m.clone(), points(), key.clone(), 1i64..40)
            .prop_map(|(partner, member, points, key, days)| Op::Issue { partner, member, points, key, days }),
        3 => (p.clone(), m.clone(), points(), key.clone())
            .prop_map(|(partner, member, points, key)| Op::Redeem { partner, member, points, key }),
        2 => (p.clone(), m.clone(), points(), key.clone())
            .prop_map(|(partner, member, points, key)| Op::Authorize { partner, member, points, key }),
        2 => (0usize..8, proptest::option::of(points()), key.clone())
            .prop_map(|(hold, points, key)| Op::Capture { hold, points, key }),
        1 => (0usize..8, key.clone()).prop_map(|(hold, key)| Op::Void { hold, key }),
        2 => (0usize..12, proptest::option::of(1i64..150), any::<bool>(), key)
            .prop_map(|(entry, points, own, key)| Op::Reverse { entry, points, own: own || points.is_none(), key }),
        1 => (0i64..45).prop_map(|days| Op::Expire { days }),
    ]
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ModelBalance {
    available: i64,
    held: i64,
    debt: i64,
}

impl ModelBalance {
    fn credit(&mut self, points: i64) {
        let repaid = self.debt.min(points);
        self.debt -= repaid;
        self.available += points - repaid;
    }
}

struct HoldModel {
    id: Uuid,
    partner: usize,
    member: usize,
    points: i64,
    pending: bool,
}

struct EntryModel {
    id: Uuid,
    partner: usize,
    member: usize,
    earn: bool,
    points: i64,
    reversed: i64,
}

struct World {
    app: TestApp,
    partners: Vec<Uuid>,
    member_ids: Vec<Uuid>,
    balances: Vec<ModelBalance>,
    holds: Vec<HoldModel>,
    entries: Vec<EntryModel>,
    /// (partner, key) -> the operation that claimed it and its entry
    keys: HashMap<(usize, String), (String, Uuid)>,
}

fn principal(world: &World, partner: usize) -> Principal {
    Principal::Partner {
        partner_id: world.partners[partner],
        scopes: Scopes::all(),
    }
}

fn member(m: usize) -> MemberRef {
    MemberRef::PartnerCustomerId(format!("M{m}"))
}

fn check_balance(world: &World, member: usize, actual: &Balance, context: &str) {
    let expected = world.balances[member];
    assert_eq!(
        (actual.available, actual.held, actual.debt),
        (expected.available, expected.held, expected.debt),
        "{context}: member {member}"
    );
}

/// Runs one operation and checks the hub's answer against the model, which it then updates.
async fn step(world: &mut World, op: &Op) {
    let state = world.app.state.clone();
    // What the op is, for key reuse: same key + same description must replay.
    let (partner, key, description) = match op {
        Op::Issue {
            partner,
            member,
            points,
            key,
            days,
        } => (*partner, *key, format!("issue {member} {points} {days}")),
        Op::Redeem {
            partner,
            member,
            points,
            key,
        } => (*partner, *key, format!("redeem {member} {points}")),
        Op::Authorize {
            partner,
            member,
            points,
            key,
        } => (*partner, *key, format!("authorize {member} {points}")),
        Op::Capture { hold, points, key } => (
            world.holds.get(*hold).map_or(0, |h| h.partner),
            *key,
            format!("capture {hold} {points:?}"),
        ),
        Op::Void { hold, key } => (
            world.holds.get(*hold).map_or(0, |h| h.partner),
            *key,
            format!("void {hold}"),
        ),
        Op::Reverse {
            entry,
            points,
            own,
            key,
        } => {
            let p = world.entries.get(*entry).map_or(0, |e| {
                if *own {
                    e.partner
                } else {
                    (e.partner + 1) % PARTNERS
                }
            });
            (p, *key, format!("reverse {entry} {points:?}"))
        }
        Op::Expire { days } => {
            expire(world, *days).await;
            return;
        }
    };
    let key = format!("k{key}");
    let claimed = world.keys.get(&(partner, key.clone())).cloned();
    let result: Result<Outcome, AppError> = match op {
        Op::Issue {
            partner,
            member: m,
            points,
            days,
            ..
        } => {
            let expires_at = Utc::now() + Duration::days(*days);
            ledger::issue(
                &state.ledger,
                &principal(world, *partner),
                ledger::IssueInput {
                    partner_id: None,
                    member: member(*m),
                    amount: Amount::Points(*points),
                    idempotency_key: key.clone(),
                    reference: None,
                    referral_code: None,
                    lines: Vec::new(),
                    // Rounded to the day so that a repeated key carries the same input.
                    expires_at: Some(
                        expires_at
                            .date_naive()
                            .and_hms_opt(0, 0, 0)
                            .unwrap()
                            .and_utc()
                            + Duration::days(1),
                    ),
                },
            )
            .await
        }
        Op::Redeem {
            partner,
            member: m,
            points,
            ..
        } => {
            ledger::redeem(
                &state.ledger,
                &principal(world, *partner),
                ledger::RedeemInput {
                    partner_id: None,
                    member: member(*m),
                    points: *points,
                    idempotency_key: key.clone(),
                    reference: None,
                    presence_code: None,
                },
            )
            .await
        }
        Op::Authorize {
            partner,
            member: m,
            points,
            ..
        } => {
            ledger::authorize(
                &state.ledger,
                &principal(world, *partner),
                ledger::AuthorizeInput {
                    redeem: ledger::RedeemInput {
                        partner_id: None,
                        member: member(*m),
                        points: *points,
                        idempotency_key: key.clone(),
                        reference: None,
                        presence_code: None,
                    },
                    expires_in: None,
                },
            )
            .await
        }
        Op::Capture { hold, .. } | Op::Void { hold, .. } if *hold >= world.holds.len() => return,
        Op::Capture { hold, points, .. } => {
            let h = &world.holds[*hold];
            ledger::settle_hold(
                &state.ledger,
                &principal(world, h.partner),
                ledger::SettleHoldInput {
                    hold_id: h.id,
                    capture: *points,
                    idempotency_key: key.clone(),
                },
            )
            .await
        }
        Op::Void { hold, .. } => {
            let h = &world.holds[*hold];
            ledger::settle_hold(
                &state.ledger,
                &principal(world, h.partner),
                ledger::SettleHoldInput {
                    hold_id: h.id,
                    capture: Some(0),
                    idempotency_key: key.clone(),
                },
            )
            .await
        }
        Op::Reverse { entry, .. } if *entry >= world.entries.len() => return,
        Op::Reverse { entry, points, .. } => {
            ledger::reverse(
                &state.ledger,
                &principal(world, partner),
                ledger::ReverseInput {
                    entry_id: world.entries[*entry].id,
                    points: *points,
                    idempotency_key: key.clone(),
                    reference: None,
                },
            )
            .await
        }
        Op::Expire { .. } => unreachable!(),
    };

    let invalid = |p: i64| !(1..=1_000_000_000).contains(&p);
    let invalid_input = match op {
        Op::Issue { points, .. } | Op::Redeem { points, .. } | Op::Authorize { points, .. } => {
            invalid(*points)
        }
        // At the service, capturing 0 is a void (the API refuses 0 before it gets here).
        Op::Capture {
            points: Some(p), ..
        } => *p != 0 && invalid(*p),
        _ => false,
    };
    // Invalid input is refused before its key is even looked at.
    if invalid_input {
        assert!(
            matches!(result, Err(AppError::BadInput(_))),
            "{description}: {result:?}"
        );
        return;
    }
    // A key already claimed by a successful call: the same operation replays, another is refused.
    if let Some((claimed_by, entry)) = claimed {
        if claimed_by == description {
            let outcome =
                result.unwrap_or_else(|e| panic!("replay of {description} failed: {e:?}"));
            assert!(
                outcome.replayed,
                "{description} with a used key was not a replay"
            );
            assert_eq!(outcome.entry_id, entry);
        } else {
            assert!(
                matches!(result, Err(AppError::IdempotencyKeyReused)),
                "{description} reused {key}: {result:?}"
            );
        }
        return;
    }

    match (op, result) {
        (
            Op::Issue {
                member: m, points, ..
            },
            Ok(outcome),
        ) => {
            assert!(!invalid(*points));
            world.balances[*m].credit(*points);
            world.entries.push(EntryModel {
                id: outcome.entry_id,
                partner,
                member: *m,
                earn: true,
                points: *points,
                reversed: 0,
            });
            check_balance(world, *m, &outcome.balance, &description);
            world
                .keys
                .insert((partner, key), (description, outcome.entry_id));
        }
        (
            Op::Redeem {
                member: m, points, ..
            }
            | Op::Authorize {
                member: m, points, ..
            },
            result,
        ) => {
            let b = world.balances[*m];
            let affordable = b.debt == 0 && b.available >= *points;
            match result {
                Ok(outcome) => {
                    assert!(
                        affordable && !invalid(*points),
                        "{description} succeeded on {b:?}"
                    );
                    world.balances[*m].available -= points;
                    if let Op::Authorize { .. } = op {
                        world.balances[*m].held += points;
                        world.holds.push(HoldModel {
                            id: outcome.hold_id.unwrap(),
                            partner,
                            member: *m,
                            points: *points,
                            pending: true,
                        });
                    } else {
                        world.entries.push(EntryModel {
                            id: outcome.entry_id,
                            partner,
                            member: *m,
                            earn: false,
                            points: *points,
                            reversed: 0,
                        });
                    }
                    check_balance(world, *m, &outcome.balance, &description);
                    world
                        .keys
                        .insert((partner, key), (description, outcome.entry_id));
                }
                Err(AppError::InsufficientPoints { .. }) => {
                    assert!(!affordable, "{description} refused on {b:?}")
                }
                Err(e) => panic!("{description}: {e:?}"),
            }
        }
        (Op::Capture { hold, .. } | Op::Void { hold, .. }, result) => {
            let capture = match op {
                Op::Capture { points, .. } => *points,
                _ => Some(0),
            };
            let h = &world.holds[*hold];
            let (m, total, pending) = (h.member, h.points, h.pending);
            let captured = capture.unwrap_or(total);
            match result {
                Ok(outcome) => {
                    assert!(
                        pending && captured <= total,
                        "{description} settled a settled hold"
                    );
                    world.holds[*hold].pending = false;
                    world.balances[m].held -= total;
                    world.balances[m].credit(total - captured);
                    if captured > 0 {
                        world.entries.push(EntryModel {
                            id: outcome.entry_id,
                            partner,
                            member: m,
                            earn: false,
                            points: captured,
                            reversed: 0,
                        });
                    }
                    check_balance(world, m, &outcome.balance, &description);
                    world
                        .keys
                        .insert((partner, key), (description, outcome.entry_id));
                }
                Err(AppError::HoldNotPending(_)) => {
                    assert!(!pending, "{description}: pending hold refused")
                }
                Err(AppError::BadInput(_)) => assert!(captured > total, "{description}: refused"),
                Err(e) => panic!("{description}: {e:?}"),
            }
        }
        (
            Op::Reverse {
                entry, points, own, ..
            },
            result,
        ) => {
            let e = &world.entries[*entry];
            let (m, earn, left) = (e.member, e.earn, e.points - e.reversed);
            let amount = points.unwrap_or(left);
            match result {
                Ok(outcome) => {
                    assert!(
                        *own && left > 0 && amount <= left,
                        "{description} reversed {amount} of {left}"
                    );
                    world.entries[*entry].reversed += amount;
                    let b = &mut world.balances[m];
                    if earn {
                        let taken = b.available.min(amount);
                        b.available -= taken;
                        b.debt += amount - taken;
                    } else {
                        b.credit(amount);
                    }
                    check_balance(world, m, &outcome.balance, &description);
                    world
                        .keys
                        .insert((partner, key), (description, outcome.entry_id));
                }
                Err(AppError::NotFound(_)) => assert!(!own, "{description}: own entry not found"),
                Err(AppError::BadInput(_)) => {
                    assert!(left == 0 || amount > left, "{description} refused")
                }
                Err(e) => panic!("{description}: {e:?}"),
            }
        }
        (Op::Issue { .. }, Err(e)) => panic!("{description}: {e:?}"),
        (Op::Expire { .. }, _) => unreachable!(),
    }
}

/// Expiry at a later time: pending holds are due only if the clock passes their 15
/// minutes (any whole day ahead does), lots by their dates. Lot-level detail is not
/// modelled: the expired points must match the drop in the members' balances.
async fn expire(world: &mut World, days: i64) {
    let at = Utc::now() + Duration::days(days) + Duration::hours(1);
    let run = expiry::run(&world.app.state.db, None, at, |_| {})
        .await
        .unwrap();
    let mut released = 0;
    for h in world.holds.iter_mut().filter(|h| h.pending) {
        h.pending = false;
        world.balances[h.member].held -= h.points;
        world.balances[h.member].credit(h.points);
        released += 1;
    }
    assert_eq!(run.holds_released, released);
    let mut conn = world.app.state.db.get().await.unwrap();
    let mut dropped = 0;
    for m in 0..MEMBERS {
        let actual = Balance::of(&mut conn, world.member_ids[m]).await.unwrap();
        let model = &mut world.balances[m];
        assert_eq!((actual.held, actual.debt), (model.held, model.debt));
        assert!(actual.available <= model.available);
        dropped += model.available - actual.available;
        model.available = actual.available;
    }
    assert_eq!(dropped, run.points_expired);
}

#[test]
fn random_histories_keep_every_invariant() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases: 24,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..40))| {
        runtime.block_on(async {
            let app = TestApp::new().await;
            let mut partners = Vec::new();
            for i in 0..PARTNERS {
                partners.push(app.create_partner(&format!("p{i}")).await.parse().unwrap());
            }
            let mut world = World { app, partners, member_ids: vec![], balances: vec![ModelBalance::default(); MEMBERS], holds: vec![], entries: vec![], keys: HashMap::new() };
            // Every member consents to and is linked to every partner under "M<i>".
            for m in 0..MEMBERS {
                let enrolled = members::enroll(&world.app.state.members, &principal(&world, 0), None, Some(format!("M{m}")), None).await.unwrap();
                let as_member = Principal::Member { member_id: enrolled.member.id };
                for p in 1..PARTNERS {
                    consents::grant(&world.app.state.db, &as_member, world.partners[p]).await.unwrap();
                    members::link(&world.app.state.members, &principal(&world, p), None, MemberRef::Id(enrolled.member.id), format!("M{m}"), None).await.unwrap();
                }
                world.member_ids.push(enrolled.member.id);
            }
            for op in &ops {
                step(&mut world, op).await;
            }
            let report = verify::run(&world.app.state.db).await.unwrap();
            assert!(report.is_clean(), "after {ops:?}:\n{report}");
        });
    });
}
