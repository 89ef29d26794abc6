pub mod ambassadors;
pub mod family;
pub mod ledger;
pub mod members;
pub mod partners;
pub mod settlement;
pub mod tiers;
