pub(crate) mod ambassadors;
pub(crate) mod consents;
pub(crate) mod family;
pub(crate) mod ledger;
pub(crate) mod members;
pub(crate) mod partners;
pub(crate) mod settlement;
pub(crate) mod tiers;
