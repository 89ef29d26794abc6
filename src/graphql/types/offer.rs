use async_graphql::SimpleObject;

use crate::graphql::types::CampaignNode;

/// A campaign the member may switch on (`activateOffer`) before shopping.
#[derive(SimpleObject)]
pub(crate) struct Offer {
    pub campaign: CampaignNode,
    pub activated: bool,
}
