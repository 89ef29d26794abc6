-- The end of a hold: capture, void or timeout.

-- Settles a pending hold (member and hold locked by the caller): p_capture points are
-- redeemed at the hold's partner, the rest goes back to the member (repaying any debt
-- first). Writes the CAPTURE, VOID or HOLD_EXPIRY entry p_entry_id.
CREATE OR REPLACE FUNCTION hub_release_hold(p_hold_id uuid, p_entry_id uuid, p_capture bigint, p_kind text, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_hold holds%ROWTYPE;
    v_balance member_balances%ROWTYPE;
    v_release bigint;
    v_repaid bigint := 0;
    v_left bigint;
    v_take bigint;
    v_slice record;
BEGIN
    SELECT * INTO v_hold FROM holds WHERE id = p_hold_id;
    v_release := v_hold.points - p_capture;
    UPDATE member_balances SET held = held - v_hold.points, updated_at = p_now
    WHERE member_id = v_hold.member_id
    RETURNING * INTO v_balance;
    IF v_release > 0 THEN
        v_repaid := hub_credit_member(v_hold.member_id, v_release, false, p_now);
    END IF;
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, hold_id, debt_repaid, created_at)
    VALUES (p_entry_id, p_kind, v_hold.member_id, v_hold.partner_id, v_hold.points, p_hold_id, v_repaid, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT p_entry_id, v_balance.held_account, -v_hold.points
    UNION ALL
    SELECT p_entry_id, pa.redemption_account, p_capture FROM partner_accounts pa
    WHERE pa.partner_id = v_hold.partner_id AND p_capture > 0
    UNION ALL
    SELECT p_entry_id, v_balance.available_account, v_release WHERE v_release > 0;
    -- The reserved lot slices, in the order they were reserved: the first p_capture points
    -- are redeemed, the rest are released.
    v_left := p_capture;
    FOR v_slice IN SELECT lot_id, points FROM hold_lots WHERE hold_id = p_hold_id ORDER BY seq LOOP
        v_take := least(v_left, v_slice.points);
        UPDATE lots SET reserved = reserved - v_slice.points, remaining = remaining - v_take
        WHERE id = v_slice.lot_id;
        IF v_take > 0 THEN
            INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, redeeming_partner_id, created_at)
            VALUES (p_entry_id, v_slice.lot_id, v_take, 'CAPTURE', v_hold.partner_id, p_now);
        END IF;
        v_left := v_left - v_take;
    END LOOP;
    IF v_repaid > 0 THEN
        PERFORM hub_take_from_lots(v_hold.member_id, p_entry_id, v_repaid, 'CLAWBACK', NULL, p_now);
    END IF;
    UPDATE holds
    SET status = CASE p_kind WHEN 'CAPTURE' THEN 'CAPTURED' WHEN 'VOID' THEN 'VOIDED' ELSE 'EXPIRED' END,
        captured_points = p_capture, final_entry_id = p_entry_id, finalized_at = p_now
    WHERE id = p_hold_id;
END $$;
