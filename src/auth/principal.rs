use std::{collections::BTreeSet, fmt, str::FromStr};

use uuid::Uuid;

use crate::error::{AppError, AppResult};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, async_graphql::Enum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Operator,
    Partner,
    Member,
}

/// Partner scopes of DESIGN.md "Auth".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    PointsIssue,
    PointsRedeem,
    PointsReverse,
    MembersRead,
    MembersToken,
    SettlementRead,
    AmbassadorsWrite,
    /// The partner's own credentials and portal users (a partner admin in the portal).
    PartnerAdmin,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::PointsIssue,
        Scope::PointsRedeem,
        Scope::PointsReverse,
        Scope::MembersRead,
        Scope::MembersToken,
        Scope::SettlementRead,
        Scope::AmbassadorsWrite,
        Scope::PartnerAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PointsIssue => "points:issue",
            Scope::PointsRedeem => "points:redeem",
            Scope::PointsReverse => "points:reverse",
            Scope::MembersRead => "members:read",
            Scope::MembersToken => "members:token",
            Scope::SettlementRead => "settlement:read",
            Scope::AmbassadorsWrite => "ambassadors:write",
            Scope::PartnerAdmin => "partner:admin",
        }
    }
}

impl FromStr for Scope {
    type Err = AppError;

    fn from_str(s: &str) -> AppResult<Scope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| AppError::bad_input(format!("unknown scope {s:?}")))
    }
}

/// A set of scopes; its text form is the space-separated `scope` claim of OAuth2.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    pub fn all() -> Scopes {
        Scopes(Scope::ALL.into_iter().collect())
    }

    /// Strict parse, for input we store: an unknown scope is an error.
    pub fn parse_strict(text: &str) -> AppResult<Scopes> {
        text.split_whitespace()
            .map(Scope::from_str)
            .collect::<AppResult<BTreeSet<_>>>()
            .map(Scopes)
    }

    /// Lenient parse, for token claims: scopes this version does not know grant nothing.
    pub fn parse_lenient(text: &str) -> Scopes {
        Scopes(
            text.split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect(),
        )
    }

    pub fn from_list<'a>(list: impl IntoIterator<Item = &'a str>) -> AppResult<Scopes> {
        list.into_iter()
            .map(Scope::from_str)
            .collect::<AppResult<BTreeSet<_>>>()
            .map(Scopes)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vec().join(" "))
    }
}

/// The verified caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Operator { subject: String },
    Partner { partner_id: Uuid, scopes: Scopes },
    Member { member_id: Uuid },
}

impl Principal {
    pub fn role(&self) -> Role {
        match self {
            Principal::Operator { .. } => Role::Operator,
            Principal::Partner { .. } => Role::Partner,
            Principal::Member { .. } => Role::Member,
        }
    }

    pub fn subject(&self) -> String {
        match self {
            Principal::Operator { subject } => subject.clone(),
            Principal::Partner { partner_id, .. } => partner_id.to_string(),
            Principal::Member { member_id } => member_id.to_string(),
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::Operator { .. })
    }

    pub fn require_operator(&self) -> AppResult<()> {
        match self {
            Principal::Operator { .. } => Ok(()),
            _ => Err(AppError::forbidden(
                "this operation is for the coalition operator",
            )),
        }
    }

    /// The partner this caller acts for, if it is a partner holding `scope`.
    pub fn require_partner_scope(&self, scope: Scope) -> AppResult<Uuid> {
        match self {
            Principal::Partner { partner_id, scopes } if scopes.contains(scope) => Ok(*partner_id),
            Principal::Partner { .. } => Err(AppError::forbidden(format!(
                "this operation needs the {} scope",
                scope.as_str()
            ))),
            _ => Err(AppError::forbidden("this operation is for partners")),
        }
    }

    /// Resolves the partner an operation acts for. A partner always acts as itself (the
    /// token decides, an argument naming another partner is refused); an operator must name
    /// the partner.
    pub fn acting_partner(&self, scope: Scope, requested: Option<Uuid>) -> AppResult<Uuid> {
        match self {
            Principal::Operator { .. } => requested
                .ok_or_else(|| AppError::bad_input("partnerId is required when an operator acts")),
            Principal::Partner { .. } => {
                let own = self.require_partner_scope(scope)?;
                match requested {
                    Some(other) if other != own => {
                        Err(AppError::forbidden("a partner can act only as itself"))
                    }
                    _ => Ok(own),
                }
            }
            Principal::Member { .. } => Err(AppError::forbidden("this operation is for partners")),
        }
    }

    /// Whose records (holds, entries) an operation may touch: a partner with `scope` its
    /// own (`Some(id)`), the operator anyone's (`None`).
    pub fn records_partner(&self, scope: Scope) -> AppResult<Option<Uuid>> {
        match self {
            Principal::Operator { .. } => Ok(None),
            _ => self.require_partner_scope(scope).map(Some),
        }
    }

    pub fn scopes(&self) -> Scopes {
        match self {
            Principal::Operator { .. } => Scopes::all(),
            Principal::Partner { scopes, .. } => scopes.clone(),
            Principal::Member { .. } => Scopes::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_reject_unknown() {
        let scopes = Scopes::parse_strict("points:issue members:read").unwrap();
        assert_eq!(scopes.to_string(), "points:issue members:read");
        assert!(Scopes::parse_strict("points:issue admin").is_err());
        assert_eq!(
            Scopes::parse_lenient("points:issue admin").to_vec(),
            vec!["points:issue"]
        );
    }

    #[test]
    fn a_partner_cannot_act_as_another() {
        let me = Uuid::now_v7();
        let other = Uuid::now_v7();
        let partner = Principal::Partner {
            partner_id: me,
            scopes: Scopes::all(),
        };
        assert_eq!(
            partner.acting_partner(Scope::PointsIssue, None).unwrap(),
            me
        );
        assert_eq!(
            partner
                .acting_partner(Scope::PointsIssue, Some(me))
                .unwrap(),
            me
        );
        assert_eq!(
            partner
                .acting_partner(Scope::PointsIssue, Some(other))
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        let operator = Principal::Operator {
            subject: "ops".into(),
        };
        assert_eq!(
            operator
                .acting_partner(Scope::PointsIssue, Some(other))
                .unwrap(),
            other
        );
        assert_eq!(
            operator
                .acting_partner(Scope::PointsIssue, None)
                .unwrap_err()
                .code(),
            "BAD_USER_INPUT"
        );
    }
}
