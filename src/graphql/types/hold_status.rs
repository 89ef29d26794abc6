use async_graphql::Enum;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum HoldStatus {
    Pending,
    Captured,
    Voided,
    Expired,
}
