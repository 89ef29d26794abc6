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
    may_read_ledger(principal)?;
    entry
        .filter(|e| can_see_ledger_row(principal, e.partner_id, e.member_id))
        .ok_or(AppError::NotFound("ledger entry"))
}

/// The hold if the caller may see it; `NOT_FOUND` otherwise, as for a missing one.
pub(crate) fn visible_hold(principal: &Principal, hold: Option<Hold>) -> AppResult<Hold> {
    may_read_ledger(principal)?;
    hold.filter(|h| can_see_ledger_row(principal, Some(h.partner_id), h.member_id))
        .ok_or(AppError::NotFound("hold"))
}

/// Whether the caller may know who a member is (card number) and see its points: the
/// operator, the member itself, and a partner the member is linked to (linked by enrolling
/// there, or by `linkMember` with the member's presence code or consent). Other partners
/// see the member's opaque id and their own entries with it.
pub(crate) fn may_know_member(
    principal: &Principal,
    member_id: Uuid,
    linked_partners: &[Uuid],
) -> bool {
    match principal {
        Principal::Operator { .. } => true,
        Principal::Member { member_id: me } => *me == member_id,
        Principal::Partner { partner_id, .. } => linked_partners.contains(partner_id),
    }
}

/// A member's points (balance, expiries, entries, tier): the operator, the member, and
/// partners with `members:read` that the member is linked to ([`may_know_member`]).
pub(crate) fn may_see_points(
    principal: &Principal,
    member_id: Uuid,
    linked_partners: &[Uuid],
) -> AppResult<()> {
    if let Principal::Partner { .. } = principal {
        principal.require_partner_scope(Scope::MembersRead)?;
    }
    if may_know_member(principal, member_id, linked_partners) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "this member is not linked to you: link it with its presence code or consent",
        ))
    }
}

/// Ledger entries and holds: a partner reads them with any scope that writes them, or
/// `members:read` (not with `settlement:read` alone).
pub(crate) fn may_read_ledger(principal: &Principal) -> AppResult<()> {
    match principal {
        Principal::Partner { scopes, .. }
            if ![
                Scope::PointsIssue,
                Scope::PointsRedeem,
                Scope::PointsReverse,
                Scope::MembersRead,
            ]
            .into_iter()
            .any(|s| scopes.contains(s)) =>
        {
            Err(AppError::forbidden(
                "reading the ledger needs points:issue, points:redeem, points:reverse or members:read",
            ))
        }
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

    #[test]
    fn a_partner_knows_a_member_only_when_linked_and_reads_points_with_members_read() {
        let member = Uuid::now_v7();
        let partner = Uuid::now_v7();
        let reader = Principal::Partner {
            partner_id: partner,
            scopes: crate::auth::Scopes::from_list(["members:read"]).unwrap(),
        };
        assert!(!may_know_member(&reader, member, &[Uuid::now_v7()]));
        assert!(may_know_member(&reader, member, &[partner]));
        assert_eq!(
            may_see_points(&reader, member, &[]).unwrap_err().code(),
            "FORBIDDEN"
        );
        assert!(may_see_points(&reader, member, &[partner]).is_ok());
        let issuer = Principal::Partner {
            partner_id: partner,
            scopes: crate::auth::Scopes::from_list(["points:issue"]).unwrap(),
        };
        assert_eq!(
            may_see_points(&issuer, member, &[partner])
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        assert!(may_read_ledger(&issuer).is_ok());
        let accountant = Principal::Partner {
            partner_id: partner,
            scopes: crate::auth::Scopes::from_list(["settlement:read"]).unwrap(),
        };
        assert_eq!(
            may_read_ledger(&accountant).unwrap_err().code(),
            "FORBIDDEN"
        );
    }
}
