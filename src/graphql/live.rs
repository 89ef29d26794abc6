//! The subscription root: a member's live balance.

use async_graphql::{Context, ID, Result, Subscription};
use futures_util::{Stream, StreamExt};

use crate::graphql::ContextExt;
use crate::graphql::types::BalanceChange;
use crate::{auth::Principal, error::AppError};

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// Member (token in `connection_init`): its own balance after every ledger entry that
    /// touches it, whichever hub process committed the entry. Over the graphql-transport-ws
    /// websocket at `/graphql`; the connection closes when the token expires.
    async fn balance_changed(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<BalanceChange>> + use<>> {
        let Principal::Member { member_id } = ctx.principal()? else {
            return Err(AppError::forbidden("balanceChanged is a member's own").into());
        };
        let events = ctx.state().live.subscribe(*member_id);
        Ok(events.map(|event| match event {
            Ok(event) => Ok(BalanceChange {
                entry_id: ID(event.entry_id.to_string()),
                balance: event.balance().into(),
            }),
            // RATE_LIMITED, and the subscription ends: events came faster than this
            // connection read them. The app reads `me` again and subscribes anew.
            Err(_lagged) => Err(AppError::RateLimited.into()),
        }))
    }
}
