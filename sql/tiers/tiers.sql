-- Tiers: levels by points earned in a rolling 12 months, with an earn multiplier that
-- opted-in partners apply (the rule is shared with src/domain/tiers.rs).

-- Points that count for tiers, by UTC day: every earn on the day its points became
-- available (booked, or released at the end of a return window: ledger/pending.sql), less
-- what its issuer later clawed back (counted on that same day, so a refund cannot move
-- points in time; a reversal of points still pending takes back nothing counted).
-- Campaign bonuses, and their reversals, do not count: status is earned by purchases.
-- A day's points count on that day and the 365 days after it (src/domain/tiers.rs).
CREATE OR REPLACE FUNCTION hub_tier_earn_days(p_member_id uuid)
RETURNS TABLE (day date, points bigint) LANGUAGE sql STABLE AS $$
    SELECT (x.at AT TIME ZONE 'UTC')::date, sum(x.points)::bigint
    FROM (SELECT e.created_at AS at, e.points FROM journal_entries e
          WHERE e.member_id = p_member_id AND e.kind = 'ISSUE' AND e.available_at IS NULL
          UNION ALL
          SELECT r.created_at, r.points FROM journal_entries r JOIN journal_entries o ON o.id = r.related_entry_id
          WHERE r.member_id = p_member_id AND r.kind = 'RELEASE' AND o.kind = 'ISSUE'
          UNION ALL
          SELECT coalesce(r.created_at, o.created_at), -e.points
          FROM journal_entries e JOIN journal_entries o ON o.id = e.reverses_entry_id
          LEFT JOIN journal_entries r ON r.related_entry_id = o.id AND r.kind = 'RELEASE'
          WHERE e.member_id = p_member_id AND e.kind = 'REVERSE_ISSUE' AND e.available_at IS NULL
            AND o.kind = 'ISSUE') x
    GROUP BY 1
    ORDER BY 1
$$;

-- The earn multiplier of the member's tier at p_now.
CREATE OR REPLACE FUNCTION hub_tier_multiplier(p_member_id uuid, p_now timestamptz) RETURNS numeric
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_points bigint;
    v_multiplier numeric;
BEGIN
    SELECT coalesce(sum(d.points), 0) INTO v_points FROM hub_tier_earn_days(p_member_id) d
    WHERE d.day >= (p_now AT TIME ZONE 'UTC')::date - 365;
    SELECT t.earn_multiplier INTO v_multiplier FROM tiers t
    WHERE t.min_points <= v_points ORDER BY t.min_points DESC LIMIT 1;
    RETURN coalesce(v_multiplier, 1);
END $$;

-- The name of the member's tier at p_now (webhooks/jobs.sql watches it change).
CREATE OR REPLACE FUNCTION hub_tier_name(p_member_id uuid, p_now timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT t.name FROM tiers t
    WHERE t.min_points <= (SELECT coalesce(sum(d.points), 0) FROM hub_tier_earn_days(p_member_id) d
                           WHERE d.day >= (p_now AT TIME ZONE 'UTC')::date - 365)
    ORDER BY t.min_points DESC LIMIT 1
$$;
