//! Campaign rules (issue 23): which campaigns an earn qualifies for, and the bonus each
//! gives before caps. Pure: the service gathers the member's facts, and the ledger books the
//! bonuses under the member caps and budgets, which depend on what concurrent earns took
//! (sql/campaigns/award.sql).
//!
//! Semantics, for `docs/API.md`:
//! - an earn qualifies when the campaign applies to its partner (or to every partner), the
//!   earn's time is inside the validity window and, with a schedule, inside one of its
//!   weekly slots in the campaign's time zone, the member is in the audience, and the
//!   purchase meets the condition;
//! - a multiplier `m` gives `floor(base × (m − 1))` extra points (2 doubles the points), a
//!   fixed reward its points, a per-unit reward its points for each unit of its SKU among
//!   the purchase lines;
//! - additive campaigns all apply; of the best-of campaigns of one priority group only the
//!   largest bonus applies (a tie goes to the campaign created first);
//! - no bonus exceeds the per-entry cap; a bonus of 0 points is no bonus.

use std::collections::BTreeMap;

use bigdecimal::{BigDecimal, RoundingMode, ToPrimitive, Zero};
use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use uuid::Uuid;

use crate::domain::ledger::MAX_POINTS_PER_ENTRY;

/// Who may earn the bonus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// Members at this tier level (0: the lowest) or above.
    TierAtLeast(usize),
    /// Members who activated the offer in their app.
    Activated,
    /// Members with no earlier earn at the earning partner (a welcome or cross-sell bonus).
    NewToPartner,
    /// Members whose birthday month it is (in the campaign's time zone).
    BirthdayMonth,
}

