//! The pages' people: portal users (the operator's and partners' staff, created by the
//! operator or a partner's admin), their sign-in with lockout, and browser sessions for them
//! and for members who follow their wallet link. A session acts as a [`Principal`] with the
//! same authorization as the API; staff sessions only read.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    auth::{
        KeySet, Principal, Scope, Scopes,
        secrets::{decoy_hash, hash_secret_blocking, random_token, verify_secret_blocking},
    },
    config::SessionConfig,
    db::{
        DbPool,
        models::{
            Partner, is_unique_violation,
            portal::{PortalUser, WebSession},
        },
    },
    domain::portal::{LockoutPolicy, PortalRole, SignInCounter, normalize_email, session_alive},
    error::{AppError, AppResult},
    services::audit::{self, Change},
};

pub(crate) struct NewPortalUser {
    pub email: String,
    pub role: PortalRole,
    /// None: one of the operator's staff (the operator only).
    pub partner_id: Option<Uuid>,
}

pub(crate) struct CreatedPortalUser {
    pub user: PortalUser,
    /// Shown once, here; only its Argon2id hash is stored.
    pub password: String,
}

/// Whose users `principal` manages: the operator anyone's (None), a partner admin its own.
fn managed_partner(principal: &Principal) -> AppResult<Option<Uuid>> {
    principal.records_partner(Scope::PartnerAdmin)
}

pub(crate) async fn create_user(
    db: &DbPool,
    principal: &Principal,
    input: NewPortalUser,
) -> AppResult<CreatedPortalUser> {
    let partner_id = match managed_partner(principal)? {
        None => input.partner_id,
        Some(own) if input.partner_id.is_none_or(|p| p == own) => Some(own),
        Some(_) => return Err(AppError::forbidden("a partner manages only its own staff")),
    };
    let email = normalize_email(&input.email)?;
    let (password, password_hash) = new_password().await?;
    let user = PortalUser {
        id: Uuid::now_v7(),
        email,
        partner_id,
        role: input.role.as_str().to_owned(),
        password_hash,
        failed_logins: 0,
        locked_until: None,
        created_at: Utc::now(),
        created_by: principal.subject(),
        disabled_at: None,
    };
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        if let Some(id) = partner_id {
            let partner = Partner::find(conn, id)
                .await?
                .ok_or(AppError::NotFound("partner"))?;
            if partner.is_coalition {
                return Err(AppError::bad_input(
                    "the coalition's campaign budget is not a partner: it has no staff",
                ));
            }
        }
        PortalUser::insert(conn, &user).await.map_err(|e| {
            if is_unique_violation(&e, "portal_users_email") {
                AppError::bad_input("a portal user with this email exists")
            } else {
                e.into()
            }
        })?;
        let change = Change::new("portal_user.created", partner_id, user.id).after(&user);
        audit::record(conn, principal, change).await
    })
    .await?;
    Ok(CreatedPortalUser { user, password })
}

/// Disables a user and ends its sessions at once.
pub(crate) async fn disable_user(
    db: &DbPool,
    principal: &Principal,
    id: Uuid,
) -> AppResult<PortalUser> {
    let own = managed_partner(principal)?;
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        let user = PortalUser::disable(conn, id, Utc::now())
            .await?
            .filter(|user| own.is_none() || user.partner_id == own)
            .ok_or(AppError::NotFound("active portal user"))?;
        WebSession::delete_for_user(conn, id).await?;
        let change = Change::new("portal_user.disabled", user.partner_id, id).after(&user);
        audit::record(conn, principal, change).await?;
        Ok(user)
    })
    .await
}

/// A new password for a user (forgotten, or locked out): shown once; the user's sessions
/// end.
pub(crate) async fn reset_password(
    db: &DbPool,
    principal: &Principal,
    id: Uuid,
) -> AppResult<CreatedPortalUser> {
    let own = managed_partner(principal)?;
    let (password, password_hash) = new_password().await?;
    let mut conn = db.get().await?;
    let user = conn
        .transaction(async |conn| {
            let user = PortalUser::set_password(conn, id, &password_hash)
                .await?
                .filter(|user| own.is_none() || user.partner_id == own)
                .ok_or(AppError::NotFound("active portal user"))?;
            WebSession::delete_for_user(conn, id).await?;
            let change = Change::new("portal_user.password_reset", user.partner_id, id);
            audit::record(conn, principal, change).await?;
            Ok::<_, AppError>(user)
        })
        .await?;
    Ok(CreatedPortalUser { user, password })
}

