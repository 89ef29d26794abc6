//! Enrolment, partner links, lookups with the visibility rules of DESIGN.md, member tokens.

use std::sync::Arc;

use chrono::Utc;
use uuid::Uuid;

use crate::{
    auth::{KeySet, Principal, Scope, TokenRequest, keys::MintedToken},
    db::ledger::{database_error, hub_enroll_member},
    db::{
        DbPool,
        models::{Member, MemberLink, Partner, is_unique_violation},
    },
    domain::{
        leaderboard::normalize_referral_code,
        member::{
            generate_member_number, normalize_member_number, normalize_presence_code,
            validate_customer_id,
        },
    },
    error::{AppError, AppResult},
    services::consents,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// Exactly one way of naming a member (`MemberRefInput`).
#[derive(Clone, Debug)]
pub enum MemberRef {
    Id(Uuid),
    Number(String),
    PartnerCustomerId(String),
}

pub struct Enrolment {
    pub member: Member,
    /// False when the partner's customer id was already linked and that member is returned.
    pub created: bool,
    /// A referral code came and was attached (it converts on the member's first earn here).
    pub referral_attached: bool,
}

/// The members service's handle: the pool, and the keys member tokens are signed with.
#[derive(Clone)]
pub struct Members {
    pub(crate) db: DbPool,
    pub(crate) keys: Arc<KeySet>,
}

/// The scope a partner needs to enrol and link members: it is part of earning.
const ENROL_SCOPE: Scope = Scope::PointsIssue;

/// Enrols a new member, linked to the acting partner's customer id when given. Enrolling a
/// customer id that is already linked returns that member (a till may retry). An
/// ambassador's referral code is attached in the same transaction.
pub async fn enroll(
    members: &Members,
    principal: &Principal,
    partner_id: Option<Uuid>,
    customer_id: Option<String>,
    referral_code: Option<String>,
) -> AppResult<Enrolment> {
    let db = &members.db;
    let partner_id = match (principal, partner_id, &customer_id) {
        (Principal::Operator { .. }, None, None) => None,
        _ => Some(principal.acting_partner(ENROL_SCOPE, partner_id)?),
    };
    if let Some(id) = &customer_id {
        validate_customer_id(id)?;
    }
    if partner_id.is_some() && customer_id.is_none() {
        return Err(AppError::bad_input(
            "partnerCustomerId is required to enrol a member for a partner",
        ));
    }
    let referral_code = referral_code
        .as_deref()
        .map(normalize_referral_code)
        .transpose()?;
    if referral_code.is_some() && partner_id.is_none() {
        return Err(AppError::bad_input(
            "a referral code is used at a partner: give partnerId",
        ));
    }
    let mut conn = db.get().await?;
    if let Some(partner_id) = partner_id {
        ensure_partner_exists(&mut conn, partner_id).await?;
    }
    let enrolment = conn
        .transaction::<_, AppError, _>(async |conn| {
            let mut enrolment =
                if let (Some(partner_id), Some(customer_id)) = (partner_id, &customer_id) {
                    find_or_enroll(conn, partner_id, customer_id).await?
                } else {
                    Enrolment {
                        member: insert_member(conn).await?,
                        created: true,
                        referral_attached: false,
                    }
                };
            if let (Some(code), Some(partner_id)) = (&referral_code, partner_id) {
                enrolment.referral_attached = crate::db::models::ambassador::attach_referral(
                    conn,
                    code,
                    enrolment.member.id,
                    partner_id,
                    Utc::now(),
                )
                .await
                .map_err(database_error)?;
            }
            Ok(enrolment)
        })
        .await?;
    if enrolment.created {
        tracing::info!(member_id = %enrolment.member.id, ?partner_id, "member enrolled");
    }
    Ok(enrolment)
}

/// The member linked to this customer id of the partner, enrolled now if there is none.
/// Concurrent calls for one customer id end with one member (the SQL function serializes
/// them); `issuePoints` enrols through the same function.
pub async fn find_or_enroll(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
    customer_id: &str,
) -> AppResult<Enrolment> {
    let number = generate_member_number(&mut rand::rng());
    let (member_id, created) = diesel::select(hub_enroll_member(
        partner_id,
        customer_id,
        Uuid::now_v7(),
        number,
        Utc::now(),
    ))
    .get_result::<(Uuid, bool)>(conn)
    .await?;
    let member = Member::find(conn, member_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("enrolled member vanished")))?;
    Ok(Enrolment {
        member,
        created,
        referral_attached: false,
    })
}

