use async_graphql::Enum;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum FamilyLinkStatus {
    /// Both members asked: points may be transferred either way.
    Active,
    /// You asked; the other member has not yet.
    Requested,
    /// The other member asked; link them too to accept.
    Offered,
}
