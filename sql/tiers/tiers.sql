-- Tiers: levels by points earned in a rolling 12 months, with an earn multiplier that
-- opted-in partners apply (the rule is shared with src/domain/tiers.rs).

-- Points that count for tiers, by UTC day: every earn on its day, less what its issuer
-- later clawed back (counted on the earn's day, so a refund cannot move points in time).
-- Campaign bonuses, and their reversals, do not count: status is earned by purchases.
-- A day's points count on that day and the 365 days after it (src/domain/tiers.rs).
CREATE OR REPLACE FUNCTION hub_tier_earn_days(p_member_id uuid)
RETURNS TABLE (day date, points bigint) LANGUAGE sql STABLE AS $$
    SELECT (coalesce(o.created_at, e.created_at) AT TIME ZONE 'UTC')::date,
           sum(CASE e.kind WHEN 'ISSUE' THEN e.points ELSE -e.points END)::bigint
    FROM journal_entries e LEFT JOIN journal_entries o ON o.id = e.reverses_entry_id
    WHERE e.member_id = p_member_id AND (e.kind = 'ISSUE' OR (e.kind = 'REVERSE_ISSUE' AND o.kind = 'ISSUE'))
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