/// What the purchase must have; every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    pub min_purchase: Option<BigDecimal>,
    /// A line of this category must be among the purchase lines.
    pub category: Option<String>,
    /// A line of this SKU must be among the purchase lines.
    pub sku: Option<String>,
    /// This earn must be the member's Nth purchase at the partner in the calendar month
    /// (in the campaign's time zone), counting this one.
    pub nth_purchase_in_month: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reward {
    /// Between 1 and 10, at most 3 decimals.
    Multiplier(BigDecimal),
    Fixed(i64),
    PerUnit {
        sku: String,
        points: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stacking {
    Additive,
    BestOf(String),
}

/// A weekly slot: `day`, from `from_minute` to `to_minute` (minutes of the local day,
/// `to_minute` exclusive, 1440 the end of the day).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub day: Weekday,
    pub from_minute: u32,
    pub to_minute: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Campaign {
    pub id: Uuid,
    /// The partner whose earns it applies to; `None`: every partner's.
    pub partner_id: Option<Uuid>,
    pub sponsor_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Empty: all the time within the window.
    pub schedule: Vec<Slot>,
    pub time_zone: chrono_tz::Tz,
    pub audience: Audience,
    pub condition: Condition,
    pub reward: Reward,
    pub stacking: Stacking,
}

/// A purchase line of `issuePoints`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub sku: String,
    pub category: Option<String>,
    pub quantity: i64,
    pub amount: BigDecimal,
}

/// The earn being booked.
#[derive(Clone, Debug)]
pub struct Earn {
    pub partner_id: Uuid,
    pub at: DateTime<Utc>,
    pub base_points: i64,
    pub purchase: Option<BigDecimal>,
    pub lines: Vec<Line>,
}

/// What the hub knows of the member when it earns.
#[derive(Clone, Debug, Default)]
pub struct MemberFacts {
    /// The member's tier level now (0: the lowest), if tiers are set.
    pub tier_level: Option<usize>,
    /// The campaigns whose offer the member activated.
    pub activated: Vec<Uuid>,
    /// Earns at the earning partner before this one.
    pub earlier_earns_at_partner: bool,
    /// The member's earlier purchases (earns) at the earning partner over the last
    /// [`RECENT_PURCHASE_DAYS`] days, enough to count those of the current calendar month in
    /// any time zone ([`MemberFacts::purchases_in_month`]).
    pub recent_purchases: Vec<DateTime<Utc>>,
    /// 1-12.
    pub birth_month: Option<u32>,
}

/// How far back [`MemberFacts::recent_purchases`] must reach: a calendar month (31 days)
/// plus the widest gap between two time zones' midnights (26 hours), rounded up.
pub const RECENT_PURCHASE_DAYS: i64 = 33;

impl MemberFacts {
    /// Earlier purchases in the calendar month of `at`, in the time zone `zone`.
    pub fn purchases_in_month(&self, at: DateTime<Utc>, zone: &chrono_tz::Tz) -> u32 {
        let local = at.with_timezone(zone);
        let this_month = (local.year(), local.month());
        let count = self
            .recent_purchases
            .iter()
            .filter(|p| **p < at)
            .map(|p| p.with_timezone(zone))
            .filter(|p| (p.year(), p.month()) == this_month)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bonus {
    pub campaign_id: Uuid,
    pub sponsor_id: Uuid,
    pub points: i64,
}

impl Campaign {
    fn applies_to(&self, earn: &Earn) -> bool {
        self.partner_id.is_none_or(|p| p == earn.partner_id)
            && self.starts_at <= earn.at
            && earn.at < self.ends_at
            && self.in_schedule(earn.at)
    }

    fn in_schedule(&self, at: DateTime<Utc>) -> bool {
        if self.schedule.is_empty() {
            return true;
        }
        let local = at.with_timezone(&self.time_zone);
        let minute = local.hour() * 60 + local.minute();
        self.schedule.iter().any(|slot| {
            slot.day == local.weekday() && slot.from_minute <= minute && minute < slot.to_minute
        })
    }

    fn admits(&self, earn: &Earn, facts: &MemberFacts) -> bool {
        match &self.audience {
            Audience::Everyone => true,
            Audience::TierAtLeast(level) => facts.tier_level.is_some_and(|t| t >= *level),
            Audience::Activated => facts.activated.contains(&self.id),
            Audience::NewToPartner => !facts.earlier_earns_at_partner,
            Audience::BirthdayMonth => {
                let month = earn.at.with_timezone(&self.time_zone).month();
                facts.birth_month == Some(month)
            }
        }
    }

    fn condition_holds(&self, earn: &Earn, facts: &MemberFacts) -> bool {
        let c = &self.condition;
        c.min_purchase
            .as_ref()
            .is_none_or(|min| earn.purchase.as_ref().is_some_and(|p| p >= min))
            && c.category.as_ref().is_none_or(|cat| {
                earn.lines
                    .iter()
                    .any(|l| l.category.as_deref() == Some(cat.as_str()))
            })
            && c.sku
                .as_ref()
                .is_none_or(|sku| earn.lines.iter().any(|l| &l.sku == sku))
            && c.nth_purchase_in_month.is_none_or(|n| {
                facts
                    .purchases_in_month(earn.at, &self.time_zone)
                    .saturating_add(1)
                    == n
            })
    }

    /// The bonus before caps, 0 when the reward gives nothing for this earn.
    fn reward_points(&self, earn: &Earn) -> i64 {
        let points = match &self.reward {
            Reward::Multiplier(m) => {
                let extra = (BigDecimal::from(earn.base_points) * (m - BigDecimal::from(1)))
                    .with_scale_round(0, RoundingMode::Floor);
                extra.to_i64().unwrap_or(MAX_POINTS_PER_ENTRY)
            }
            Reward::Fixed(points) => *points,
            Reward::PerUnit { sku, points } => earn
                .lines
                .iter()
                .filter(|l| &l.sku == sku)
                .fold(0i64, |sum, l| {
                    sum.saturating_add(l.quantity.max(0).saturating_mul(*points))
                }),
        };
        points.clamp(0, MAX_POINTS_PER_ENTRY)
    }
}

/// The bonuses an earn gets, in the campaigns' order (by id: the order they were created).
pub fn evaluate(campaigns: &[Campaign], earn: &Earn, facts: &MemberFacts) -> Vec<Bonus> {
    let mut ordered: Vec<&Campaign> = campaigns.iter().collect();
    ordered.sort_by_key(|c| c.id);
    let mut additive = Vec::new();
    let mut best: BTreeMap<&str, Bonus> = BTreeMap::new();
    for campaign in ordered {
        if !(campaign.applies_to(earn)
            && campaign.admits(earn, facts)
            && campaign.condition_holds(earn, facts))
        {
            continue;
        }
        let points = campaign.reward_points(earn);
        if points == 0 {
            continue;
        }
        let bonus = Bonus {
            campaign_id: campaign.id,
            sponsor_id: campaign.sponsor_id,
            points,
        };
        match &campaign.stacking {
            Stacking::Additive => additive.push(bonus),
            Stacking::BestOf(group) => {
                // Strictly larger wins: a tie keeps the campaign created first.
                let slot = best.entry(group.as_str()).or_insert_with(|| bonus.clone());
                if bonus.points > slot.points {
                    *slot = bonus;
                }
            }
        }
    }
    additive.extend(best.into_values());
    additive.sort_by_key(|b| b.campaign_id);
    additive
}

/// Whether a multiplier is one a campaign may have: 1 to 10, at most 3 decimals.
pub fn valid_multiplier(m: &BigDecimal) -> bool {
    m >= &BigDecimal::from(1)
        && m <= &BigDecimal::from(10)
        && (m * BigDecimal::from(1000)).with_scale(0) == m * BigDecimal::from(1000)
        && !m.is_zero()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn partner(n: u8) -> Uuid {
        Uuid::from_u128(0x1000 + u128::from(n))
    }

    /// The rules again, written plainly and separately: every qualifying campaign with its
    /// bonus; then per group the largest (first created on a tie).
    fn model(campaigns: &[Campaign], earn: &Earn, facts: &MemberFacts) -> Vec<Bonus> {
        let mut qualifying: Vec<(Uuid, Uuid, i64, Option<String>)> = Vec::new();
        for c in campaigns {
            if c.partner_id.is_some_and(|p| p != earn.partner_id) {
                continue;
            }
            if earn.at < c.starts_at || earn.at >= c.ends_at {
                continue;
            }
            let local = earn.at.with_timezone(&c.time_zone);
            let minute = local.hour() * 60 + local.minute();
            if !c.schedule.is_empty()
                && !c.schedule.iter().any(|s| {
                    s.day == local.weekday() && minute >= s.from_minute && minute < s.to_minute
                })
            {
                continue;
            }
            let admitted = match &c.audience {
                Audience::Everyone => true,
                Audience::TierAtLeast(l) => matches!(facts.tier_level, Some(t) if t >= *l),
                Audience::Activated => facts.activated.contains(&c.id),
                Audience::NewToPartner => !facts.earlier_earns_at_partner,
                Audience::BirthdayMonth => facts.birth_month == Some(local.month()),
            };
            let cond = &c.condition;
            let meets = match &cond.min_purchase {
                None => true,
                Some(min) => matches!(&earn.purchase, Some(p) if p >= min),
            } && match &cond.category {
                None => true,
                Some(cat) => earn.lines.iter().any(|l| l.category.as_ref() == Some(cat)),
            } && match &cond.sku {
                None => true,
                Some(sku) => earn.lines.iter().any(|l| l.sku == *sku),
            } && match cond.nth_purchase_in_month {
                None => true,
                Some(n) => {
                    // Purchases on or after the first day of the local month, before this one.
                    let month_start = local.date_naive().with_day(1).unwrap();
                    let before = facts.recent_purchases.iter().filter(|p| {
                        **p < earn.at && p.with_timezone(&c.time_zone).date_naive() >= month_start
                    });
                    before.count() as u32 + 1 == n
                }
            };
            if !(admitted && meets) {
                continue;
            }
            let points = match &c.reward {
                Reward::Multiplier(m) => {
                    // base × m − base, floored: the same as base × (m − 1) floored.
                    let total = BigDecimal::from(earn.base_points) * m;
                    (total - BigDecimal::from(earn.base_points))
                        .with_scale_round(0, RoundingMode::Floor)
                        .to_i64()
                        .unwrap()
                }
                Reward::Fixed(p) => *p,
                Reward::PerUnit { sku, points } => {
                    let units: i64 = earn
                        .lines
                        .iter()
                        .filter(|l| l.sku == *sku)
                        .map(|l| l.quantity)
                        .sum();
                    units * points
                }
            }
            .min(MAX_POINTS_PER_ENTRY);
            if points > 0 {
                let group = match &c.stacking {
                    Stacking::Additive => None,
                    Stacking::BestOf(g) => Some(g.clone()),
                };
                qualifying.push((c.id, c.sponsor_id, points, group));
            }
        }
        let mut out: Vec<Bonus> = Vec::new();
        let mut groups: Vec<String> = qualifying.iter().filter_map(|q| q.3.clone()).collect();
        groups.sort();
        groups.dedup();
        for (id, sponsor, points, group) in &qualifying {
            if group.is_none() {
                out.push(Bonus {
                    campaign_id: *id,
                    sponsor_id: *sponsor,
                    points: *points,
                });
            }
        }
        for g in groups {
            let mut members: Vec<&(Uuid, Uuid, i64, Option<String>)> = qualifying
                .iter()
                .filter(|q| q.3.as_deref() == Some(g.as_str()))
                .collect();
            members.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
            let best = members[0];
            out.push(Bonus {
                campaign_id: best.0,
                sponsor_id: best.1,
                points: best.2,
            });
        }
        out.sort_by_key(|b| b.campaign_id);
        out
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    /// Earlier purchases are generated up to 40 days before this: some after the earn, some
    /// in February.
    fn purchase_clock() -> DateTime<Utc> {
        at(28, 23)
    }

    prop_compose! {
        fn a_campaign()(id in 0u128..40, partner_no in prop::option::of(0u8..3),
                        sponsor_no in 0u8..3, start in 1u32..10, len in 1u32..15,
                        slot in prop::option::of((0u8..7, 0u32..20, 1u32..5)),
                        berlin in any::<bool>(),
                        audience in 0u8..5, tier in 0usize..3,
                        min in prop::option::of(1i64..200), cat in prop::option::of(0u8..3),
                        sku in prop::option::of(0u8..3), nth in prop::option::of(1u32..4),
                        reward in 0u8..3, mult in 1001i64..10000, pts in 1i64..500,
                        group in prop::option::of(0u8..2)) -> Campaign {
            let days = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
            Campaign {
                id: Uuid::from_u128(id),
                partner_id: partner_no.map(partner),
                sponsor_id: partner(sponsor_no),
                starts_at: at(start, 0),
                ends_at: at((start + len).min(28), 12),
                schedule: slot.map(|(d, from, len)| vec![Slot { day: days[d as usize], from_minute: from * 60, to_minute: (from + len) * 60 }]).unwrap_or_default(),
                time_zone: if berlin { chrono_tz::Europe::Berlin } else { chrono_tz::UTC },
                audience: match audience {
                    0 => Audience::Everyone,
                    1 => Audience::TierAtLeast(tier),
                    2 => Audience::Activated,
                    3 => Audience::NewToPartner,
                    _ => Audience::BirthdayMonth,
                },
                condition: Condition {
                    min_purchase: min.map(BigDecimal::from),
                    category: cat.map(|c| format!("cat{c}")),
                    sku: sku.map(|s| format!("sku{s}")),
                    nth_purchase_in_month: nth,
                },
                reward: match reward {
                    0 => Reward::Multiplier(BigDecimal::new(mult.into(), 3)),
                    1 => Reward::Fixed(pts),
                    _ => Reward::PerUnit { sku: format!("sku{}", pts % 3), points: pts },
                },
                stacking: group.map_or(Stacking::Additive, |g| Stacking::BestOf(format!("g{g}"))),
            }
        }
    }

    prop_compose! {
        fn an_earn()(partner_no in 0u8..3, day in 1u32..28, hour in 0u32..24, base in 0i64..5000,
                     purchase in prop::option::of(0i64..400),
                     lines in prop::collection::vec((0u8..3, prop::option::of(0u8..3), 1i64..5), 0..4)) -> Earn {
            Earn {
                partner_id: partner(partner_no),
                at: at(day, hour),
                base_points: base,
                purchase: purchase.map(BigDecimal::from),
                lines: lines.into_iter().map(|(s, c, q)| Line {
                    sku: format!("sku{s}"),
                    category: c.map(|c| format!("cat{c}")),
                    quantity: q,
                    amount: BigDecimal::from(q),
                }).collect(),
            }
        }
    }

    prop_compose! {
        fn facts()(tier in prop::option::of(0usize..3), activated in prop::collection::vec(0u128..40, 0..5),
                   earlier in any::<bool>(), purchases in prop::collection::vec(0i64..40 * 24, 0..5),
                   birth in prop::option::of(1u32..13)) -> MemberFacts {
            MemberFacts {
                tier_level: tier,
                activated: activated.into_iter().map(Uuid::from_u128).collect(),
                earlier_earns_at_partner: earlier,
                // Hours before a fixed instant; an_earn's times fall around it.
                recent_purchases: purchases.into_iter()
                    .map(|h| purchase_clock() - chrono::Duration::hours(h)).collect(),
                birth_month: birth,
            }
        }
    }

    proptest! {
        #[test]
        fn evaluation_agrees_with_the_plain_model(
            campaigns in prop::collection::vec(a_campaign(), 0..12)
                .prop_map(|mut cs| { cs.sort_by_key(|c| c.id); cs.dedup_by_key(|c| c.id); cs }),
            earn in an_earn(),
            facts in facts(),
        ) {
            prop_assert_eq!(evaluate(&campaigns, &earn, &facts), model(&campaigns, &earn, &facts));
        }
    }

    #[test]
    fn a_weekend_double_in_berlin_follows_local_time() {
        let campaign = Campaign {
            id: Uuid::from_u128(1),
            partner_id: Some(partner(0)),
            sponsor_id: partner(0),
            starts_at: at(1, 0),
            ends_at: at(28, 0),
            schedule: vec![Slot {
                day: Weekday::Sat,
                from_minute: 0,
                to_minute: 1440,
            }],
            time_zone: chrono_tz::Europe::Berlin,
            audience: Audience::Everyone,
            condition: Condition::default(),
            reward: Reward::Multiplier(BigDecimal::from(2)),
            stacking: Stacking::Additive,
        };
        let earn = |at| Earn {
            partner_id: partner(0),
            at,
            base_points: 10,
            purchase: None,
            lines: vec![],
        };
        // 2026-03-06 is a Friday: 23:30 UTC is already Saturday 00:30 in Berlin.
        let friday_night_utc = Utc.with_ymd_and_hms(2026, 3, 6, 23, 30, 0).unwrap();
        let friday_evening_utc = Utc.with_ymd_and_hms(2026, 3, 6, 22, 30, 0).unwrap();
        assert_eq!(
            evaluate(
                std::slice::from_ref(&campaign),
                &earn(friday_night_utc),
                &MemberFacts::default()
            )
            .len(),
            1
        );
        assert!(
            evaluate(
                &[campaign],
                &earn(friday_evening_utc),
                &MemberFacts::default()
            )
            .is_empty()
        );
    }

    #[test]
    fn multipliers_are_1_to_10_with_3_decimals() {
        for ok in ["1", "2", "1.5", "9.999", "10"] {
            assert!(valid_multiplier(&ok.parse().unwrap()), "{ok}");
        }
        for bad in ["0", "0.5", "10.001", "1.2345", "-2"] {
            assert!(!valid_multiplier(&bad.parse().unwrap()), "{bad}");
        }
    }
}
