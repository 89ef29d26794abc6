-- Donations: a member gives points to a charity partner (`donatePoints`). A donation is a
-- redemption at the charity, so the issuers of the points owe the charity through
-- settlement like any redemption. The spending core of ledger_redeem moves into
-- hub_redeem_points so that both use it; a donor needs no link to the charity.

-- Spends p_points of the member (locked by the caller) at the partner as entry p_entry:
-- past-due lots expire first, then the balance, the entry, its postings and the lot slices.
CREATE FUNCTION hub_redeem_points(p_member_id uuid, p_partner_id uuid, p_points bigint,
                                  p_reference text, p_entry uuid, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_balance member_balances%ROWTYPE;
BEGIN
    PERFORM hub_expire_member_lots(p_member_id, p_now);
    UPDATE member_balances SET available = available - p_points, updated_at = p_now
    WHERE member_id = p_member_id AND available >= p_points AND debt = 0
    RETURNING * INTO v_balance;
    IF NOT FOUND THEN
        SELECT * INTO v_balance FROM member_balances WHERE member_id = p_member_id;
        RAISE EXCEPTION 'HUB:INSUFFICIENT_POINTS:%:%', v_balance.available, v_balance.debt;
    END IF;
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reference, created_at)
    VALUES (p_entry, 'REDEEM', p_member_id, p_partner_id, p_points, p_reference, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT p_entry, v_balance.available_account, -p_points
    UNION ALL
    SELECT p_entry, pa.redemption_account, p_points FROM partner_accounts pa WHERE pa.partner_id = p_partner_id;
    PERFORM hub_take_from_lots(p_member_id, p_entry, p_points, 'REDEEM', p_partner_id, p_now);
END $$;

CREATE OR REPLACE FUNCTION ledger_redeem(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid,
    p_member_id uuid, p_member_number text, p_customer_id text,
    p_points bigint, p_reference text, p_now timestamptz)
RETURNS hub_result LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid := hub_uuid_v7();
    v_earlier uuid;
    v_partner partners%ROWTYPE;
    v_member uuid;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_result_for(v_earlier, true);
    END IF;
    v_partner := hub_active_partner(p_partner_id);
    IF NOT v_partner.accepts_redemptions THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this partner does not accept redemptions';
    END IF;
    v_member := hub_find_member(p_partner_id, p_member_id, p_member_number, p_customer_id, true);
    PERFORM hub_lock_member(v_member);
    PERFORM hub_redeem_points(v_member, p_partner_id, p_points, p_reference, v_entry, p_now);
    RETURN hub_result_for(v_entry, false);
END $$;

-- A member's donation to a charity, at most p_daily_limit points per UTC day over all
-- charities (counted under the member's lock, so concurrent donations cannot pass it).
CREATE FUNCTION ledger_donate(
    p_caller text, p_key text, p_fingerprint bytea, p_member_id uuid, p_charity_id uuid,
    p_points bigint, p_daily_limit bigint, p_now timestamptz)
RETURNS hub_result LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid := hub_uuid_v7();
    v_earlier uuid;
    v_charity partners%ROWTYPE;
    v_today bigint;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_result_for(v_earlier, true);
    END IF;
    v_charity := hub_active_partner(p_charity_id);
    IF v_charity.category <> 'CHARITY' OR NOT v_charity.accepts_redemptions THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this partner does not take donations';
    END IF;
    PERFORM hub_lock_member(p_member_id);
    SELECT coalesce(sum(e.points), 0) INTO v_today
    FROM journal_entries e JOIN partners p ON p.id = e.partner_id
    WHERE e.member_id = p_member_id AND e.kind = 'REDEEM' AND p.category = 'CHARITY'
      AND e.created_at >= date_trunc('day', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    IF v_today + p_points > p_daily_limit THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this donation would pass the daily donation limit of % points (% donated today)',
            p_daily_limit, v_today;
    END IF;
    PERFORM hub_redeem_points(p_member_id, p_charity_id, p_points, 'donation', v_entry, p_now);
    RETURN hub_result_for(v_entry, false);
END $$;
