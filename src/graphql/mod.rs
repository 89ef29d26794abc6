//! The GraphQL layer: one [`schema`] builder used by the server, the CLI (`schema`) and the
//! tests. Resolvers stay thin: parse arguments, call a service or a DataLoader, shape the
//! result.
//!
//! `types/` holds one GraphQL type per file (object, input, enum, oneof) with its
//! resolvers; `query/` and `mutation/` the per-area root fragments merged below; `loaders`
//! the DataLoaders node resolvers fetch through. Types never import the roots.

pub(crate) mod cost;
pub(crate) mod extensions;
pub(crate) mod live;
pub(crate) mod loaders;
pub(crate) mod mutation;
pub(crate) mod page;
pub(crate) mod query;
pub(crate) mod scalars;
pub(crate) mod types;

use async_graphql::{Context, MergedObject, Schema, SchemaBuilder};

use crate::{app::AppState, auth::Principal, config::Limits, error::AppError};

#[derive(MergedObject, Default)]
pub struct Query(
    query::viewer::ViewerQuery,
    query::partners::PartnerQuery,
    query::members::MemberQuery,
    query::ledger::LedgerQuery,
    query::settlement::SettlementQuery,
    query::ambassadors::AmbassadorQuery,
    query::tiers::TierQuery,
    query::campaigns::CampaignQuery,
    query::audit::AuditQuery,
    query::webhooks::WebhookQuery,
    query::portal::PortalQuery,
    query::reports::ReportQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::partners::PartnerMutation,
    mutation::members::MemberMutation,
    mutation::consents::ConsentMutation,
    mutation::ledger::LedgerMutation,
    mutation::settlement::SettlementMutation,
    mutation::ambassadors::AmbassadorMutation,
    mutation::tiers::TierMutation,
    mutation::family::FamilyMutation,
    mutation::campaigns::CampaignMutation,
    mutation::webhooks::WebhookMutation,
    mutation::portal::PortalMutation,
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
}

/// The schema `/graphql` serves over HTTP. It has no extensions: with any, async-graphql
/// runs every field's resolution through the extension chain (a type lookup and a boxed
/// future per extension and field: about a third of the hub's CPU on a page of entries).
/// The HTTP handler does their work once per request instead (`http::graphql::execute`).
pub fn schema(state: AppState) -> HubSchema {
    let limits = state.config.limits.clone();
    let builder = loaders::register(builder(&limits), &state.db);
    builder.data(state).finish()
}

/// The schema the websocket serves: the same types behind the websocket's gate, with the
/// alias limit and the error-code mapping as extensions (subscriptions resolve few fields).
pub fn websocket_schema(state: AppState) -> HubSchema {
    let limits = state.config.limits.clone();
    let builder = builder(&limits)
        .extension(extensions::ErrorCodes)
        .extension(extensions::WebsocketGate)
        .extension(extensions::AliasLimit {
            max_aliases: limits.max_aliases,
        });
    loaders::register(builder, &state.db).data(state).finish()
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
