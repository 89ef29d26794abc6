//! Settlement statements, as pure rules: from a period's attributed totals (aggregated in
//! SQL, one row per kind x issuer x redeemer x rate) to the statement: who owes whom, each
//! party's position, a netted payment plan and a content hash.
//!
//! Money is exact (`BigDecimal`) until a payable amount is produced: once per counterparty
//! pair and period, rounded half-even to the currency's minor units. From there on every
//! figure is an integer count of minor units, so positions and transfers add up exactly.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, BinaryHeap},
    fmt,
    str::FromStr,
};

use bigdecimal::{BigDecimal, RoundingMode, ToPrimitive};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// What a settlement record counts (migrations/*_settlement).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// Points of the issuer's lot redeemed at another (or the same) partner.
    Redemption,
    /// A refunded redemption: the opposite obligation (negative points).
    RedemptionReversal,
    /// Points issued: the issuer owes the hub its issuance fee.
    Issue,
    /// An issue reversed (negative points): the fee comes back.
    IssueReversal,
    /// Points that expired unspent: breakage, no money.
    Expiry,
    /// Points that repaid a member's points debt: reported, no money.
    DebtRepayment,
    /// A campaign's bonus: its sponsor issued it and owes the hub its issuance fee.
    BonusIssue,
}

impl FromStr for RecordKind {
    type Err = AppError;

    fn from_str(text: &str) -> AppResult<Self> {
        Ok(match text {
            "REDEMPTION" => RecordKind::Redemption,
            "REDEMPTION_REVERSAL" => RecordKind::RedemptionReversal,
            "ISSUE" => RecordKind::Issue,
            "ISSUE_REVERSAL" => RecordKind::IssueReversal,
            "EXPIRY" => RecordKind::Expiry,
            "DEBT_REPAYMENT" => RecordKind::DebtRepayment,
            "BONUS_ISSUE" => RecordKind::BonusIssue,
            other => {
                return Err(AppError::internal(anyhow::anyhow!(
                    "unknown settlement record kind {other}"
                )));
            }
        })
    }
}

/// A party to settlement: a partner, or the hub (which is owed issuance fees).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Party {
    Hub,
    Partner(Uuid),
}

pub const HUB_ID: &str = "HUB";

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Party::Hub => f.write_str(HUB_ID),
            Party::Partner(id) => write!(f, "{id}"),
        }
    }
}

impl From<Party> for String {
    fn from(party: Party) -> String {
        party.to_string()
    }
}

impl TryFrom<String> for Party {
    type Error = uuid::Error;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        if text == HUB_ID {
            Ok(Party::Hub)
        } else {
            text.parse().map(Party::Partner)
        }
    }
}

/// One aggregated row of a period: the records of one kind between one issuer and one
/// redeemer at one rate. `money` is exact: points x the rate in force at each record's time.
#[derive(Clone, Debug, PartialEq)]
pub struct Attributed {
    pub kind: RecordKind,
    pub issuer: Uuid,
    pub redeemer: Option<Uuid>,
    pub points: i64,
    pub money: BigDecimal,
    pub records: i64,
}

/// The running totals of a period, folded chunk by chunk: as many entries as there are
/// kinds x counterparty pairs, whatever the number of records.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    by_key: BTreeMap<(RecordKind, Uuid, Option<Uuid>), (i64, BigDecimal)>,
    pub records: i64,
}

/// Adds to a running 64-bit total, refusing to wrap: a statement whose figures leave the
/// 64-bit range is refused as a whole, never written with a wrapped number. (With the
/// per-entry cap of 10^9 points a period would need about 9 billion maximal entries.)
pub(crate) fn add_checked(total: &mut i64, amount: i64) -> AppResult<()> {
    *total = total.checked_add(amount).ok_or_else(|| {
        AppError::PeriodNotClosable("the period's totals pass the 64-bit range".into())
    })?;
    Ok(())
}

impl Totals {
    pub fn add(&mut self, row: Attributed) -> AppResult<()> {
        let slot = self
            .by_key
            .entry((row.kind, row.issuer, row.redeemer))
            .or_insert_with(|| (0, BigDecimal::from(0)));
        add_checked(&mut slot.0, row.points)?;
        slot.1 += row.money;
        add_checked(&mut self.records, row.records)
    }

