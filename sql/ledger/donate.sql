-- Donations: a member's points given to a charity partner, a redemption there (the points'
-- issuers owe the charity through settlement).

-- A member's donation to a charity, at most p_daily_limit points per UTC day over all
-- charities (counted under the member's lock, so concurrent donations cannot pass it).
CREATE OR REPLACE FUNCTION ledger_donate(
    p_caller text, p_key text, p_fingerprint bytea, p_member_id uuid, p_charity_id uuid,
    p_points bigint, p_daily_limit bigint, p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_refusal text;
    v_entry uuid := hub_uuid_v7();
    v_earlier uuid;
    v_charity partners%ROWTYPE;
    v_today bigint;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_answer(v_earlier, true);
    END IF;
    v_charity := hub_active_partner(p_charity_id);
    IF v_charity.category <> 'CHARITY' OR NOT v_charity.accepts_redemptions THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'this partner does not take donations'));
    END IF;
    PERFORM hub_lock_member(p_member_id);
    SELECT coalesce(sum(e.points), 0) INTO v_today
    FROM journal_entries e JOIN partners p ON p.id = e.partner_id
    WHERE e.member_id = p_member_id AND e.kind = 'REDEEM' AND p.category = 'CHARITY'
      AND e.created_at >= date_trunc('day', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    IF v_today + p_points > p_daily_limit THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', format('this donation would pass the daily donation limit of %s points (%s donated today)',
                           p_daily_limit, v_today)));
    END IF;
    PERFORM hub_redeem_points(p_member_id, p_charity_id, p_points, 'donation', v_entry, p_now);
    RETURN hub_answer(v_entry, false);
EXCEPTION WHEN SQLSTATE 'HR001' THEN
    GET STACKED DIAGNOSTICS v_refusal = PG_EXCEPTION_DETAIL;
    RETURN jsonb_build_object('refused', v_refusal::jsonb);
END $$;