async fn insert_member(conn: &mut AsyncPgConnection) -> AppResult<Member> {
    // A collision of two random 15-digit numbers is rare; try a few before giving up.
    for _ in 0..5 {
        let row = Member {
            id: Uuid::now_v7(),
            member_number: generate_member_number(&mut rand::rng()),
            created_at: Utc::now(),
        };
        match Member::insert(conn, &row).await {
            Ok(member) => return Ok(member),
            Err(e) if is_unique_violation(&e, "members_member_number_key") => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::internal(anyhow::anyhow!(
        "could not draw a free member number"
    )))
}

async fn ensure_partner_exists(conn: &mut AsyncPgConnection, partner_id: Uuid) -> AppResult<()> {
    Partner::find(conn, partner_id)
        .await?
        .map(drop)
        .ok_or(AppError::NotFound("partner"))
}

/// Links an existing coalition member (named by id or number, as on the card) to the acting
/// partner's customer id. A partner needs the member: its presence code or its consent
/// (services::consents). Linking the same pair again is a no-op.
pub async fn link(
    members: &Members,
    principal: &Principal,
    partner_id: Option<Uuid>,
    member: MemberRef,
    customer_id: String,
    presence_code: Option<String>,
) -> AppResult<Member> {
    let db = &members.db;
    let partner_id = principal.acting_partner(ENROL_SCOPE, partner_id)?;
    validate_customer_id(&customer_id)?;
    let code = presence_code
        .as_deref()
        .map(normalize_presence_code)
        .transpose()?;
    let mut conn = db.get().await?;
    ensure_partner_exists(&mut conn, partner_id).await?;
    let member = match member {
        MemberRef::PartnerCustomerId(_) => {
            return Err(AppError::bad_input(
                "name the member to link by memberId or memberNumber",
            ));
        }
        other => lookup(&mut conn, &other).await?,
    }
    .ok_or(AppError::NotFound("member"))?;
    match MemberLink::find(&mut conn, member.id, partner_id).await? {
        Some(link) if link.partner_customer_id == customer_id => return Ok(member),
        Some(_) => {
            return Err(AppError::bad_input(
                "this member is already linked under another partnerCustomerId",
            ));
        }
        None => {}
    }
    if Member::find_by_customer_id(&mut conn, partner_id, &customer_id)
        .await?
        .is_some()
    {
        return Err(AppError::bad_input(
            "this partnerCustomerId is already linked to another member",
        ));
    }
    if !principal.is_operator() {
        consents::require_presence(&mut conn, partner_id, member.id, code.as_deref()).await?;
    }
    insert_link(&mut conn, partner_id, customer_id, member).await
}

async fn insert_link(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
    customer_id: String,
    member: Member,
) -> AppResult<Member> {
    let row = MemberLink {
        partner_id,
        partner_customer_id: customer_id.clone(),
        member_id: member.id,
        linked_at: Utc::now(),
    };
    match MemberLink::insert(conn, &row).await {
        Ok(Some(_)) => Ok(member),
        Ok(None) => {
            // The customer id is taken: fine if by this very member.
            match Member::find_by_customer_id(conn, partner_id, &customer_id).await? {
                Some(existing) if existing.id == member.id => Ok(member),
                _ => Err(AppError::bad_input(
                    "this partnerCustomerId is already linked to another member",
                )),
            }
        }
        Err(e) if is_unique_violation(&e, "member_links_member_id_partner_id_key") => Err(
            AppError::bad_input("this member is already linked under another partnerCustomerId"),
        ),
        Err(e) => Err(e.into()),
    }
}

/// Finds a member the caller may see: operators any member, a partner (with `members:read`)
/// only members linked to it, a member only itself. Anything else is `NOT_FOUND`, so that
/// nobody learns which members exist elsewhere.
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    member: &MemberRef,
) -> AppResult<Member> {
    let found = match (principal, member) {
        (Principal::Partner { .. }, _) => {
            let partner_id = principal.require_partner_scope(Scope::MembersRead)?;
            let found = match member {
                MemberRef::PartnerCustomerId(cid) => {
                    Member::find_by_customer_id(conn, partner_id, cid).await?
                }
                other => lookup(conn, other).await?,
            };
            match found {
                Some(m) if MemberLink::find(conn, m.id, partner_id).await?.is_some() => Some(m),
                _ => None,
            }
        }
        (_, MemberRef::PartnerCustomerId(_)) => {
            return Err(AppError::bad_input(
                "partnerCustomerId names a member only for the partner that linked it",
            ));
        }
        (Principal::Operator { .. }, other) => lookup(conn, other).await?,
        (Principal::Member { member_id }, other) => {
            lookup(conn, other).await?.filter(|m| m.id == *member_id)
        }
    };
    found.ok_or(AppError::NotFound("member"))
}

