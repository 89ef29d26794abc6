pub(crate) mod ambassadors;
pub(crate) mod campaigns;
pub(crate) mod ledger;
pub(crate) mod members;
pub(crate) mod partners;
pub(crate) mod settlement;
pub(crate) mod tiers;
pub(crate) mod viewer;
