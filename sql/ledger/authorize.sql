-- Two-phase redemption, first phase: reserve points (and their lots) until p_expires_at.
CREATE OR REPLACE FUNCTION ledger_authorize(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid,
    p_member_id uuid, p_member_number text, p_customer_id text, p_presence_code text,
    p_points bigint, p_reference text, p_expires_at timestamptz, p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_refusal text;
    v_entry uuid := hub_uuid_v7();
    v_hold uuid := hub_uuid_v7();
    v_earlier uuid;
    v_partner partners%ROWTYPE;
    v_member uuid;
    v_balance member_balances%ROWTYPE;
    v_left bigint := p_points;
    v_take bigint;
    v_seq int := 0;
    v_lot record;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_answer(v_earlier, true);
    END IF;
    v_partner := hub_active_partner(p_partner_id);
    IF NOT v_partner.accepts_redemptions THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'this partner does not accept redemptions'));
    END IF;
    v_member := hub_find_member(p_partner_id, p_member_id, p_member_number, p_customer_id);
    PERFORM hub_lock_member(v_member);
    PERFORM hub_require_presence(p_partner_id, v_member, p_presence_code, p_now);
    PERFORM hub_expire_member_lots(v_member, p_now);
    UPDATE member_balances SET available = available - p_points, held = held + p_points, updated_at = p_now
    WHERE member_id = v_member AND available >= p_points AND debt = 0
    RETURNING * INTO v_balance;
    IF NOT FOUND THEN
        SELECT * INTO v_balance FROM member_balances WHERE member_id = v_member;
        PERFORM hub_refuse('INSUFFICIENT_POINTS', jsonb_build_object(
            'available', v_balance.available, 'debt', v_balance.debt, 'requested', p_points));
    END IF;
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, hold_id, reference, created_at)
    VALUES (v_entry, 'HOLD', v_member, p_partner_id, p_points, v_hold, p_reference, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    VALUES (v_entry, v_balance.available_account, -p_points), (v_entry, v_balance.held_account, p_points);
    INSERT INTO holds (id, member_id, partner_id, points, status, reference, expires_at, authorize_entry_id, created_at)
    VALUES (v_hold, v_member, p_partner_id, p_points, 'PENDING', p_reference, p_expires_at, v_entry, p_now);
    FOR v_lot IN
        SELECT id, remaining - reserved AS free FROM lots
        WHERE member_id = v_member AND remaining > reserved
        ORDER BY expires_at, earned_at, id
    LOOP
        EXIT WHEN v_left = 0;
        v_take := least(v_left, v_lot.free);
        v_seq := v_seq + 1;
        UPDATE lots SET reserved = reserved + v_take WHERE id = v_lot.id;
        INSERT INTO hold_lots (hold_id, lot_id, points, seq) VALUES (v_hold, v_lot.id, v_take, v_seq);
        v_left := v_left - v_take;
    END LOOP;
    RETURN hub_answer(v_entry, false);
EXCEPTION WHEN SQLSTATE 'HR001' THEN
    GET STACKED DIAGNOSTICS v_refusal = PG_EXCEPTION_DETAIL;
    RETURN jsonb_build_object('refused', hub_presence_refused(v_refusal::jsonb));
END $$;
