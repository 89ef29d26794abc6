//! The demo coalition that `hub dev` seeds: a few partners of different kinds, credentials,
//! members linked to them. Seeding again reuses what is there.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use uuid::Uuid;

use crate::{
    app::AppState,
    auth::{Principal, Scopes, TokenRequest},
    db::models::Partner,
    domain::{
        partner::PartnerCategory,
        portal::{PortalRole, wallet_link},
    },
    error::AppResult,
    services::{ambassadors, credentials, ledger, members, members::MemberRef, partners, portal},
};

pub struct DemoPartner {
    pub partner: Partner,
    pub client_id: String,
    pub client_secret: String,
    pub token: String,
}

pub struct DemoCoalition {
    pub operator_token: String,
    /// (email, role, password) of the pages' demo users.
    pub portal_users: Vec<(String, &'static str, String)>,
    pub partners: Vec<DemoPartner>,
    pub members: Vec<(String, String, String)>,
}

const PARTNERS: [(&str, &str, PartnerCategory, &str); 4] = [
    ("fresh-mart", "Fresh Mart", PartnerCategory::Grocery, "1"),
    ("volt-fuel", "Volt Fuel", PartnerCategory::Fuel, "2"),
    ("sky-travel", "Sky Travel", PartnerCategory::Travel, "0.5"),
    (
        "kind-hearts",
        "Kind Hearts Foundation",
        PartnerCategory::Charity,
        "0",
    ),
];

fn operator() -> Principal {
    Principal::Operator {
        subject: "demo-operator".into(),
    }
}

pub async fn seed(state: &AppState) -> AppResult<DemoCoalition> {
    let operator = operator();
    let mut demo_partners = Vec::new();
    for (slug, name, category, rate) in PARTNERS {
        demo_partners.push(seed_partner(state, &operator, slug, name, category, rate).await?);
    }
    let fresh_mart = demo_partners[0].partner.id;
    let mut demo_members = Vec::new();
    for (i, customer) in ["FM-1001", "FM-1002", "FM-1003"].into_iter().enumerate() {
        let points = 500 * (i as i64 + 1);
        demo_members.push(seed_member(state, &operator, fresh_mart, customer, points).await?);
    }
    seed_ambassadors(state, &operator, fresh_mart).await?;
    let portal_users = seed_portal_users(state, &operator, fresh_mart).await?;
    let operator_token = state
        .keys
        .mint(TokenRequest {
            principal: operator,
            ttl: state.config.jwt.operator_token_ttl,
        })?
        .token;
    Ok(DemoCoalition {
        operator_token,
        portal_users,
        partners: demo_partners,
        members: demo_members,
    })
}

/// A demo partner (made once, found by its slug after), with new credentials and a token.
async fn seed_partner(
    state: &AppState,
    operator: &Principal,
    slug: &str,
    name: &str,
    category: PartnerCategory,
    rate: &str,
) -> AppResult<DemoPartner> {
    let existing = {
        let mut conn = state.db.get().await?;
        Partner::find_by_slug(&mut conn, slug).await?
    };
    let new_partner = partners::NewPartner {
        name: name.into(),
        slug: slug.into(),
        category,
        currency: None,
        earn_rate: BigDecimal::from_str(rate).expect("demo rates parse"),
        accepts_redemptions: true,
    };
    let partner = match existing {
        Some(p) => p,
        None => partners::create(&state.db, operator, &state.config.currency, new_partner).await?,
    };
    let all_scopes: Vec<String> = Scopes::all().to_vec();
    let created = credentials::create(&state.db, operator, partner.id, &all_scopes).await?;
    let token = state.keys.mint(TokenRequest {
        principal: Principal::Partner {
            partner_id: partner.id,
            scopes: Scopes::all(),
        },
        ttl: state.config.jwt.partner_token_ttl,
    })?;
    Ok(DemoPartner {
        partner,
        client_id: created.credential.client_id,
        client_secret: created.client_secret,
        token: token.token,
    })
}

/// A demo member enrolled at Fresh Mart with some points, and its token: (customer id,
/// card number, token).
async fn seed_member(
    state: &AppState,
    operator: &Principal,
    fresh_mart: Uuid,
    customer: &str,
    points: i64,
) -> AppResult<(String, String, String)> {
    let enrolment = members::enroll(
        &state.members,
        operator,
        Some(fresh_mart),
        Some(customer.into()),
        None,
    )
    .await?;
    // Some points to look at; the fixed key makes a second seeding a replay.
    let welcome = ledger::IssueInput {
        partner_id: Some(fresh_mart),
        member: MemberRef::Id(enrolment.member.id),
        amount: ledger::Amount::Points(points),
        idempotency_key: format!("demo-welcome-{customer}"),
        reference: Some("welcome bonus".into()),
        expires_at: None,
        referral_code: None,
        lines: Vec::new(),
    };
    ledger::issue(&state.ledger, operator, welcome).await?;
    let token = state.keys.mint(TokenRequest {
        principal: Principal::Member {
            member_id: enrolment.member.id,
        },
        ttl: state.config.jwt.member_token_ttl,
    })?;
    Ok((
        customer.to_owned(),
        enrolment.member.member_number,
        token.token,
    ))
}

/// The first two demo members are coalition-wide ambassadors with some activity at Fresh
/// Mart, so the boards have something to show (the relay of `serve` projects it).
async fn seed_ambassadors(
    state: &AppState,
    operator: &Principal,
    fresh_mart: uuid::Uuid,
) -> AppResult<()> {
    for (i, (customer, handle, score)) in [("FM-1001", "ana_fm", 40), ("FM-1002", "ben_fm", 25)]
        .into_iter()
        .enumerate()
    {
        let enrolled = ambassadors::enroll(
            &state.ambassadors,
            operator,
            ambassadors::EnrollInput {
                partner_id: None,
                member: MemberRef::Number(demo_member_number(state, fresh_mart, customer).await?),
                handle: handle.into(),
            },
        )
        .await?;
        ambassadors::record_activity(
            &state.ambassadors,
            operator,
            ambassadors::ActivityInput {
                partner_id: Some(fresh_mart),
                ambassador_id: enrolled.ambassador.id,
                kind: if i == 0 { "REVIEW" } else { "SOCIAL_SHARE" },
                score,
                reward_points: None,
                idempotency_key: format!("demo-activity-{handle}"),
                occurred_at: None,
                reference: Some("demo".into()),
            },
        )
        .await?;
    }
    Ok(())
}

/// The pages' demo users: the operator's admin, Fresh Mart's admin and one of its staff.
/// Each seeding gives them new passwords (the old ones cannot be shown again).
async fn seed_portal_users(
    state: &AppState,
    operator: &Principal,
    fresh_mart: Uuid,
) -> AppResult<Vec<(String, &'static str, String)>> {
    let users = [
        ("ops@coalition.example", PortalRole::Admin, None),
        (
            "admin@fresh-mart.example",
            PortalRole::Admin,
            Some(fresh_mart),
        ),
        (
            "staff@fresh-mart.example",
            PortalRole::Staff,
            Some(fresh_mart),
        ),
    ];
    let mut seeded = Vec::new();
    for (email, role, partner_id) in users {
        let created = match portal::find_by_email(&state.db, email).await? {
            Some(user) => portal::reset_password(&state.db, operator, user.id).await?,
            None => {
                let new = portal::NewPortalUser {
                    email: email.into(),
                    role,
                    partner_id,
                };
                portal::create_user(&state.db, operator, new).await?
            }
        };
        seeded.push((created.user.email, role.as_str(), created.password));
    }
    Ok(seeded)
}

async fn demo_member_number(
    state: &AppState,
    partner_id: uuid::Uuid,
    customer: &str,
) -> AppResult<String> {
    let mut conn = state.db.get().await?;
    let member = crate::db::models::Member::find_by_customer_id(&mut conn, partner_id, customer)
        .await?
        .ok_or(crate::error::AppError::NotFound("member"))?;
    Ok(member.member_number)
}

impl DemoCoalition {
    pub fn print(&self, base_url: &str) {
        println!("\n=== Coalition hub: demo coalition ready ===\n");
        println!("GraphiQL:   {base_url}/");
        println!("GraphQL:    {base_url}/graphql");
        println!("OAuth2:     {base_url}/oauth/token   JWKS: {base_url}/.well-known/jwks.json\n");
        println!("Operator token:\n  {}\n", self.operator_token);
        for p in &self.partners {
            println!(
                "Partner {} ({}) id {}",
                p.partner.name, p.partner.slug, p.partner.id
            );
            println!(
                "  client_id {}  client_secret {}",
                p.client_id, p.client_secret
            );
            println!("  token {}\n", p.token);
        }
        for (customer, number, token) in &self.members {
            println!("Member {number} (Fresh Mart customer {customer})\n  token {token}");
            println!("  wallet    {}\n", wallet_link(Some(base_url), token));
        }
        println!("Pages: sign in at {base_url}/login (the operator's console, a partner's portal)");
        for (email, role, password) in &self.portal_users {
            println!("  {email:<28} {role:<6} password {password}");
        }
        println!(
            "Boards:     {base_url}/boards (an ambassador, from the wallet)   {base_url}/boards/public (a shop's screen)\n"
        );
        let partner_token = &self.partners[0].token;
        println!("Try it (a partner enrols a member and reads it back):");
        println!(
            "  curl -s {base_url}/graphql -H 'content-type: application/json' -H 'authorization: Bearer {partner_token}' \\\n    -d '{{\"query\":\"mutation {{ enrollMember(input: {{partnerCustomerId: \\\"C-42\\\"}}) {{ member {{ id memberNumber partnerCustomerId }} }} }}\"}}'"
        );
        println!(
            "  then earn: mutation {{ issuePoints(input: {{member: {{partnerCustomerId: \"C-42\"}}, points: 100, idempotencyKey: \"order-1\"}}) {{ balance {{ available }} }} }}"
        );
        if let (Some((_, number, _)), Some(volt)) = (self.members.first(), self.partners.get(1)) {
            println!(
                "Spend at another partner: a card number alone only earns; to redeem, the member shows a code from its app."
            );
            println!("  as member {number}: mutation {{ createPresenceCode {{ code }} }}");
            println!(
                "  as {}: mutation {{ redeemPoints(input: {{member: {{memberNumber: \"{number}\"}}, points: 100, idempotencyKey: \"spend-1\", presenceCode: \"<code>\"}}) {{ balance {{ available }} }} }}",
                volt.partner.name
            );
        }
        println!(
            "Leaderboards (members FM-1001 and FM-1002 are ambassadors ana_fm and ben_fm; with their token):"
        );
        println!(
            "  query {{ leaderboard(period: WEEK) {{ entries {{ rank handle score }} }} ambassadorStanding(period: WEEK) {{ rank score pointsToNextRank }} }}"
        );
        println!("In GraphiQL, add the header {{\"Authorization\": \"Bearer <token>\"}}.\n");
    }
}
