use async_graphql::SimpleObject;

/// One of `hub verify`'s invariant checks and how many rows break it (0: it holds).
#[derive(SimpleObject)]
pub(crate) struct LedgerCheck {
    pub name: String,
    pub violations: i64,
}
