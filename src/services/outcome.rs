//! What a money-moving operation did, as the services pass it on (to the caller, to the
//! live balance publisher): decoded from the ledger function's answer.

use uuid::Uuid;

use crate::{db::models::ledger::Balance, domain::ledger::Booked};

/// What an operation did: its entry, the hold it concerns, the member's balance after it,
/// and whether it was a replay of an earlier call with the same idempotency key.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub entry_id: Uuid,
    pub hold_id: Option<Uuid>,
    pub member_id: Uuid,
    pub balance: Balance,
    pub replayed: bool,
    /// Whether the member is linked to the operation's partner, when the answer said so
    /// (issues and redemptions): the partner may then see the balance.
    pub partner_linked: Option<bool>,
}

impl From<&Booked> for Outcome {
    fn from(booked: &Booked) -> Self {
        Outcome {
            entry_id: booked.entry_id,
            hold_id: booked.hold_id,
            member_id: booked.member_id,
            balance: Balance {
                available: booked.available,
                held: booked.held,
                debt: booked.debt,
                lifetime_earned: booked.lifetime_earned,
                pending: booked.pending,
            },
            replayed: booked.replayed,
            partner_linked: booked.linked,
        }
    }
}
