//! Ledger rules that hold before anything reaches the database: what an amount, a key, a
//! reference or an expiry may be, how an operation's input is fingerprinted for
//! idempotency, and the one shape the ledger's SQL functions answer in.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Largest amount of one operation: far above any real basket, far below i64 overflow
/// however many operations a balance accumulates.
pub(crate) const MAX_POINTS_PER_ENTRY: i64 = 1_000_000_000;
pub(crate) const MAX_KEY_LEN: usize = 255;
pub(crate) const MAX_REFERENCE_LEN: usize = 200;
/// Points may be given a lifetime of at most this long.
pub(crate) const MAX_LIFETIME_DAYS: i64 = 3660;

pub(crate) fn validate_points(points: i64) -> AppResult<i64> {
    if (1..=MAX_POINTS_PER_ENTRY).contains(&points) {
        Ok(points)
    } else {
        Err(AppError::bad_input(format!(
            "points must be between 1 and {MAX_POINTS_PER_ENTRY}"
        )))
    }
}

pub(crate) fn validate_key(key: &str) -> AppResult<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(AppError::bad_input(format!(
            "idempotencyKey must be 1-{MAX_KEY_LEN} bytes"
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "idempotencyKey must not contain control characters",
        ));
    }
    Ok(())
}

pub(crate) fn validate_reference(reference: Option<&str>) -> AppResult<()> {
    match reference {
        Some(r) if r.chars().count() > MAX_REFERENCE_LEN || r.chars().any(char::is_control) => {
            Err(AppError::bad_input(format!(
                "reference must be at most {MAX_REFERENCE_LEN} characters, without control characters"
            )))
        }
        _ => Ok(()),
    }
}

/// When earned points expire: the given time (in the future, within the maximum lifetime)
/// or the coalition's default lifetime from now.
pub(crate) fn lot_expiry(
    now: DateTime<Utc>,
    requested: Option<DateTime<Utc>>,
    default_lifetime: Duration,
) -> AppResult<DateTime<Utc>> {
    match requested {
        None => Ok(now + default_lifetime),
        Some(at) if at <= now => Err(AppError::bad_input("expiresAt must be in the future")),
        Some(at) if at > now + Duration::days(MAX_LIFETIME_DAYS) => Err(AppError::bad_input(
            format!("expiresAt may be at most {MAX_LIFETIME_DAYS} days ahead"),
        )),
        Some(at) => Ok(at),
    }
}

/// A fingerprint of an operation's input: the same input always gives the same bytes,
/// any difference gives other bytes (fields are length-prefixed, so none can bleed into
/// the next).
pub(crate) struct Fingerprint(Sha256);

impl Fingerprint {
    pub(crate) fn new(operation: &str) -> Fingerprint {
        let mut fp = Fingerprint(Sha256::new());
        fp.field(operation);
        fp
    }

    pub(crate) fn field(&mut self, value: impl std::fmt::Display) -> &mut Self {
        let text = value.to_string();
        self.0.update((text.len() as u64).to_be_bytes());
        self.0.update(text.as_bytes());
        self
    }

    pub(crate) fn optional(&mut self, value: Option<impl std::fmt::Display>) -> &mut Self {
        match value {
            None => self.field("\u{0}none"),
            Some(v) => self.field(v),
        }
    }

    pub(crate) fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0).finalize().to_vec()
    }
}

/// What every money-moving SQL function answers (sql/ledger/answers.sql), for a single call
/// and for each operation of a batch alike: what it did, or why it refused.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LedgerAnswer<T = Booked> {
    Ok(T),
    Refused(Refusal),
    /// An operation of a batch failed with an error that is no refusal (a broken
    /// invariant); reported as `INTERNAL`. (A single call fails as a database error.)
    Failed(String),
}

impl<T> LedgerAnswer<T> {
    pub(crate) fn into_result(self) -> AppResult<T> {
        match self {
            LedgerAnswer::Ok(done) => Ok(done),
            LedgerAnswer::Refused(refusal) => Err(refusal.into()),
            LedgerAnswer::Failed(message) => Err(AppError::internal(anyhow::anyhow!(
                "ledger operation failed: {message}"
            ))),
        }
    }
}

impl<T: serde::de::DeserializeOwned> LedgerAnswer<T> {
    /// Reads an answer as the database returned it (jsonb).
    pub(crate) fn from_json(value: serde_json::Value) -> AppResult<T> {
        serde_json::from_value::<LedgerAnswer<T>>(value)
            .map_err(|e| AppError::internal(anyhow::anyhow!("unreadable ledger answer: {e}")))?
            .into_result()
    }
}

/// An entry written (or replayed): the entry, the hold it concerns, the member and the
/// member's balance after it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Booked {
    pub entry_id: Uuid,
    pub hold_id: Option<Uuid>,
    pub member_id: Uuid,
    pub available: i64,
    pub held: i64,
    pub debt: i64,
    pub lifetime_earned: i64,
    /// Earned, not yet spendable (a return window); absent from answers of old servers.
    #[serde(default)]
    pub pending: i64,
    pub replayed: bool,
    /// An earn that converted a referral: the ambassador's reward.
    #[serde(default)]
    pub reward: Option<Box<Booked>>,
    /// A family transfer: the recipient's side.
    #[serde(default)]
    pub recipient: Option<Box<Booked>>,
    /// An issue or redemption: whether the member is linked to the operation's partner
    /// (which may then see the balance); absent from other answers.
    #[serde(default)]
    pub linked: Option<bool>,
}

