//! Partner API credentials and the OAuth2 client-credentials exchange.

use chrono::Utc;
use diesel_async::AsyncConnection;
use uuid::Uuid;

use crate::{
    auth::{
        KeySet, Principal, Scope, Scopes, TokenRequest,
        keys::MintedToken,
        secrets::{decoy_hash, hash_secret_blocking, random_token, verify_secret_blocking},
    },
    db::{DbPool, models::Credential, models::Partner},
    error::{AppError, AppResult},
    services::audit::{self, Change},
};

pub(crate) struct NewCredentials {
    pub credential: Credential,
    /// Shown once, here; only its hash is stored.
    pub client_secret: String,
}

pub(crate) async fn create(
    db: &DbPool,
    principal: &Principal,
    partner_id: Uuid,
    scopes: &[String],
) -> AppResult<NewCredentials> {
    let partner_id = principal.acting_partner(Scope::PartnerAdmin, Some(partner_id))?;
    let scopes = Scopes::from_list(scopes.iter().map(String::as_str))?;
    if scopes.is_empty() {
        return Err(AppError::bad_input("credentials need at least one scope"));
    }
    if !scopes.is_subset(&principal.scopes()) {
        return Err(AppError::forbidden(
            "a partner grants its credentials only scopes it holds itself",
        ));
    }
    let mut conn = db.get().await?;
    let partner = Partner::find(&mut conn, partner_id)
        .await?
        .ok_or(AppError::NotFound("partner"))?;
    if partner.is_coalition {
        return Err(AppError::bad_input(
            "the coalition's campaign budget is not a partner: it has no credentials",
        ));
    }
    let client_secret = random_token("sk_", 32);
    let secret_hash = hash_secret_blocking(client_secret.clone())
        .await
        .map_err(AppError::internal)?;
    let credential = Credential {
        client_id: random_token("cl_", 12),
        partner_id,
        secret_hash,
        scope: scopes.to_string(),
        created_at: Utc::now(),
        revoked_at: None,
    };
    conn.transaction(async |conn| {
        Credential::insert(conn, &credential).await?;
        let change = Change::new(
            "credentials.created",
            Some(partner_id),
            &credential.client_id,
        )
        .after(&credential);
        audit::record(conn, principal, change).await
    })
    .await?;
    tracing::info!(%partner_id, client_id = %credential.client_id, "partner credentials created");
    Ok(NewCredentials {
        credential,
        client_secret,
    })
}

pub(crate) async fn revoke(db: &DbPool, principal: &Principal, client_id: &str) -> AppResult<()> {
    let own = principal.records_partner(Scope::PartnerAdmin)?;
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        // A partner's revocation of another's credentials rolls back, unseen.
        let revoked = Credential::revoke(conn, client_id)
            .await?
            .filter(|revoked| own.is_none_or(|partner_id| revoked.partner_id == partner_id))
            .ok_or(AppError::NotFound("live credentials"))?;
        let change =
            Change::new("credentials.revoked", Some(revoked.partner_id), client_id).after(&revoked);
        audit::record(conn, principal, change).await
    })
    .await
}

pub(crate) async fn for_partner(db: &DbPool, partner_id: Uuid) -> AppResult<Vec<Credential>> {
    let mut conn = db.get().await?;
    Ok(Credential::for_partner(&mut conn, partner_id).await?)
}

/// Why a client-credentials exchange was refused, in the terms of RFC 6749 section 5.2.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ExchangeError {
    InvalidClient,
    PartnerSuspended,
    InvalidScope(String),
    Internal,
}

/// Exchanges a client id and secret for a partner token carrying the requested scopes (all
/// the credential's scopes when none are requested).
pub(crate) async fn exchange(
    db: &DbPool,
    keys: &KeySet,
    ttl: std::time::Duration,
    client_id: &str,
    client_secret: &str,
    requested_scope: Option<&str>,
) -> Result<(MintedToken, Scopes), ExchangeError> {
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "client credentials exchange failed");
        ExchangeError::Internal
    };
    let found = {
        let mut conn = db.get().await.map_err(|e| internal(&e))?;
        Credential::find_live(&mut conn, client_id)
            .await
            .map_err(|e| internal(&e))?
    };
    // Verify against a decoy hash for unknown clients: same work, same time.
    let stored_hash = found
        .as_ref()
        .map(|(c, _)| c.secret_hash.clone())
        .unwrap_or_else(|| decoy_hash().to_owned());
    let secret_ok = verify_secret_blocking(client_secret.to_owned(), stored_hash)
        .await
        .map_err(|e| internal(&e))?;
    let (credential, status) = match found {
        Some(found) if secret_ok => found,
        _ => return Err(ExchangeError::InvalidClient),
    };
    if status != "ACTIVE" {
        return Err(ExchangeError::PartnerSuspended);
    }
    let granted = Scopes::parse_lenient(&credential.scope);
    let scopes = match requested_scope {
        None => granted,
        Some(text) => {
            let requested = Scopes::parse_strict(text)
                .map_err(|e| ExchangeError::InvalidScope(e.to_string()))?;
            if !requested.is_subset(&granted) {
                return Err(ExchangeError::InvalidScope(
                    "the requested scope exceeds what these credentials grant".into(),
                ));
            }
            requested
        }
    };
    let token = keys
        .mint(TokenRequest {
            principal: Principal::Partner {
                partner_id: credential.partner_id,
                scopes: scopes.clone(),
            },
            ttl,
        })
        .map_err(|e| internal(&e))?;
    Ok((token, scopes))
}

impl From<AppError> for ExchangeError {
    fn from(_: AppError) -> Self {
        ExchangeError::Internal
    }
}