    /// Every partner the totals mention.
    pub fn partners(&self) -> BTreeSet<Uuid> {
        self.by_key
            .keys()
            .flat_map(|(_, issuer, redeemer)| std::iter::once(*issuer).chain(*redeemer))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyName {
    pub party: Party,
    pub name: String,
}

/// The issuer owes the redeemer for points redeemed at the redeemer (negative: the other way).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairLine {
    pub issuer: Uuid,
    pub redeemer: Uuid,
    pub points: i64,
    pub amount_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeLine {
    pub partner: Uuid,
    pub points: i64,
    pub amount_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointsLine {
    pub partner: Uuid,
    pub points: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    pub party: Party,
    pub gross_payable: i64,
    pub gross_receivable: i64,
    /// receivable - payable: positive is owed to the party.
    pub net: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    pub from: Party,
    pub to: Party,
    pub amount_minor: i64,
}

/// A period's statement. Serialized as canonical JSON (field order as declared, lines
/// sorted), which is what the content hash covers and what a closed period stores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    pub currency: String,
    pub minor_units: u32,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub record_count: i64,
    /// Names as they were when the statement was made.
    pub parties: Vec<PartyName>,
    /// Redemptions across partners: the issuer owes the redeemer.
    pub lines: Vec<PairLine>,
    /// Redemptions at the issuer itself: reported, no money moves.
    pub internal_redemptions: Vec<PointsLine>,
    /// Issuance fees owed to the hub.
    pub issuance_fees: Vec<FeeLine>,
    /// Expired points per issuer: no money moves.
    pub breakage: Vec<PointsLine>,
    /// Points per issuer that repaid members' points debts: no money moves.
    pub debt_repayments: Vec<PointsLine>,
    /// Campaign bonus points per sponsor (also in its issuance fees). Left out of the
    /// canonical text when empty, so that statements without bonuses keep their hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bonus_issuance: Vec<PointsLine>,
    pub positions: Vec<Position>,
    /// At most parties - 1 transfers, largest debtor to largest creditor, that settle every
    /// net position exactly.
    pub transfers: Vec<Transfer>,
}

/// Minor units of an ISO 4217 currency (the few that do not use cents).
pub fn minor_units(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// Exact money rounded half-even to minor units, as an integer count of them.
pub fn to_minor(money: &BigDecimal, minor_units: u32) -> AppResult<i64> {
    let scaled = money * BigDecimal::from(10i64.pow(minor_units));
    scaled
        .with_scale_round(0, RoundingMode::HalfEven)
        .to_i64()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("amount {money} out of range")))
}

/// "-12.05" from -1205 minor units of a 2-digit currency.
pub fn format_minor(amount: i64, minor_units: u32) -> String {
    BigDecimal::new(amount.into(), minor_units.into()).to_plain_string()
}

pub struct StatementInput<'a> {
    pub currency: &'a str,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub totals: Totals,
    pub names: &'a BTreeMap<Uuid, String>,
}

/// A period's records summed per statement line, before rounding.
#[derive(Default)]
struct Sums {
    pairs: BTreeMap<(Uuid, Uuid), (i64, BigDecimal)>,
    fees: BTreeMap<Uuid, (i64, BigDecimal)>,
    internal: BTreeMap<Uuid, i64>,
    breakage: BTreeMap<Uuid, i64>,
    repaid: BTreeMap<Uuid, i64>,
    bonus: BTreeMap<Uuid, i64>,
}

impl Sums {
    fn of(totals: Totals) -> AppResult<Sums> {
        let mut sums = Sums::default();
        for ((kind, issuer, redeemer), (points, money)) in totals.by_key {
            sums.add(kind, issuer, redeemer, points, money)?;
        }
        Ok(sums)
    }