/// Why the ledger refused an operation: the code, and the facts that explain it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "code", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Refusal {
    InsufficientPoints {
        available: i64,
        debt: i64,
        requested: i64,
    },
    IdempotencyKeyReused,
    /// `status`: captured, voided or expired.
    HoldNotPending {
        status: String,
    },
    PartnerSuspended,
    /// `what`: member, partner, hold, entry or ambassador.
    NotFound {
        what: String,
    },
    BadUserInput {
        message: String,
    },
    /// The member is not there and did not consent (sql/members/presence.sql).
    Forbidden {
        message: String,
    },
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            // A member in debt has, for the client, a negative balance.
            Refusal::InsufficientPoints {
                available,
                debt,
                requested,
            } => AppError::InsufficientPoints {
                available: if debt > 0 { -debt } else { available },
                requested,
            },
            Refusal::IdempotencyKeyReused => AppError::IdempotencyKeyReused,
            Refusal::HoldNotPending { status } => AppError::HoldNotPending(status),
            Refusal::PartnerSuspended => AppError::PartnerSuspended,
            Refusal::NotFound { what } => AppError::NotFound(match what.as_str() {
                "member" => "member",
                "partner" => "partner",
                "hold" => "hold",
                "entry" => "ledger entry",
                "ambassador" => "ambassador",
                _ => "record",
            }),
            Refusal::BadUserInput { message } => AppError::BadInput(message),
            Refusal::Forbidden { message } => AppError::Forbidden(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_keys_and_references() {
        assert!(validate_points(0).is_err());
        assert!(validate_points(-5).is_err());
        assert!(validate_points(MAX_POINTS_PER_ENTRY + 1).is_err());
        assert_eq!(validate_points(1).unwrap(), 1);
        assert!(validate_key("").is_err());
        assert!(validate_key(&"k".repeat(256)).is_err());
        assert!(validate_key("order-42\n").is_err());
        assert!(validate_key("order-42").is_ok());
        assert!(validate_reference(Some(&"r".repeat(201))).is_err());
        assert!(validate_reference(None).is_ok());
    }

    #[test]
    fn lot_expiry_rules() {
        let now = Utc::now();
        let year = Duration::days(365);
        assert_eq!(lot_expiry(now, None, year).unwrap(), now + year);
        assert!(lot_expiry(now, Some(now - Duration::seconds(1)), year).is_err());
        assert!(lot_expiry(now, Some(now), year).is_err());
        assert!(lot_expiry(now, Some(now + Duration::days(MAX_LIFETIME_DAYS + 1)), year).is_err());
        let later = now + Duration::days(30);
        assert_eq!(lot_expiry(now, Some(later), year).unwrap(), later);
    }

    #[test]
    fn answers_read_ok_and_every_refusal() {
        use serde_json::json;
        let entry = Uuid::now_v7();
        let ok = json!({"ok": {"entry_id": entry, "hold_id": null, "member_id": entry,
            "available": 5, "held": 0, "debt": 0, "lifetime_earned": 5, "replayed": false}});
        let booked = LedgerAnswer::<Booked>::from_json(ok).unwrap();
        assert_eq!((booked.entry_id, booked.available), (entry, 5));
        let code = |refusal: serde_json::Value| {
            LedgerAnswer::<Booked>::from_json(json!({ "refused": refusal }))
                .unwrap_err()
                .code()
        };
        assert_eq!(
            code(json!({"code": "IDEMPOTENCY_KEY_REUSED"})),
            "IDEMPOTENCY_KEY_REUSED"
        );
        assert_eq!(
            code(json!({"code": "PARTNER_SUSPENDED"})),
            "PARTNER_SUSPENDED"
        );
        assert_eq!(
            code(json!({"code": "HOLD_NOT_PENDING", "status": "voided"})),
            "HOLD_NOT_PENDING"
        );
        assert_eq!(
            code(json!({"code": "NOT_FOUND", "what": "member"})),
            "NOT_FOUND"
        );
        assert_eq!(
            code(json!({"code": "BAD_USER_INPUT", "message": "nope"})),
            "BAD_USER_INPUT"
        );
        assert_eq!(
            code(json!({"code": "INSUFFICIENT_POINTS", "available": 5, "debt": 0, "requested": 9})),
            "INSUFFICIENT_POINTS"
        );
        assert_eq!(
            LedgerAnswer::<Booked>::from_json(json!({"failed": "boom"}))
                .unwrap_err()
                .code(),
            "INTERNAL"
        );
        // An unknown code is not a refusal the hub knows: internal.
        assert_eq!(code(json!({"code": "SOMETHING_NEW"})), "INTERNAL");
        match LedgerAnswer::<Booked>::from_json(json!({"refused":
            {"code": "INSUFFICIENT_POINTS", "available": 0, "debt": 80, "requested": 10}}))
        {
            Err(AppError::InsufficientPoints {
                available,
                requested,
            }) => assert_eq!((available, requested), (-80, 10)),
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn fingerprints_differ_when_any_field_differs(
            a in "[a-z]{0,8}", b in "[a-z]{0,8}", c in "[a-z]{0,8}", d in "[a-z]{0,8}",
        ) {
            let fp = |x: &str, y: &str| Fingerprint::new("op").field(x).field(y).finish();
            prop_assert_eq!(fp(&a, &b), fp(&a, &b));
            if (a.as_str(), b.as_str()) != (c.as_str(), d.as_str()) {
                prop_assert_ne!(fp(&a, &b), fp(&c, &d));
            }
        }
    }

    #[test]
    fn absent_and_empty_are_different_inputs() {
        let none = Fingerprint::new("op").optional(None::<&str>).finish();
        let empty = Fingerprint::new("op").optional(Some("")).finish();
        assert_ne!(none, empty);
    }
}
