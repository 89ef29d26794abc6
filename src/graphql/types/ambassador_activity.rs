use async_graphql::{ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::db::models::ambassador::Activity;
use crate::graphql::scalars::BigInt;
use crate::graphql::types::AmbassadorActivityKind;

pub(crate) struct ActivityNode {
    pub activity: Activity,
    pub replayed: bool,
}

#[Object(name = "AmbassadorActivity")]
impl ActivityNode {
    async fn id(&self) -> ID {
        ID(self.activity.id.to_string())
    }
    async fn ambassador_id(&self) -> ID {
        ID(self.activity.ambassador_id.to_string())
    }
    async fn kind(&self) -> Result<AmbassadorActivityKind> {
        Ok(AmbassadorActivityKind::parse(&self.activity.kind)?)
    }
    async fn score(&self) -> BigInt {
        BigInt(self.activity.score)
    }
    /// Points issued to the ambassador with this activity, by the recording partner.
    async fn reward_points(&self) -> BigInt {
        BigInt(self.activity.reward_points)
    }
    async fn reference(&self) -> Option<&str> {
        self.activity.reference.as_deref()
    }
    /// When it happened: the boards of this time count it.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.activity.occurred_at
    }
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.activity.recorded_at
    }
    /// True when this answers an earlier call with the same idempotency key.
    async fn replayed(&self) -> bool {
        self.replayed
    }
}
