//! Settlement: rate cards, statements (closed and previewed) and the period close.

use async_graphql::{
    Context, ID, InputObject, Object, Result, SimpleObject, connection::Connection,
};
use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    ContextExt,
    ledger::Money,
    page::{Cursor, Page},
    partners::parse_id,
    scalars::{BigInt, Decimal},
};
use crate::{
    db::models::settlement::PartnerRate,
    domain::settlement::{Party, Statement},
    services::settlement::{self, RatesInput, StatementView},
};

/// A rate card: money per point, in the coalition currency, from `effectiveFrom` on.
#[derive(SimpleObject)]
pub struct PartnerRates {
    pub partner_id: ID,
    /// Owed to the partner per point redeemed at it (by the partner that issued the point).
    pub redemption_value: Decimal,
    /// Owed by the partner to the hub per point it issues.
    pub issuance_fee: Decimal,
    pub effective_from: DateTime<Utc>,
    pub set_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<PartnerRate> for PartnerRates {
    fn from(r: PartnerRate) -> Self {
        PartnerRates {
            partner_id: ID(r.partner_id.to_string()),
            redemption_value: Decimal(r.redemption_value),
            issuance_fee: Decimal(r.issuance_fee),
            effective_from: r.effective_from,
            set_by: r.set_by,
            created_at: r.created_at,
        }
    }
}

#[derive(InputObject)]
pub struct SetPartnerRatesInput {
    pub partner_id: ID,
    /// 0 to 1000 per point, at most 6 decimals.
    pub redemption_value: Decimal,
    /// 0 to 1000 per point, at most 6 decimals.
    pub issuance_fee: Decimal,
    /// Now when omitted; never inside a closed period.
    pub effective_from: Option<DateTime<Utc>>,
}

/// A party to settlement: a partner, or the hub itself (`id` "HUB").
pub struct SettlementParty {
    party: Party,
    name: String,
}

#[Object]
impl SettlementParty {
    /// The partner's id, or "HUB".
    async fn id(&self) -> ID {
        ID(self.party.to_string())
    }
    async fn is_hub(&self) -> bool {
        self.party == Party::Hub
    }
    /// The name when the statement was made.
    async fn name(&self) -> &str {
        &self.name
    }
}

/// The issuer owes the redeemer for the issuer's points redeemed at the redeemer; a
/// negative amount (more refunded than redeemed) runs the other way.
#[derive(SimpleObject)]
pub struct SettlementLine {
    pub issuer: SettlementParty,
    pub redeemer: SettlementParty,
    pub points: BigInt,
    pub amount: Money,
}

#[derive(SimpleObject)]
pub struct IssuanceFeeLine {
    pub partner: SettlementParty,
    /// Points issued, less issues reversed.
    pub points: BigInt,
    pub amount: Money,
}

#[derive(SimpleObject)]
pub struct PartnerPoints {
    pub partner: SettlementParty,
    pub points: BigInt,
}

#[derive(SimpleObject)]
pub struct SettlementPosition {
    pub party: SettlementParty,
    pub gross_payable: Money,
    pub gross_receivable: Money,
    /// Receivable less payable: positive is owed to the party.
    pub net: Money,
}

#[derive(SimpleObject)]
pub struct SettlementTransfer {
    pub from: SettlementParty,
    pub to: SettlementParty,
    pub amount: Money,
}

/// A period's statement. Partners see only the lines they are party to.
pub struct SettlementStatement {
    view: StatementView,
}

impl SettlementStatement {
    fn new(view: StatementView) -> Self {
        SettlementStatement { view }
    }

    fn statement(&self) -> &Statement {
        &self.view.statement
    }

    fn party(&self, party: Party) -> SettlementParty {
        SettlementParty {
            party,
            name: self.statement().name_of(party).to_owned(),
        }
    }

    fn partner(&self, id: Uuid) -> SettlementParty {
        self.party(Party::Partner(id))
    }

