//! Family links: a member asks to link another by card number; the link is active once
//! both have asked, and only then may points move between them (`transferPoints`, in
//! services::ledger).

use chrono::Utc;
use diesel_async::AsyncConnection;
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

async fn other_member(db: &DbPool, me: Uuid, number: &str) -> AppResult<Member> {
    let number = normalize_member_number(number)?;
    let mut conn = db.get().await?;
    let other = Member::find_by_number(&mut conn, &number)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    if other.id == me {
        return Err(AppError::bad_input("you cannot link yourself"));
    }
    Ok(other)
}

/// The member asks to link the member with this card number (or accepts its request).
pub(crate) async fn link(
    db: &DbPool,
    principal: &Principal,
    member_number: &str,
) -> AppResult<FamilyMember> {
    let me = member_only(principal, "linkFamilyMember")?;
    let other = other_member(db, me, member_number).await?;
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        family::lock_member(conn, me).await?;
        let current = family::of(conn, me).await?;
        if !current.iter().any(|f| f.member_id == other.id) && current.len() >= MAX_FAMILY_MEMBERS {
            return Err(AppError::bad_input(format!(
                "a member has at most {MAX_FAMILY_MEMBERS} family links"
            )));
        }
        family::request(conn, me, other.id, Utc::now()).await?;
        family::of(conn, me)
            .await?
            .into_iter()
            .find(|f| f.member_id == other.id)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("family link vanished")))
    })
    .await
}

/// Removes a link (or a request) in both directions. Returns whether there was one.
pub(crate) async fn unlink(
    db: &DbPool,
    principal: &Principal,
    member_number: &str,
) -> AppResult<bool> {
    let me = member_only(principal, "unlinkFamilyMember")?;
    let other = other_member(db, me, member_number).await?;
    let mut conn = db.get().await?;
    Ok(family::remove(&mut conn, me, other.id).await? > 0)
}

pub(crate) async fn list(db: &DbPool, member_id: Uuid) -> AppResult<Vec<FamilyMember>> {
    let mut conn = db.get().await?;
    Ok(family::of(&mut conn, member_id).await?)
}
