//! Signing in to the pages, the pure parts: who a portal user is, when an account locks,
//! when a session ends.

use chrono::{DateTime, Duration, Utc};

use crate::error::{AppError, AppResult};

/// What a portal user may do: an admin changes things, staff read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum PortalRole {
    Admin,
    Staff,
}

impl PortalRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PortalRole::Admin => "admin",
            PortalRole::Staff => "staff",
        }
    }

    pub fn parse(text: &str) -> Option<PortalRole> {
        match text {
            "admin" => Some(PortalRole::Admin),
            "staff" => Some(PortalRole::Staff),
            _ => None,
        }
    }
}

/// An email address as it is stored and compared: trimmed, lower case, one `@` with text on
/// both sides and a dot in the domain. (Deliverability is the inviter's business.)
pub fn normalize_email(text: &str) -> AppResult<String> {
    let email = text.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(AppError::bad_input("email is not an email address"))
    }
}

/// The shortest password a person may choose.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// An account's failed sign-ins and lock, as stored on the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInCounter {
    pub failed: i32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// When accounts lock.
#[derive(Clone, Copy, Debug)]
pub struct LockoutPolicy {
    pub max_failures: i32,
    pub lockout: Duration,
}

impl SignInCounter {
    /// Locked now: no password is even checked.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// After a wrong password: the `max_failures`th in a row locks the account, and the
    /// count starts again for when the lock ends.
    pub fn after_failure(self, now: DateTime<Utc>, policy: LockoutPolicy) -> SignInCounter {
        let failed = self.failed.saturating_add(1);
        if failed >= policy.max_failures {
            SignInCounter {
                failed: 0,
                locked_until: Some(now + policy.lockout),
            }
        } else {
            SignInCounter {
                failed,
                locked_until: None,
            }
        }
    }

    /// After a good password.
    pub fn after_success() -> SignInCounter {
        SignInCounter {
            failed: 0,
            locked_until: None,
        }
    }
}

/// A session is alive until its absolute end and while it is used at least every `idle`.
pub fn session_alive(
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    idle: Duration,
    now: DateTime<Utc>,
) -> bool {
    now < expires_at && now < last_seen_at + idle
}

/// A member's wallet link: `/app#token=…`, under the hub's public URL when it has one. The
/// token rides in the fragment, which browsers never send to a server.
pub fn wallet_link(public_url: Option<&str>, token: &str) -> String {
    let base = public_url.unwrap_or("").trim_end_matches('/');
    format!("{base}/app#token={token}")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const POLICY: LockoutPolicy = LockoutPolicy {
        max_failures: 5,
        lockout: Duration::minutes(15),
    };

    proptest! {
        /// Whatever the history, an account locks exactly when a run of wrong passwords
        /// reaches the limit, and a good password clears the run.
        #[test]
        fn locks_after_exactly_max_failures_in_a_row(attempts in proptest::collection::vec(any::<bool>(), 0..40)) {
            let now = Utc::now();
            let mut counter = SignInCounter::after_success();
            let mut run = 0;
            for good in attempts {
                prop_assert!(!counter.is_locked(now));
                if good {
                    counter = SignInCounter::after_success();
                    run = 0;
                } else {
                    counter = counter.after_failure(now, POLICY);
                    run += 1;
                    if run == POLICY.max_failures {
                        prop_assert!(counter.is_locked(now));
                        prop_assert!(!counter.is_locked(now + POLICY.lockout));
                        // The lock ends; the next run starts from nothing.
                        counter.locked_until = None;
                        run = 0;
                    }
                }
                prop_assert_eq!(counter.failed, run);
            }
        }
    }

    #[test]
    fn emails_are_normalized_or_refused() {
        assert_eq!(
            normalize_email("  Ana@Shop.Example ").unwrap(),
            "ana@shop.example"
        );
        for bad in [
            "",
            "ana",
            "@shop.example",
            "ana@shop",
            "ana@@shop.example",
            "a na@shop.example",
            "ana@shop.example.",
        ] {
            assert_eq!(
                normalize_email(bad).unwrap_err().code(),
                "BAD_USER_INPUT",
                "{bad}"
            );
        }
    }

    #[test]
    fn sessions_end_when_idle_or_at_their_end() {
        let start = Utc::now();
        let end = start + Duration::hours(12);
        let idle = Duration::minutes(30);
        assert!(session_alive(
            start,
            end,
            idle,
            start + Duration::minutes(29)
        ));
        assert!(!session_alive(
            start,
            end,
            idle,
            start + Duration::minutes(30)
        ));
        let recently = end - Duration::minutes(1);
        assert!(!session_alive(recently, end, idle, end));
    }
}
