-- Development databases are recreated, not downgraded; this undoes the tables only.
DROP TABLE IF EXISTS offer_activations, campaign_member_awards, campaigns;
ALTER TYPE hub_batch_row DROP ATTRIBUTE IF EXISTS with_bonuses;
ALTER TABLE journal_entries DROP COLUMN IF EXISTS campaign_id;
ALTER TABLE members DROP COLUMN IF EXISTS birth_date;