/// The user with this email, for the demo's seeding.
pub(crate) async fn find_by_email(db: &DbPool, email: &str) -> AppResult<Option<PortalUser>> {
    let mut conn = db.get().await?;
    Ok(PortalUser::find_by_email_for_update(&mut conn, &normalize_email(email)?).await?)
}

/// The operator: every user, or one partner's; a partner admin: its own.
pub(crate) async fn list_users(
    db: &DbPool,
    principal: &Principal,
    partner_id: Option<Uuid>,
) -> AppResult<Vec<PortalUser>> {
    let filter = match managed_partner(principal)? {
        None => partner_id.map(Some),
        Some(own) if partner_id.is_none_or(|p| p == own) => Some(Some(own)),
        Some(_) => return Err(AppError::forbidden("a partner sees only its own staff")),
    };
    let mut conn = db.get().await?;
    Ok(PortalUser::list(&mut conn, filter).await?)
}

/// A new password, made by the hub (shown once), and its Argon2id hash.
async fn new_password() -> AppResult<(String, String)> {
    let password = random_token("", 18);
    let hash = hash_secret_blocking(password.clone())
        .await
        .map_err(AppError::internal)?;
    Ok((password, hash))
}

/// A new browser session: the cookie's token and the page's CSRF token. Neither is stored.
pub(crate) struct OpenedSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Why a sign-in was refused.
#[derive(Debug)]
pub(crate) enum SignInRefused {
    /// Unknown email, disabled user or wrong password: the caller cannot tell which.
    WrongCredentials,
    Locked {
        until: DateTime<Utc>,
    },
    PartnerSuspended,
    Failed(AppError),
}

impl From<AppError> for SignInRefused {
    fn from(error: AppError) -> Self {
        SignInRefused::Failed(error)
    }
}

impl From<diesel::result::Error> for SignInRefused {
    fn from(error: diesel::result::Error) -> Self {
        SignInRefused::Failed(error.into())
    }
}

/// Checks the password (the account's row locked, so that wrong guesses made at once all
/// count) and opens a session.
pub(crate) async fn sign_in(
    db: &DbPool,
    config: &SessionConfig,
    email: &str,
    password: &str,
) -> Result<(OpenedSession, PortalUser), SignInRefused> {
    let email = normalize_email(email).map_err(|_| SignInRefused::WrongCredentials)?;
    let policy = LockoutPolicy {
        max_failures: config.max_failed_logins,
        lockout: chrono::Duration::from_std(config.lockout).map_err(AppError::internal)?,
    };
    let mut conn = db.get().await.map_err(AppError::from)?;
    let outcome = conn
        .transaction(async |conn| check_password(conn, &email, password, policy).await)
        .await?;
    let user = outcome?;
    if let Some(partner_id) = user.partner_id {
        let partner = Partner::find(&mut conn, partner_id).await?;
        if partner.is_none_or(|p| !p.is_active()) {
            return Err(SignInRefused::PartnerSuspended);
        }
    }
    let session = open(&mut conn, config, Some(user.id), None).await?;
    Ok((session, user))
}

/// The transaction's result is the counter's update; the sign-in's is inside it, so that a
/// wrong password is still counted (committed).
async fn check_password(
    conn: &mut AsyncPgConnection,
    email: &str,
    password: &str,
    policy: LockoutPolicy,
) -> Result<Result<PortalUser, SignInRefused>, SignInRefused> {
    let now = Utc::now();
    let found = PortalUser::find_by_email_for_update(conn, email)
        .await?
        .filter(|user| user.disabled_at.is_none());
    let Some(user) = found else {
        // The same time as a wrong password.
        verify_secret_blocking(password.to_owned(), decoy_hash().to_owned())
            .await
            .map_err(AppError::internal)?;
        return Ok(Err(SignInRefused::WrongCredentials));
    };
    let counter = SignInCounter {
        failed: user.failed_logins,
        locked_until: user.locked_until,
    };
    if counter.is_locked(now) {
        return Ok(Err(SignInRefused::Locked {
            until: user.locked_until.unwrap_or(now),
        }));
    }
    let good = verify_secret_blocking(password.to_owned(), user.password_hash.clone())
        .await
        .map_err(AppError::internal)?;
    let next = if good {
        SignInCounter::after_success()
    } else {
        counter.after_failure(now, policy)
    };
    if next != counter {
        PortalUser::record_sign_in(conn, user.id, next.failed, next.locked_until).await?;
    }
    Ok(match (good, next.locked_until) {
        (true, _) => Ok(user),
        (false, Some(until)) => Err(SignInRefused::Locked { until }),
        (false, None) => Err(SignInRefused::WrongCredentials),
    })
}

