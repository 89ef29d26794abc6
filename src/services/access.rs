//! Who may see what: pure checks on rows already loaded (by a service or a GraphQL
//! DataLoader), so that every path applies the same rules.

use uuid::Uuid;

use crate::{
    auth::{Principal, Scope},
    db::models::ledger::{Hold, JournalEntry},
    error::{AppError, AppResult},
};

/// A ledger entry or hold: the operator any, a partner those it is party to, a member its
/// own. (The rule of `services::ledger`'s lookups.)
pub(crate) fn can_see_ledger_row(
    principal: &Principal,
    partner_id: Option<Uuid>,
    member_id: Uuid,
) -> bool {
    match principal {
        Principal::Operator { .. } => true,
        Principal::Partner { partner_id: me, .. } => partner_id == Some(*me),
        Principal::Member { member_id: me } => member_id == *me,
    }
}

/// The entry if the caller may see it; `NOT_FOUND` otherwise, as for a missing one.
pub(crate) fn visible_entry(
    principal: &Principal,
    entry: Option<JournalEntry>,
) -> AppResult<JournalEntry> {
    entry
        .filter(|e| can_see_ledger_row(principal, e.partner_id, e.member_id))
        .ok_or(AppError::NotFound("ledger entry"))
}

/// The hold if the caller may see it; `NOT_FOUND` otherwise, as for a missing one.
pub(crate) fn visible_hold(principal: &Principal, hold: Option<Hold>) -> AppResult<Hold> {
    hold.filter(|h| can_see_ledger_row(principal, Some(h.partner_id), h.member_id))
        .ok_or(AppError::NotFound("hold"))
}

/// A member's points (balance, expiries, entries, tier): the operator, the member, and
/// partners with `members:read`.
pub(crate) fn may_see_points(principal: &Principal) -> AppResult<()> {
    match principal {
        Principal::Partner { .. } => principal
            .require_partner_scope(Scope::MembersRead)
            .map(drop),
        _ => Ok(()),
    }
}

/// A member's family links: the member itself and the operator.
pub(crate) fn may_see_family(principal: &Principal, member_id: Uuid) -> AppResult<()> {
    match principal {
        Principal::Member { member_id: me } if *me == member_id => Ok(()),
        Principal::Operator { .. } => Ok(()),
        _ => Err(AppError::forbidden("family links are the member's own")),
    }
}

/// A partner's API credentials: the operator and the partner itself.
pub(crate) fn may_see_credentials(principal: &Principal, partner_id: Uuid) -> AppResult<()> {
    let allowed = match principal {
        Principal::Operator { .. } => true,
        Principal::Partner { partner_id: me, .. } => *me == partner_id,
        Principal::Member { .. } => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the operator and the partner itself see credentials",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_rows_are_the_operators_the_partys_and_the_members_own() {
        let member = Uuid::now_v7();
        let partner = Uuid::now_v7();
        let operator = Principal::Operator {
            subject: "ops".into(),
        };
        assert!(can_see_ledger_row(&operator, None, member));
        let own = Principal::Member { member_id: member };
        assert!(can_see_ledger_row(&own, Some(partner), member));
        let other = Principal::Member {
            member_id: Uuid::now_v7(),
        };
        assert!(!can_see_ledger_row(&other, Some(partner), member));
    }
}
