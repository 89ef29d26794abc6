-- Campaigns: bonus points on top of an earn (issue 23).

-- The optional birth date on a member's profile (the member and the operator only).
ALTER TABLE members ADD COLUMN birth_date date;

CREATE TABLE campaigns (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
    -- the partner whose earns it applies to; NULL: every partner's (operator only)
    partner_id uuid REFERENCES partners (id),
    -- who pays the bonus: its lots' issuer (a partner; the coalition itself is not a sponsor yet)
    sponsor_partner_id uuid NOT NULL REFERENCES partners (id),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    -- weekly slots [{"day": "SATURDAY", "from_minute": 0, "to_minute": 1440}], [] for always
    schedule jsonb NOT NULL DEFAULT '[]',
    time_zone text NOT NULL DEFAULT 'UTC',
    audience text NOT NULL CHECK (audience IN ('EVERYONE', 'TIER', 'ACTIVATED', 'NEW_TO_PARTNER', 'BIRTHDAY_MONTH')),
    audience_tier_level integer CHECK (audience_tier_level >= 0),
    min_purchase numeric(20, 4) CHECK (min_purchase > 0),
    category text CHECK (char_length(category) BETWEEN 1 AND 100),
    sku text CHECK (char_length(sku) BETWEEN 1 AND 100),
    nth_purchase_in_month integer CHECK (nth_purchase_in_month BETWEEN 1 AND 1000),
    reward_kind text NOT NULL CHECK (reward_kind IN ('MULTIPLIER', 'FIXED', 'PER_UNIT')),
    reward_multiplier numeric(6, 3) CHECK (reward_multiplier > 1 AND reward_multiplier <= 10),
    reward_points bigint CHECK (reward_points BETWEEN 1 AND 1000000000),
    reward_sku text CHECK (char_length(reward_sku) BETWEEN 1 AND 100),
    -- caps: points per member over the campaign; points for the whole campaign
    member_cap bigint CHECK (member_cap > 0),
    budget bigint CHECK (budget >= 0),
    -- points given so far (counted against the budget under this row's lock)
    awarded bigint NOT NULL DEFAULT 0 CHECK (awarded >= 0 AND (budget IS NULL OR awarded <= budget)),
    stacking_group text CHECK (char_length(stacking_group) BETWEEN 1 AND 60),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    ended_at timestamptz,
    CONSTRAINT campaigns_window CHECK (ends_at > starts_at),
    CONSTRAINT campaigns_tier CHECK ((audience = 'TIER') = (audience_tier_level IS NOT NULL)),
    CONSTRAINT campaigns_reward CHECK (
        CASE reward_kind
            WHEN 'MULTIPLIER' THEN reward_multiplier IS NOT NULL AND reward_points IS NULL AND reward_sku IS NULL
            WHEN 'FIXED' THEN reward_points IS NOT NULL AND reward_multiplier IS NULL AND reward_sku IS NULL
            ELSE reward_points IS NOT NULL AND reward_sku IS NOT NULL AND reward_multiplier IS NULL
        END)
);
CREATE INDEX campaigns_partner ON campaigns (partner_id, id);
CREATE INDEX campaigns_live ON campaigns (ends_at) WHERE ended_at IS NULL;

-- Points each member got from a campaign (its member cap), under the member's lock.
CREATE TABLE campaign_member_awards (
    campaign_id uuid NOT NULL REFERENCES campaigns (id),
    member_id uuid NOT NULL REFERENCES members (id),
    points bigint NOT NULL CHECK (points > 0),
    PRIMARY KEY (campaign_id, member_id)
);

-- Offers a member switched on in its app (audience ACTIVATED).
CREATE TABLE offer_activations (
    campaign_id uuid NOT NULL REFERENCES campaigns (id),
    member_id uuid NOT NULL REFERENCES members (id),
    activated_at timestamptz NOT NULL,
    PRIMARY KEY (member_id, campaign_id)
);

-- A bonus is an entry of its own (kind BONUS, the sponsor as its partner, the earn as its
-- related entry), so that its lot has the sponsor as issuer and settlement attributes it.
ALTER TABLE journal_entries ADD COLUMN campaign_id uuid;
CREATE INDEX journal_entries_related ON journal_entries (related_entry_id) WHERE related_entry_id IS NOT NULL;

CREATE OR REPLACE FUNCTION hub_is_entry_kind(p_kind text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN p_kind IN ('ISSUE', 'REDEEM', 'HOLD', 'CAPTURE', 'VOID', 'HOLD_EXPIRY',
                      'REVERSE_ISSUE', 'REVERSE_REDEEM', 'EXPIRY', 'TRANSFER_OUT', 'TRANSFER_IN',
                      'BONUS');
END $$;

CREATE OR REPLACE FUNCTION hub_is_settlement_kind(p_kind text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN p_kind IN ('REDEMPTION', 'REDEMPTION_REVERSAL', 'ISSUE', 'ISSUE_REVERSAL', 'EXPIRY',
                      'DEBT_REPAYMENT', 'BONUS_ISSUE');
END $$;

-- The set path leaves earns with bonuses to the one-by-one path.
ALTER TYPE hub_batch_row ADD ATTRIBUTE with_bonuses boolean;
