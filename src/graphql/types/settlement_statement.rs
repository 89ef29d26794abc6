use async_graphql::{ID, Object};
use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::graphql::scalars::BigInt;
use crate::graphql::scalars::Decimal;
use crate::graphql::types::IssuanceFeeLine;
use crate::graphql::types::Money;
use crate::graphql::types::PartnerPoints;
use crate::graphql::types::SettlementLine;
use crate::graphql::types::SettlementParty;
use crate::graphql::types::SettlementPosition;
use crate::graphql::types::SettlementTransfer;
use crate::{
    domain::settlement::{Party, Statement},
    services::settlement::StatementView,
};

/// A period's statement. Partners see only the lines they are party to.
pub(crate) struct SettlementStatement {
    view: StatementView,
}

impl SettlementStatement {
    pub(crate) fn new(view: StatementView) -> Self {
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
    /// Campaign bonus points per sponsor (they are also in its issuance fees).
    async fn bonus_issuance(&self) -> Vec<PartnerPoints> {
        self.points_lines(&self.statement().bonus_issuance)
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