    fn money(&self, minor: i64) -> Money {
        Money {
            amount: Decimal(BigDecimal::new(
                minor.into(),
                self.statement().minor_units.into(),
            )),
            currency: self.statement().currency.clone(),
        }
    }
}

#[Object]
impl SettlementStatement {
    /// Null for a preview.
    async fn id(&self) -> Option<ID> {
        self.view.period.as_ref().map(|p| ID(p.id.to_string()))
    }
    /// The previous cut-off (or the first record, for the first period).
    async fn period_start(&self) -> DateTime<Utc> {
        self.statement().period_start
    }
    /// The cut-off: records before it, committed when the period was closed.
    async fn period_end(&self) -> DateTime<Utc> {
        self.statement().period_end
    }
    /// Null for a preview.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.view.period.as_ref().map(|p| p.closed_at)
    }
    async fn currency(&self) -> &str {
        &self.statement().currency
    }
    /// sha256 (hex) of the whole statement's canonical JSON, as closed: `hub settlement
    /// export --json` prints that text.
    async fn content_hash(&self) -> &str {
        &self.view.content_hash
    }
    /// Settlement records in the whole period.
    async fn record_count(&self) -> BigInt {
        BigInt(self.statement().record_count)
    }
    /// Redemptions across partners: issuer -> redeemer.
    async fn lines(&self) -> Vec<SettlementLine> {
        self.statement()
            .lines
            .iter()
            .map(|l| SettlementLine {
                issuer: self.partner(l.issuer),
                redeemer: self.partner(l.redeemer),
                points: BigInt(l.points),
                amount: self.money(l.amount_minor),
            })
            .collect()
    }
    /// Redemptions at the partner that issued the points: no money moves.
    async fn internal_redemptions(&self) -> Vec<PartnerPoints> {
        self.points_lines(&self.statement().internal_redemptions)
    }
    /// Owed to the hub by each issuer.
    async fn issuance_fees(&self) -> Vec<IssuanceFeeLine> {
        self.statement()
            .issuance_fees
            .iter()
            .map(|f| IssuanceFeeLine {
                partner: self.partner(f.partner),
                points: BigInt(f.points),
                amount: self.money(f.amount_minor),
            })
            .collect()
    }
    /// Points that expired, per issuer: no money moves.
    async fn breakage(&self) -> Vec<PartnerPoints> {
        self.points_lines(&self.statement().breakage)
    }
    /// Points that repaid members' points debts, per issuer: no money moves.
    async fn debt_repayments(&self) -> Vec<PartnerPoints> {
        self.points_lines(&self.statement().debt_repayments)
    }
    async fn positions(&self) -> Vec<SettlementPosition> {
        self.statement()
            .positions
            .iter()
            .map(|p| SettlementPosition {
                party: self.party(p.party),
                gross_payable: self.money(p.gross_payable),
                gross_receivable: self.money(p.gross_receivable),
                net: self.money(p.net),
            })
            .collect()
    }
    /// The netted payment plan: at most parties - 1 transfers that settle every position.
    async fn transfers(&self) -> Vec<SettlementTransfer> {
        self.statement()
            .transfers
            .iter()
            .map(|t| SettlementTransfer {
                from: self.party(t.from),
                to: self.party(t.to),
                amount: self.money(t.amount_minor),
            })
            .collect()
    }
    /// The statement (as the caller may see it) as CSV.
    async fn csv(&self) -> String {
        self.statement().to_csv()
    }
}

impl SettlementStatement {
    fn points_lines(&self, lines: &[crate::domain::settlement::PointsLine]) -> Vec<PartnerPoints> {
        lines
            .iter()
            .map(|l| PartnerPoints {
                partner: self.partner(l.partner),
                points: BigInt(l.points),
            })
            .collect()
    }
}

#[derive(Default)]
pub struct SettlementQuery;

#[Object]
impl SettlementQuery {
    /// Closed statements, newest first (operator, or a partner with `settlement:read`).
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn settlement_statements(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, SettlementStatement>> {
        let state = ctx.state();
        let page = Page::new(first, after, state.config.limits.max_page_size)?;
        let views = settlement::statements(
            &state.db,
            ctx.principal()?,
            page.after.map(|c| c.at),
            page.limit(),
        )
        .await?;
        Ok(page.connection(
            views,
            |v| {
                let period = v.period.as_ref().expect("closed statements have a period");
                Cursor {
                    at: period.cutoff,
                    id: period.id,
                }
            },
            SettlementStatement::new,
        ))
    }

    async fn settlement_statement(&self, ctx: &Context<'_>, id: ID) -> Result<SettlementStatement> {
        let id = parse_id(&id, "id")?;
        let view = settlement::statement(&ctx.state().db, ctx.principal()?, id).await?;
        Ok(SettlementStatement::new(view))
    }

    /// The statement that records in [from, to) would produce, computed now.
    async fn settlement_preview(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<SettlementStatement> {
        let view = settlement::preview(ctx.state(), ctx.principal()?, from, to).await?;
        Ok(SettlementStatement::new(view))
    }

    /// A partner's rate cards, latest first (operator, or the partner itself).
    async fn partner_rates(&self, ctx: &Context<'_>, partner_id: ID) -> Result<Vec<PartnerRates>> {
        let partner_id = parse_id(&partner_id, "partnerId")?;
        let rows = settlement::rate_history(&ctx.state().db, ctx.principal()?, partner_id).await?;
        Ok(rows.into_iter().map(PartnerRates::from).collect())
    }
}

#[derive(Default)]
pub struct SettlementMutation;

#[Object]
impl SettlementMutation {
    /// Operator: a partner's rate card from `effectiveFrom` on; earlier cards stay in force
    /// for earlier events.
    async fn set_partner_rates(
        &self,
        ctx: &Context<'_>,
        input: SetPartnerRatesInput,
    ) -> Result<PartnerRates> {
        let partner_id = parse_id(&input.partner_id, "partnerId")?;
        let row = settlement::set_rates(
            &ctx.state().db,
            ctx.principal()?,
            RatesInput {
                partner_id,
                redemption_value: input.redemption_value.0,
                issuance_fee: input.issuance_fee.0,
                effective_from: input.effective_from,
            },
        )
        .await?;
        Ok(row.into())
    }

    /// Operator: closes the period from the previous cut-off to `cutoff` (in the past).
    /// The same cut-off again returns the same statement.
    async fn close_settlement_period(
        &self,
        ctx: &Context<'_>,
        cutoff: DateTime<Utc>,
    ) -> Result<SettlementStatement> {
        let view = settlement::close(ctx.state(), ctx.principal()?, cutoff, &mut |_| {}).await?;
        Ok(SettlementStatement::new(view))
    }
}
