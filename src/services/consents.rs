//! What a partner may do for a member beyond earning (issue 22): the member's presence
//! codes and standing consents. The rules themselves are in sql/members/presence.sql, so
//! that the money functions and these services apply the same ones.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::{
    auth::Principal,
    db::{
        DbPool,
        models::{
            Partner,
            consent::{self, MemberConsent, Presence},
        },
    },
    domain::member::{PRESENCE_CODE_TTL, generate_presence_code},
    error::{AppError, AppResult},
};

/// A code for the member's app to show at a till.
pub struct PresenceCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

fn own_member(principal: &Principal) -> AppResult<Uuid> {
    match principal {
        Principal::Member { member_id } => Ok(*member_id),
        _ => Err(AppError::forbidden(
            "this is the member's own (member tokens only)",
        )),
    }
}

/// A new presence code for the calling member; an earlier unused one stops working.
pub async fn create_presence_code(db: &DbPool, principal: &Principal) -> AppResult<PresenceCode> {
    let member_id = own_member(principal)?;
    let code = generate_presence_code(&mut rand::rng());
    let now = Utc::now();
    let expires_at = now + PRESENCE_CODE_TTL;
    let mut conn = db.get().await?;
    consent::new_presence_code(&mut conn, member_id, &code, expires_at, now).await?;
    Ok(PresenceCode { code, expires_at })
}

/// The calling member grants the partner standing consent (granting again keeps the first
/// grant); answers the member's consents.
pub async fn grant(
    db: &DbPool,
    principal: &Principal,
    partner_id: Uuid,
) -> AppResult<Vec<MemberConsent>> {
    let member_id = own_member(principal)?;
    let mut conn = db.get().await?;
    Partner::find(&mut conn, partner_id)
        .await?
        .ok_or(AppError::NotFound("partner"))?;
    let row = MemberConsent {
        member_id,
        partner_id,
        source: "MEMBER".into(),
        granted_at: Utc::now(),
    };
    MemberConsent::grant(&mut conn, &row).await?;
    Ok(MemberConsent::for_member(&mut conn, member_id).await?)
}

/// The calling member revokes a consent, at once: the partner's next redemption, hold, link
/// or member token needs a presence code. Answers the consents left.
pub async fn revoke(
    db: &DbPool,
    principal: &Principal,
    partner_id: Uuid,
) -> AppResult<Vec<MemberConsent>> {
    let member_id = own_member(principal)?;
    let mut conn = db.get().await?;
    if !MemberConsent::revoke(&mut conn, member_id, partner_id).await? {
        return Err(AppError::NotFound("consent"));
    }
    tracing::info!(%member_id, %partner_id, "consent revoked");
    Ok(MemberConsent::for_member(&mut conn, member_id).await?)
}

/// A member's consents: the member itself and the operator.
pub async fn list(
    db: &DbPool,
    principal: &Principal,
    member_id: Uuid,
) -> AppResult<Vec<MemberConsent>> {
    match principal {
        Principal::Member { member_id: me } if *me == member_id => {}
        Principal::Operator { .. } => {}
        _ => return Err(AppError::forbidden("consents are the member's own")),
    }
    let mut conn = db.get().await?;
    Ok(MemberConsent::for_member(&mut conn, member_id).await?)
}

/// `FORBIDDEN` unless the partner may act for the member now: its presence code (used up
/// here) or its consent. Run outside a transaction that could roll back, so that a wrong
/// code stays counted.
pub async fn require_presence(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
    member_id: Uuid,
    code: Option<&str>,
) -> AppResult<()> {
    match consent::member_presence(conn, partner_id, member_id, code, Utc::now()).await? {
        Presence::Granted => Ok(()),
        Presence::Absent => Err(AppError::forbidden(
            "the member must be present: pass the presenceCode its app shows, or ask the member for consent",
        )),
        Presence::WrongCode => Err(AppError::forbidden(
            "the presence code is wrong, used or expired",
        )),
    }
}
