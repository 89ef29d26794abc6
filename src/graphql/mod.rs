//! The GraphQL layer: one [`schema`] builder used by the server, the CLI (`schema`) and the
//! tests. Resolvers stay thin: parse arguments, call a service, shape the result.

pub mod ambassadors;
pub mod extensions;
pub mod family;
pub mod ledger;
pub mod live;
pub mod members;
pub mod page;
pub mod partners;
pub mod scalars;
pub mod settlement;
pub mod tiers;
pub mod viewer;

use async_graphql::{Context, MergedObject, Schema, SchemaBuilder};

use crate::{app::AppState, auth::Principal, config::Limits, error::AppError};

#[derive(MergedObject, Default)]
pub struct Query(
    viewer::ViewerQuery,
    partners::PartnerQuery,
    members::MemberQuery,
    ledger::LedgerQuery,
    settlement::SettlementQuery,
    ambassadors::AmbassadorQuery,
    tiers::TierQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    partners::PartnerMutation,
    members::MemberMutation,
    ledger::LedgerMutation,
    settlement::SettlementMutation,
    ambassadors::AmbassadorMutation,
    tiers::TierMutation,
    family::FamilyMutation,
);

pub type HubSchema = Schema<Query, Mutation, live::LiveSubscription>;

fn builder(limits: &Limits) -> SchemaBuilder<Query, Mutation, live::LiveSubscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        live::LiveSubscription,
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_directives(limits.max_directives)
    .limit_recursive_depth(32)
    .disable_suggestions()
    .extension(extensions::ErrorCodes)
    .extension(extensions::AliasLimit {
        max_aliases: limits.max_aliases,
    })
}

pub fn schema(state: AppState) -> HubSchema {
    let limits = state.config.limits.clone();
    builder(&limits).data(state).finish()
}

/// The SDL, without any state: what `hub schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    builder(&Limits::default()).finish().sdl()
}

pub trait ContextExt {
    fn state(&self) -> &AppState;
    fn principal(&self) -> Result<&Principal, AppError>;
}

impl ContextExt for Context<'_> {
    fn state(&self) -> &AppState {
        self.data_unchecked::<AppState>()
    }

    fn principal(&self) -> Result<&Principal, AppError> {
        self.data_opt::<Principal>()
            .ok_or(AppError::Unauthenticated("no token"))
    }
}