/// As [`find_visible`], but a partner needs no `members:read`: for operations (member
/// tokens, ambassador enrolment) that a partner may do only for members linked to it.
pub async fn find_as_linked(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    member: &MemberRef,
) -> AppResult<Member> {
    let lookup_as = match principal {
        Principal::Partner { partner_id, .. } => Principal::Partner {
            partner_id: *partner_id,
            scopes: crate::auth::Scopes::from_list([Scope::MembersRead.as_str()])?,
        },
        other => other.clone(),
    };
    find_visible(conn, &lookup_as, member).await
}

async fn lookup(conn: &mut AsyncPgConnection, member: &MemberRef) -> AppResult<Option<Member>> {
    Ok(match member {
        MemberRef::Id(id) => Member::find(conn, *id).await?,
        MemberRef::Number(number) => {
            Member::find_by_number(conn, &normalize_member_number(number)?).await?
        }
        MemberRef::PartnerCustomerId(_) => None,
    })
}

pub async fn get(
    members: &Members,
    principal: &Principal,
    member: &MemberRef,
) -> AppResult<Member> {
    let db = &members.db;
    let mut conn = db.get().await?;
    find_visible(&mut conn, principal, member).await
}

/// A member's birth date: the member itself and the operator only.
pub async fn birth_date(
    members: &Members,
    principal: &Principal,
    member_id: Uuid,
) -> AppResult<Option<chrono::NaiveDate>> {
    let db = &members.db;
    own_or_operator(principal, member_id)?;
    let mut conn = db.get().await?;
    Ok(crate::db::models::member::birth_date(&mut conn, member_id).await?)
}

/// Sets (or, with none, clears) a member's birth date: the member itself, or the operator.
pub async fn set_birth_date(
    members: &Members,
    principal: &Principal,
    member_id: Uuid,
    date: Option<chrono::NaiveDate>,
) -> AppResult<Option<chrono::NaiveDate>> {
    let db = &members.db;
    own_or_operator(principal, member_id)?;
    let today = Utc::now().date_naive();
    if date.is_some_and(|d| d > today || d < today - chrono::Duration::days(150 * 366)) {
        return Err(AppError::bad_input(
            "birthDate must be a past date within 150 years",
        ));
    }
    let mut conn = db.get().await?;
    if crate::db::models::member::set_birth_date(&mut conn, member_id, date).await? == 0 {
        return Err(AppError::NotFound("member"));
    }
    Ok(date)
}

fn own_or_operator(principal: &Principal, member_id: Uuid) -> AppResult<()> {
    match principal {
        Principal::Member { member_id: me } if *me == member_id => Ok(()),
        Principal::Operator { .. } => Ok(()),
        _ => Err(AppError::forbidden("a birth date is the member's own")),
    }
}

/// A short-lived member token, minted by a partner's backend (scope `members:token`) for one
/// of its linked members that is present (its code) or consented, or by an operator.
pub async fn issue_member_token(
    members: &Members,
    principal: &Principal,
    member: &MemberRef,
    presence_code: Option<String>,
    ttl: std::time::Duration,
) -> AppResult<(Member, MintedToken)> {
    let (db, keys) = (&members.db, &*members.keys);
    let partner_id = match principal {
        Principal::Operator { .. } => None,
        _ => Some(principal.require_partner_scope(Scope::MembersToken)?),
    };
    let code = presence_code
        .as_deref()
        .map(normalize_presence_code)
        .transpose()?;
    let mut conn = db.get().await?;
    // A partner may mint only for members linked to it: the members:read rule applies.
    let found = find_as_linked(&mut conn, principal, member).await?;
    if let Some(partner_id) = partner_id {
        consents::require_presence(&mut conn, partner_id, found.id, code.as_deref()).await?;
    }
    let token = keys.mint(TokenRequest {
        principal: Principal::Member {
            member_id: found.id,
        },
        ttl,
    })?;
    Ok((found, token))
}