    fn add(
        &mut self,
        kind: RecordKind,
        issuer: Uuid,
        redeemer: Option<Uuid>,
        points: i64,
        money: BigDecimal,
    ) -> AppResult<()> {
        let zero = || (0, BigDecimal::from(0));
        match (kind, redeemer) {
            (RecordKind::Redemption | RecordKind::RedemptionReversal, Some(r)) if r == issuer => {
                add_checked(self.internal.entry(issuer).or_default(), points)
            }
            (RecordKind::Redemption | RecordKind::RedemptionReversal, Some(r)) => {
                let slot = self.pairs.entry((issuer, r)).or_insert_with(zero);
                slot.1 += money;
                add_checked(&mut slot.0, points)
            }
            (RecordKind::Issue | RecordKind::IssueReversal | RecordKind::BonusIssue, _) => {
                if kind == RecordKind::BonusIssue {
                    add_checked(self.bonus.entry(issuer).or_default(), points)?;
                }
                let slot = self.fees.entry(issuer).or_insert_with(zero);
                slot.1 += money;
                add_checked(&mut slot.0, points)
            }
            (RecordKind::Expiry, _) => {
                add_checked(self.breakage.entry(issuer).or_default(), points)
            }
            (RecordKind::DebtRepayment, _) => {
                add_checked(self.repaid.entry(issuer).or_default(), points)
            }
            (RecordKind::Redemption | RecordKind::RedemptionReversal, None) => {
                Err(AppError::internal(anyhow::anyhow!(
                    "redemption record without a redeeming partner"
                )))
            }
        }
    }
}

/// Non-zero lines of points per partner.
fn points_lines(map: BTreeMap<Uuid, i64>) -> Vec<PointsLine> {
    map.into_iter()
        .filter(|(_, points)| *points != 0)
        .map(|(partner, points)| PointsLine { partner, points })
        .collect()
}

/// Pairs and fees rounded to minor units; lines of nothing left out.
fn money_lines(
    sums_pairs: BTreeMap<(Uuid, Uuid), (i64, BigDecimal)>,
    fees: BTreeMap<Uuid, (i64, BigDecimal)>,
    minor: u32,
) -> AppResult<(Vec<PairLine>, Vec<FeeLine>)> {
    let mut lines = Vec::new();
    for ((issuer, redeemer), (points, money)) in sums_pairs {
        let amount_minor = to_minor(&money, minor)?;
        if points != 0 || amount_minor != 0 {
            lines.push(PairLine {
                issuer,
                redeemer,
                points,
                amount_minor,
            });
        }
    }
    let mut issuance_fees = Vec::new();
    for (partner, (points, money)) in fees {
        let amount_minor = to_minor(&money, minor)?;
        if points != 0 || amount_minor != 0 {
            issuance_fees.push(FeeLine {
                partner,
                points,
                amount_minor,
            });
        }
    }
    Ok((lines, issuance_fees))
}

/// Every party the statement mentions, with its name as of now.
fn named_parties<'a>(
    mut mentioned: BTreeSet<Party>,
    points_lines: impl Iterator<Item = &'a PointsLine>,
    names: &BTreeMap<Uuid, String>,
) -> Vec<PartyName> {
    mentioned.extend(points_lines.map(|l| Party::Partner(l.partner)));
    mentioned
        .into_iter()
        .map(|party| PartyName {
            party,
            name: match party {
                Party::Hub => "Coalition hub".to_owned(),
                Party::Partner(id) => names.get(&id).cloned().unwrap_or_default(),
            },
        })
        .collect()
}

/// One row of a statement's CSV: amounts are amount, gross payable, gross receivable, net.
struct CsvRow {
    section: &'static str,
    from: Option<Party>,
    to: Option<Party>,
    points: Option<i64>,
    amounts: [Option<i64>; 4],
}

impl CsvRow {
    fn new(
        section: &'static str,
        from: Option<Party>,
        to: Option<Party>,
        points: Option<i64>,
        amounts: [Option<i64>; 4],
    ) -> CsvRow {
        CsvRow {
            section,
            from,
            to,
            points,
            amounts,
        }
    }
}

