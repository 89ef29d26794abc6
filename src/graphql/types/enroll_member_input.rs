use async_graphql::{ID, InputObject};

#[derive(InputObject)]
pub(crate) struct EnrollMemberInput {
    /// Operator only: the partner to link the member to. Partners always act as themselves.
    pub partner_id: Option<ID>,
    /// The partner's own customer id; enrolling one that is already linked returns its member.
    pub partner_customer_id: Option<String>,
    /// An ambassador's referral code given by the member; it converts on the member's first
    /// earn at this partner.
    pub referral_code: Option<String>,
}