/// A member's session, from a member token of the wallet link (`issueMemberToken`).
pub(crate) async fn open_for_member(
    db: &DbPool,
    keys: &KeySet,
    config: &SessionConfig,
    token: &str,
) -> AppResult<OpenedSession> {
    let Principal::Member { member_id } = keys.verify(token)? else {
        return Err(AppError::Unauthenticated(
            "the wallet opens with a member token",
        ));
    };
    let mut conn = db.get().await?;
    open(&mut conn, config, None, Some(member_id)).await
}

async fn open(
    conn: &mut AsyncPgConnection,
    config: &SessionConfig,
    user_id: Option<Uuid>,
    member_id: Option<Uuid>,
) -> AppResult<OpenedSession> {
    let now = Utc::now();
    let expires_at =
        now + chrono::Duration::from_std(config.absolute).map_err(AppError::internal)?;
    let token = random_token("", 32);
    let csrf_token = random_token("", 24);
    WebSession::insert(
        conn,
        &WebSession {
            token_hash: token_hash(&token),
            user_id,
            member_id,
            csrf_token: csrf_token.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at,
        },
    )
    .await?;
    // Now and then, forget the sessions that ended.
    if rand::random::<u8>() == 0 {
        WebSession::purge_expired(conn, now).await?;
    }
    Ok(OpenedSession {
        token,
        csrf_token,
        expires_at,
    })
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A live session, as a request sees it.
#[derive(Clone, Debug)]
pub(crate) struct LiveSession {
    pub principal: Principal,
    /// Staff read; only an admin's (or a member's own) session changes things.
    pub read_only: bool,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: Option<PortalUser>,
}

/// What the scopes of a partner's portal user are: an admin's all, staff's reading ones.
fn portal_principal(user: &PortalUser) -> Principal {
    match user.partner_id {
        None => Principal::Operator {
            subject: format!("portal:{}", user.email),
        },
        Some(partner_id) => Principal::Partner {
            partner_id,
            scopes: if user.role == PortalRole::Admin.as_str() {
                Scopes::all()
            } else {
                Scopes::from_list(["members:read", "settlement:read"]).unwrap_or_default()
            },
        },
    }
}

/// The session of a cookie's token, if it is alive; using it keeps it alive (the last-seen
/// time is written at most once a minute).
pub(crate) async fn live(
    db: &DbPool,
    config: &SessionConfig,
    token: &str,
) -> AppResult<Option<LiveSession>> {
    let hash = token_hash(token);
    let mut conn = db.get().await?;
    let Some((session, user)) = WebSession::find(&mut conn, &hash).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let idle = chrono::Duration::from_std(config.idle).map_err(AppError::internal)?;
    if !session_alive(session.last_seen_at, session.expires_at, idle, now) {
        WebSession::delete(&mut conn, &hash).await?;
        return Ok(None);
    }
    if now - session.last_seen_at > chrono::Duration::minutes(1) {
        WebSession::touch(&mut conn, &hash, now).await?;
    }
    let (principal, read_only) = match (&user, session.member_id) {
        (Some(user), _) if user.disabled_at.is_none() => (
            portal_principal(user),
            user.role != PortalRole::Admin.as_str(),
        ),
        (None, Some(member_id)) => (Principal::Member { member_id }, false),
        _ => return Ok(None),
    };
    Ok(Some(LiveSession {
        principal,
        read_only,
        csrf_token: session.csrf_token,
        expires_at: session.expires_at,
        user,
    }))
}

/// Ends a session (logout); ending one already gone is fine.
pub(crate) async fn close(db: &DbPool, token: &str) -> AppResult<()> {
    let mut conn = db.get().await?;
    WebSession::delete(&mut conn, &token_hash(token)).await?;
    Ok(())
}