impl Statement {
    pub fn build(input: StatementInput<'_>) -> AppResult<Statement> {
        let minor = minor_units(input.currency);
        let record_count = input.totals.records;
        let sums = Sums::of(input.totals)?;
        let (lines, issuance_fees) = money_lines(sums.pairs, sums.fees, minor)?;
        let internal_redemptions = points_lines(sums.internal);
        let breakage = points_lines(sums.breakage);
        let debt_repayments = points_lines(sums.repaid);
        let bonus_issuance = points_lines(sums.bonus);

        let obligations = lines
            .iter()
            .map(|l| {
                (
                    Party::Partner(l.issuer),
                    Party::Partner(l.redeemer),
                    l.amount_minor,
                )
            })
            .chain(
                issuance_fees
                    .iter()
                    .map(|f| (Party::Partner(f.partner), Party::Hub, f.amount_minor)),
            );
        let positions = positions(obligations)?;
        let transfers = payment_plan(&positions);
        let parties = named_parties(
            positions.iter().map(|p| p.party).collect(),
            internal_redemptions
                .iter()
                .chain(&breakage)
                .chain(&debt_repayments)
                .chain(&bonus_issuance),
            input.names,
        );
        Ok(Statement {
            currency: input.currency.to_owned(),
            minor_units: minor,
            period_start: input.period_start,
            period_end: input.period_end,
            record_count,
            parties,
            lines,
            internal_redemptions,
            issuance_fees,
            breakage,
            debt_repayments,
            bonus_issuance,
            positions,
            transfers,
        })
    }

    /// The canonical text: what a closed period stores and the content hash covers.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a statement always serializes")
    }

    /// sha256 of the canonical JSON, hex.
    pub fn content_hash(&self) -> String {
        let digest = Sha256::digest(self.canonical_json().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// What a partner may see: its own pairs, fees, breakage, position and transfers.
    pub fn visible_to(&self, partner: Uuid) -> Statement {
        let me = Party::Partner(partner);
        let own = |line: &PointsLine| line.partner == partner;
        let lines: Vec<PairLine> = self
            .lines
            .iter()
            .filter(|l| l.issuer == partner || l.redeemer == partner)
            .cloned()
            .collect();
        let transfers: Vec<Transfer> = self
            .transfers
            .iter()
            .filter(|t| t.from == me || t.to == me)
            .cloned()
            .collect();
        let mut seen: BTreeSet<Party> = BTreeSet::from([me]);
        seen.extend(
            lines
                .iter()
                .flat_map(|l| [Party::Partner(l.issuer), Party::Partner(l.redeemer)]),
        );
        seen.extend(transfers.iter().flat_map(|t| [t.from, t.to]));
        if self.issuance_fees.iter().any(|f| f.partner == partner) {
            seen.insert(Party::Hub);
        }
        Statement {
            currency: self.currency.clone(),
            minor_units: self.minor_units,
            period_start: self.period_start,
            period_end: self.period_end,
            record_count: self.record_count,
            parties: self
                .parties
                .iter()
                .filter(|p| seen.contains(&p.party))
                .cloned()
                .collect(),
            lines,
            internal_redemptions: self
                .internal_redemptions
                .iter()
                .filter(|l| own(l))
                .cloned()
                .collect(),
            issuance_fees: self
                .issuance_fees
                .iter()
                .filter(|f| f.partner == partner)
                .cloned()
                .collect(),
            breakage: self.breakage.iter().filter(|l| own(l)).cloned().collect(),
            debt_repayments: self
                .debt_repayments
                .iter()
                .filter(|l| own(l))
                .cloned()
                .collect(),
            bonus_issuance: self
                .bonus_issuance
                .iter()
                .filter(|l| own(l))
                .cloned()
                .collect(),
            positions: self
                .positions
                .iter()
                .filter(|p| p.party == me)
                .cloned()
                .collect(),
            transfers,
        }
    }

    pub fn name_of(&self, party: Party) -> &str {
        self.parties
            .iter()
            .find(|p| p.party == party)
            .map(|p| p.name.as_str())
            .unwrap_or("")
    }

    /// The statement as CSV: one row per line, fee, breakage, position and transfer.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "section,from_id,from_name,to_id,to_name,points,amount,gross_payable,gross_receivable,net,currency\n",
        );
        let money = |minor: i64| format_minor(minor, self.minor_units);
        let party = |p: Option<Party>| match p {
            Some(p) => (p.to_string(), crate::domain::csv::field(self.name_of(p))),
            None => (String::new(), String::new()),
        };
        for row in self.csv_rows() {
            let (from_id, from_name) = party(row.from);
            let (to_id, to_name) = party(row.to);
            let [amount, payable, receivable, net] =
                row.amounts.map(|a| a.map(money).unwrap_or_default());
            let points = row.points.map(|p| p.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "{},{from_id},{from_name},{to_id},{to_name},{points},{amount},{payable},{receivable},{net},{}\n",
                row.section, self.currency,
            ));
        }
        out
    }

    /// The CSV's rows, section by section, in the statement's order.
    fn csv_rows(&self) -> Vec<CsvRow> {
        let partner = |id| Some(Party::Partner(id));
        let amount = |minor| [Some(minor), None, None, None];
        let mut rows = Vec::new();
        for l in &self.lines {
            rows.push(CsvRow::new(
                "REDEMPTION",
                partner(l.issuer),
                partner(l.redeemer),
                Some(l.points),
                amount(l.amount_minor),
            ));
        }
        for l in &self.internal_redemptions {
            rows.push(CsvRow::new(
                "INTERNAL_REDEMPTION",
                partner(l.partner),
                partner(l.partner),
                Some(l.points),
                [None; 4],
            ));
        }
        for f in &self.issuance_fees {
            rows.push(CsvRow::new(
                "ISSUANCE_FEE",
                partner(f.partner),
                Some(Party::Hub),
                Some(f.points),
                amount(f.amount_minor),
            ));
        }
        for (section, lines) in [
            ("BREAKAGE", &self.breakage),
            ("DEBT_REPAYMENT", &self.debt_repayments),
            ("BONUS_ISSUE", &self.bonus_issuance),
        ] {
            for l in lines {
                rows.push(CsvRow::new(
                    section,
                    partner(l.partner),
                    None,
                    Some(l.points),
                    [None; 4],
                ));
            }
        }
        for p in &self.positions {
            let amounts = [
                None,
                Some(p.gross_payable),
                Some(p.gross_receivable),
                Some(p.net),
            ];
            rows.push(CsvRow::new("POSITION", Some(p.party), None, None, amounts));
        }
        for t in &self.transfers {
            rows.push(CsvRow::new(
                "TRANSFER",
                Some(t.from),
                Some(t.to),
                None,
                amount(t.amount_minor),
            ));
        }
        rows
    }
}

