//! Family links: a member asks to link another by card number; the link is active once
//! both have asked, and only then may points move between them (`transferPoints`, in
//! services::ledger).

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use crate::db::DbPool;
use crate::{
    auth::Principal,
    db::models::{
        Member,
        family::{self, FamilyMember},
    },
    domain::member::normalize_member_number,
    error::{AppError, AppResult},
};

/// Links a member may have or ask for at a time.
pub(crate) const MAX_FAMILY_MEMBERS: usize = 6;

fn member_only(principal: &Principal, what: &str) -> AppResult<Uuid> {
    match principal {
        Principal::Member { member_id } => Ok(*member_id),
        _ => Err(AppError::forbidden(format!("{what} is for members"))),
    }
}

/// The member with this card number, if any; never the asking member itself.
async fn other_member(
    conn: &mut AsyncPgConnection,
    me: Uuid,
    number: &str,
) -> AppResult<Option<Member>> {
    let other = Member::find_by_number(conn, number).await?;
    if other.as_ref().is_some_and(|o| o.id == me) {
        return Err(AppError::bad_input("you cannot link yourself"));
    }
    Ok(other)
}

/// The member asks to link the member with this card number (or accepts its request). A
/// number no member has is recorded and answered like any request, so that the answer
/// never tells whether a card number exists.
pub(crate) async fn link(
    db: &DbPool,
    principal: &Principal,
    member_number: &str,
) -> AppResult<FamilyMember> {
    let me = member_only(principal, "linkFamilyMember")?;
    let number = normalize_member_number(member_number)?;
    let mut conn = db.get().await?;
    let other = other_member(&mut conn, me, &number).await?;
    conn.transaction(async |conn| {
        family::lock_member(conn, me).await?;
        let current = family::of(conn, me).await?;
        if !current.iter().any(|f| f.member_number == number) && current.len() >= MAX_FAMILY_MEMBERS
        {
            return Err(AppError::bad_input(format!(
                "a member has at most {MAX_FAMILY_MEMBERS} family links"
            )));
        }
        match &other {
            Some(other) => family::request(conn, me, other.id, Utc::now()).await?,
            None => family::request_unmatched(conn, me, &number, Utc::now()).await?,
        }
        family::of(conn, me)
            .await?
            .into_iter()
            .find(|f| f.member_number == number)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("family link vanished")))
    })
    .await
}

/// Removes a link (or a request) in both directions. Returns whether there was one (false
/// for a number no member has, as for a member never linked).
pub(crate) async fn unlink(
    db: &DbPool,
    principal: &Principal,
    member_number: &str,
) -> AppResult<bool> {
    let me = member_only(principal, "unlinkFamilyMember")?;
    let number = normalize_member_number(member_number)?;
    let mut conn = db.get().await?;
    let removed = match other_member(&mut conn, me, &number).await? {
        Some(other) => family::remove(&mut conn, me, other.id).await?,
        None => family::remove_unmatched(&mut conn, me, &number).await?,
    };
    Ok(removed > 0)
}

pub(crate) async fn list(db: &DbPool, member_id: Uuid) -> AppResult<Vec<FamilyMember>> {
    let mut conn = db.get().await?;
    Ok(family::of(&mut conn, member_id).await?)
}
