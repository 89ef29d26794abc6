-- Spend: points redeemed at the partner, taken from the member's lots
-- first-expiring-first.

-- The redemption itself, for ledger_redeem and ledger_donate (member locked by the caller):
-- past-due lots expire first, then the balance is checked and taken in one UPDATE. Returns
-- the balance after it.
CREATE OR REPLACE FUNCTION hub_redeem_points(p_member_id uuid, p_partner_id uuid, p_points bigint,
                                  p_reference text, p_entry uuid, p_now timestamptz)
RETURNS member_balances LANGUAGE plpgsql AS $$
DECLARE
    v_balance member_balances%ROWTYPE;
BEGIN
    PERFORM hub_expire_member_lots(p_member_id, p_now);
    UPDATE member_balances SET available = available - p_points, updated_at = p_now
    WHERE member_id = p_member_id AND available >= p_points AND debt = 0
    RETURNING * INTO v_balance;
    IF NOT FOUND THEN
        SELECT * INTO v_balance FROM member_balances WHERE member_id = p_member_id;
        PERFORM hub_refuse('INSUFFICIENT_POINTS', jsonb_build_object(
            'available', v_balance.available, 'debt', v_balance.debt, 'requested', p_points));
    END IF;
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reference, created_at)
    VALUES (p_entry, 'REDEEM', p_member_id, p_partner_id, p_points, p_reference, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT p_entry, v_balance.available_account, -p_points
    UNION ALL
    SELECT p_entry, pa.redemption_account, p_points FROM partner_accounts pa WHERE pa.partner_id = p_partner_id;
    PERFORM hub_take_from_lots(p_member_id, p_entry, p_points, 'REDEEM', p_partner_id, p_now);
    -- Taking from lots leaves the balance as the UPDATE made it.
    RETURN v_balance;
END $$;

-- A booking step, as ledger_issue (ledger/issue.sql): called inside ledger_batch's
-- subtransaction for the operation; returns the hub_result of the entry and raises refusals.
CREATE OR REPLACE FUNCTION ledger_redeem(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid,
    p_member_id uuid, p_member_number text, p_customer_id text, p_presence_code text,
    p_points bigint, p_reference text, p_now timestamptz)
RETURNS hub_result LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid := hub_uuid_v7();
    v_earlier uuid;
    v_partner partners%ROWTYPE;
    v_member uuid;
    v_balance member_balances%ROWTYPE;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_result_for(v_earlier, true);
    END IF;
    v_partner := hub_active_partner(p_partner_id);
    IF NOT v_partner.accepts_redemptions THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'this partner does not accept redemptions'));
    END IF;
    v_member := hub_find_member(p_partner_id, p_member_id, p_member_number, p_customer_id);
    PERFORM hub_lock_member(v_member);
    PERFORM hub_require_presence(p_partner_id, v_member, p_presence_code, p_now);
    v_balance := hub_redeem_points(v_member, p_partner_id, p_points, p_reference, v_entry, p_now);
    RETURN (v_entry, NULL, v_member, v_balance.available, v_balance.held, v_balance.debt,
            v_balance.lifetime_earned, false, v_balance.pending)::hub_result;
END $$;