/// Gross and net positions from (payer, payee, minor units) obligations; a negative
/// obligation runs the other way.
pub fn positions(
    obligations: impl IntoIterator<Item = (Party, Party, i64)>,
) -> AppResult<Vec<Position>> {
    let mut by_party: BTreeMap<Party, (i64, i64)> = BTreeMap::new();
    for (payer, payee, amount) in obligations {
        // (i64::MIN has no positive counterpart: checked_neg refuses it.)
        let (payer, payee, amount) = match amount.checked_neg() {
            Some(negated) if amount < 0 => (payee, payer, negated),
            None => {
                return Err(AppError::PeriodNotClosable(
                    "an amount passes the 64-bit range".into(),
                ));
            }
            _ => (payer, payee, amount),
        };
        add_checked(&mut by_party.entry(payer).or_default().0, amount)?;
        add_checked(&mut by_party.entry(payee).or_default().1, amount)?;
    }
    by_party
        .into_iter()
        .map(|(party, (payable, receivable))| {
            let net = receivable.checked_sub(payable).ok_or_else(|| {
                AppError::PeriodNotClosable("a net position passes the 64-bit range".into())
            })?;
            Ok(Position {
                party,
                gross_payable: payable,
                gross_receivable: receivable,
                net,
            })
        })
        .collect()
}

