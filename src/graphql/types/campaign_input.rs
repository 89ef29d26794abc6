use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use crate::domain::partner::COALITION_PARTNER_ID;
use crate::graphql::scalars::{Decimal, parse_id};
use crate::graphql::types::CampaignAudience;
use crate::graphql::types::ScheduleSlot;
use crate::{error::AppError, services::campaigns::CampaignInput as Settings};

/// A campaign's settings (`createCampaign`, and all of them again for `updateCampaign`).
#[derive(InputObject)]
pub(crate) struct CampaignInput {
    pub name: String,
    /// Operator: the partner whose earns it applies to (omitted: every partner's). A
    /// partner's campaigns are its own.
    pub partner_id: Option<ID>,
    /// Operator: who pays the bonuses (default: the partner). A partner sponsors its own.
    pub sponsor_partner_id: Option<ID>,
    /// Operator: the coalition pays the bonuses (the default for a campaign on every
    /// partner's earns); not with `sponsorPartnerId`.
    pub sponsored_by_coalition: Option<bool>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Weekly slots in `timeZone`; omitted: all the time between `startsAt` and `endsAt`.
    pub schedule: Option<Vec<ScheduleSlot>>,
    /// An IANA time zone name (default UTC): the schedule's and the birthday month's.
    pub time_zone: Option<String>,
    pub audience: CampaignAudience,
    pub audience_tier_level: Option<i32>,
    /// Conditions, all of which must hold: the purchase amount at least this, a line of
    /// this category or SKU, the member's Nth purchase at the partner this month.
    pub min_purchase: Option<Decimal>,
    pub category: Option<String>,
    pub sku: Option<String>,
    pub nth_purchase_in_month: Option<i32>,
    /// The reward, exactly one kind: a multiplier on the base points (2: double points;
    /// more than 1, at most 10, 3 decimals), fixed `points`, or `points` per unit of
    /// `perUnitSku` among the lines.
    pub multiplier: Option<Decimal>,
    pub points: Option<i32>,
    pub per_unit_sku: Option<String>,
    /// Points one member may get from the campaign in all.
    pub member_cap: Option<i32>,
    /// Points the campaign may give in all; concurrent earns never pass it.
    pub budget: Option<i32>,
    /// Omitted: the bonus adds to others. Given: of the campaigns of this group an earn
    /// qualifies for, only the largest bonus applies.
    pub stacking_group: Option<String>,
}

impl CampaignInput {
    pub(crate) fn settings(self) -> Result<Settings, AppError> {
        let id = |v: &Option<ID>, what| v.as_ref().map(|id| parse_id(id, what)).transpose();
        Ok(Settings {
            partner_id: id(&self.partner_id, "partnerId")?,
            sponsor_partner_id: match (
                id(&self.sponsor_partner_id, "sponsorPartnerId")?,
                self.sponsored_by_coalition,
            ) {
                (Some(_), Some(true)) => {
                    return Err(AppError::bad_input(
                        "give sponsorPartnerId or sponsoredByCoalition, not both",
                    ));
                }
                (None, Some(true)) => Some(COALITION_PARTNER_ID),
                (named, _) => named,
            },
            name: self.name,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            schedule: self
                .schedule
                .unwrap_or_default()
                .iter()
                .map(ScheduleSlot::to_slot)
                .collect::<Result<_, _>>()?,
            time_zone: self.time_zone,
            audience: self.audience.as_str().to_owned(),
            audience_tier_level: self.audience_tier_level,
            min_purchase: self.min_purchase.map(|d| d.0),
            category: self.category,
            sku: self.sku,
            nth_purchase_in_month: self.nth_purchase_in_month,
            multiplier: self.multiplier.map(|d| d.0),
            points: self.points.map(i64::from),
            per_unit_sku: self.per_unit_sku,
            member_cap: self.member_cap.map(i64::from),
            budget: self.budget.map(i64::from),
            stacking_group: self.stacking_group,
        })
    }
}