/// Largest debtor pays largest creditor, repeatedly: every transfer settles at least one
/// party in full, so there are at most (parties with a non-zero net) - 1 of them. Ties go to
/// the smaller party id, so the plan is the same every time.
pub fn payment_plan(positions: &[Position]) -> Vec<Transfer> {
    let mut debtors: BinaryHeap<(i64, Reverse<Party>)> = positions
        .iter()
        .filter(|p| p.net < 0)
        .map(|p| (-p.net, Reverse(p.party)))
        .collect();
    let mut creditors: BinaryHeap<(i64, Reverse<Party>)> = positions
        .iter()
        .filter(|p| p.net > 0)
        .map(|p| (p.net, Reverse(p.party)))
        .collect();
    let mut transfers = Vec::new();
    while let (Some((owes, Reverse(debtor))), Some((owed, Reverse(creditor)))) =
        (debtors.pop(), creditors.pop())
    {
        let amount = owes.min(owed);
        transfers.push(Transfer {
            from: debtor,
            to: creditor,
            amount_minor: amount,
        });
        if owes > amount {
            debtors.push((owes - amount, Reverse(debtor)));
        }
        if owed > amount {
            creditors.push((owed - amount, Reverse(creditor)));
        }
    }
    transfers
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(text: &str) -> BigDecimal {
        text.parse().unwrap()
    }

    fn partner(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    #[test]
    fn rounding_is_half_even_to_minor_units() {
        assert_eq!(to_minor(&dec("0.125"), 2).unwrap(), 12);
        assert_eq!(to_minor(&dec("0.135"), 2).unwrap(), 14);
        assert_eq!(to_minor(&dec("-0.125"), 2).unwrap(), -12);
        assert_eq!(to_minor(&dec("2.5"), 0).unwrap(), 2);
        assert_eq!(to_minor(&dec("0.0005"), 3).unwrap(), 0);
        assert_eq!(format_minor(-1205, 2), "-12.05");
        assert_eq!(format_minor(7, 0), "7");
    }

    #[test]
    fn totals_past_64_bits_refuse_the_statement_instead_of_wrapping() {
        let mut totals = Totals::default();
        let huge = row(RecordKind::Redemption, 1, Some(2), i64::MAX, "1");
        totals.add(huge.clone()).unwrap();
        assert_eq!(totals.add(huge).unwrap_err().code(), "PERIOD_NOT_CLOSABLE");

        let (a, b) = (Party::Partner(partner(1)), Party::Partner(partner(2)));
        let over = positions([(a, b, i64::MAX), (a, b, 1)]);
        assert_eq!(over.unwrap_err().code(), "PERIOD_NOT_CLOSABLE");
        let most_negative = positions([(a, b, i64::MIN)]);
        assert_eq!(most_negative.unwrap_err().code(), "PERIOD_NOT_CLOSABLE");
        let fine = positions([(a, b, i64::MAX), (b, a, 5)]).unwrap();
        assert_eq!(fine.iter().map(|p| p.net).sum::<i64>(), 0);
    }

    #[test]
    fn party_ids_round_trip() {
        for party in [Party::Hub, Party::Partner(partner(3))] {
            assert_eq!(Party::try_from(party.to_string()).unwrap(), party);
        }
    }

    #[test]
    fn csv_quotes_names_and_defuses_formulas() {
        assert_eq!(crate::domain::csv::field("Shop, Inc."), "\"Shop, Inc.\"");
        assert_eq!(crate::domain::csv::field("=cmd()"), "'=cmd()");
        assert_eq!(crate::domain::csv::field("Plain"), "Plain");
    }

    fn row(
        kind: RecordKind,
        issuer: u8,
        redeemer: Option<u8>,
        points: i64,
        money: &str,
    ) -> Attributed {
        Attributed {
            kind,
            issuer: partner(issuer),
            redeemer: redeemer.map(partner),
            points,
            money: dec(money),
            records: 1,
        }
    }

    fn build(rows: Vec<Attributed>) -> Statement {
        let mut totals = Totals::default();
        rows.into_iter().for_each(|r| totals.add(r).unwrap());
        let names = BTreeMap::new();
        Statement::build(StatementInput {
            currency: "EUR",
            period_start: DateTime::UNIX_EPOCH,
            period_end: DateTime::UNIX_EPOCH,
            totals,
            names: &names,
        })
        .unwrap()
    }

    #[test]
    fn a_pair_is_rounded_once_over_all_its_records() {
        // three redemptions of 1 point at 0.004 each: 0.012 in all, 0.01 once rounded (not 0)
        let s = build(vec![
            row(RecordKind::Redemption, 1, Some(2), 1, "0.004"),
            row(RecordKind::Redemption, 1, Some(2), 1, "0.004"),
            row(RecordKind::Redemption, 1, Some(2), 1, "0.004"),
        ]);
        assert_eq!(s.lines[0].amount_minor, 1);
        assert_eq!(s.lines[0].points, 3);
    }

    #[test]
    fn internal_redemptions_move_no_money_and_reversals_net_out() {
        let s = build(vec![
            row(RecordKind::Redemption, 1, Some(1), 50, "5"),
            row(RecordKind::Redemption, 1, Some(2), 30, "3"),
            row(RecordKind::RedemptionReversal, 1, Some(2), -10, "-1"),
            row(RecordKind::Issue, 1, None, 100, "0.5"),
            row(RecordKind::Expiry, 2, None, 7, "0"),
        ]);
        assert_eq!(
            s.internal_redemptions,
            vec![PointsLine {
                partner: partner(1),
                points: 50
            }]
        );
        assert_eq!(s.lines.len(), 1);
        assert_eq!((s.lines[0].points, s.lines[0].amount_minor), (20, 200));
        assert_eq!(s.issuance_fees[0].amount_minor, 50);
        assert_eq!(s.breakage[0].points, 7);
        let net: BTreeMap<Party, i64> = s.positions.iter().map(|p| (p.party, p.net)).collect();
        assert_eq!(net[&Party::Partner(partner(1))], -250);
        assert_eq!(net[&Party::Partner(partner(2))], 200);
        assert_eq!(net[&Party::Hub], 50);
        assert_eq!(s.transfers.len(), 2);
    }

    #[test]
    fn the_csv_has_one_row_per_line_section_by_section() {
        let s = build(vec![
            row(RecordKind::Redemption, 1, Some(1), 50, "5"),
            row(RecordKind::Redemption, 1, Some(2), 30, "3"),
            row(RecordKind::Issue, 1, None, 100, "0.5"),
            row(RecordKind::BonusIssue, 2, None, 20, "0.1"),
            row(RecordKind::Expiry, 2, None, 7, "0"),
            row(RecordKind::DebtRepayment, 1, None, 4, "0"),
        ]);
        let csv = s.to_csv();
        let sections: Vec<&str> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(
            sections,
            [
                "REDEMPTION",
                "INTERNAL_REDEMPTION",
                "ISSUANCE_FEE",
                "ISSUANCE_FEE",
                "BREAKAGE",
                "DEBT_REPAYMENT",
                "BONUS_ISSUE",
                "POSITION",
                "POSITION",
                "POSITION",
                "TRANSFER",
                "TRANSFER",
            ]
        );
        let (one, two) = (partner(1), partner(2));
        assert!(csv.contains(&format!("\nREDEMPTION,{one},,{two},,30,3.00,,,,EUR\n")));
        assert!(csv.contains(&format!("\nBONUS_ISSUE,{two},,,,20,,,,,EUR\n")));
        assert!(csv.contains(&format!("\nPOSITION,{one},,,,,,3.50,0.00,-3.50,EUR\n")));
    }

    #[test]
    fn a_partner_sees_only_its_own_lines() {
        let s = build(vec![
            row(RecordKind::Redemption, 1, Some(2), 10, "1"),
            row(RecordKind::Redemption, 2, Some(3), 10, "1"),
            row(RecordKind::Redemption, 3, Some(1), 10, "1"),
        ]);
        let view = s.visible_to(partner(1));
        assert!(
            view.lines
                .iter()
                .all(|l| l.issuer == partner(1) || l.redeemer == partner(1))
        );
        assert_eq!(view.lines.len(), 2);
        assert_eq!(view.positions.len(), 1);
        assert!(view.parties.iter().all(|p| p.party != Party::Hub));
    }

    fn kind() -> impl Strategy<Value = RecordKind> {
        prop_oneof![
            Just(RecordKind::Redemption),
            Just(RecordKind::RedemptionReversal),
            Just(RecordKind::Issue),
            Just(RecordKind::IssueReversal),
            Just(RecordKind::Expiry),
            Just(RecordKind::DebtRepayment),
        ]
    }

    fn attributed() -> impl Strategy<Value = Attributed> {
        (
            kind(),
            1u8..6,
            1u8..6,
            -1_000_000i64..1_000_000,
            0u32..100_000,
        )
            .prop_map(|(kind, issuer, redeemer, points, milli_rate)| {
                let points = if points == 0 { 1 } else { points };
                let redeems = matches!(
                    kind,
                    RecordKind::Redemption | RecordKind::RedemptionReversal
                );
                let rate = BigDecimal::new(milli_rate.into(), 4);
                Attributed {
                    kind,
                    issuer: partner(issuer),
                    redeemer: redeems.then(|| partner(redeemer)),
                    points,
                    money: BigDecimal::from(points) * rate,
                    records: 1,
                }
            })
    }

    proptest! {
        #[test]
        fn nets_sum_to_zero_and_the_plan_settles_every_position(rows in prop::collection::vec(attributed(), 0..60)) {
            let s = build(rows);
            prop_assert_eq!(s.positions.iter().map(|p| p.net).sum::<i64>(), 0);
            for p in &s.positions {
                prop_assert_eq!(p.net, p.gross_receivable - p.gross_payable);
            }
            let parties = s.positions.iter().filter(|p| p.net != 0).count();
            prop_assert!(s.transfers.len() <= parties.saturating_sub(1));
            let mut settled: BTreeMap<Party, i64> = s.positions.iter().map(|p| (p.party, p.net)).collect();
            for t in &s.transfers {
                prop_assert!(t.amount_minor > 0);
                *settled.get_mut(&t.from).unwrap() += t.amount_minor;
                *settled.get_mut(&t.to).unwrap() -= t.amount_minor;
            }
            prop_assert!(settled.values().all(|v| *v == 0), "unsettled: {:?}", settled);
            // Canonical JSON round-trips, so a stored statement re-hashes to its hash.
            let back: Statement = serde_json::from_str(&s.canonical_json()).unwrap();
            prop_assert_eq!(back.content_hash(), s.content_hash());
        }

        #[test]
        fn folding_in_chunks_gives_the_same_statement(rows in prop::collection::vec(attributed(), 0..40), split in 0usize..40) {
            let split = split.min(rows.len());
            let whole = build(rows.clone());
            let mut totals = Totals::default();
            let (a, b) = rows.split_at(split);
            b.iter().chain(a).cloned().for_each(|r| totals.add(r).unwrap());
            let names = BTreeMap::new();
            let chunked = Statement::build(StatementInput {
                currency: "EUR",
                period_start: DateTime::UNIX_EPOCH,
                period_end: DateTime::UNIX_EPOCH,
                totals,
                names: &names,
            }).unwrap();
            prop_assert_eq!(chunked.content_hash(), whole.content_hash());
        }
    }
}

/// The largest money per point a rate card may hold: far above any real programme, low
/// enough that a slipped digit is refused instead of billed.
pub const MAX_RATE_PER_POINT: i64 = 1_000;

/// A rate card value: money per point, 0 to [`MAX_RATE_PER_POINT`], at most 6 decimals.
pub fn validate_rate(value: &BigDecimal, field: &str) -> AppResult<()> {
    if value < &BigDecimal::from(0) {
        return Err(AppError::bad_input(format!("{field} must not be negative")));
    }
    if value > &BigDecimal::from(MAX_RATE_PER_POINT) {
        return Err(AppError::bad_input(format!(
            "{field} must be at most {MAX_RATE_PER_POINT} per point"
        )));
    }
    if crate::domain::money::fraction_digits(value) > 6 {
        return Err(AppError::bad_input(format!(
            "{field} has more than 6 decimal places"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn rates_are_bounded() {
        let ok = |s: &str| validate_rate(&s.parse().unwrap(), "redemptionValue").is_ok();
        assert!(ok("0"));
        assert!(ok("0.0125"));
        assert!(ok("1000"));
        assert!(!ok("-0.01"));
        assert!(!ok("1000.000001"));
        assert!(!ok("0.0000001"));
    }
}
