-- Lots: taking points first-expiring-first, and expiring a member's past-due lots.

-- Takes up to p_points free (unreserved) points from the member's lots,
-- first-expiring-first (p_first_lot before all others), recording each slice. Returns the
-- points taken. Past-due lots count: until the expiry turns them into breakage their points
-- are in the wallet (redemptions expire them first; a debt repaid while they wait takes
-- them like any other).
CREATE OR REPLACE FUNCTION hub_take_from_lots(p_member_id uuid, p_entry_id uuid, p_points bigint,
                                   p_kind text, p_redeeming_partner uuid, p_now timestamptz,
                                   p_first_lot uuid DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_left bigint := p_points;
    v_take bigint;
    v_lot record;
BEGIN
    FOR v_lot IN
        SELECT id, remaining - reserved AS free FROM lots
        WHERE member_id = p_member_id AND remaining > reserved
        ORDER BY (id = p_first_lot) IS TRUE DESC, expires_at, earned_at, id
    LOOP
        EXIT WHEN v_left = 0;
        v_take := least(v_left, v_lot.free);
        UPDATE lots SET remaining = remaining - v_take WHERE id = v_lot.id;
        INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, redeeming_partner_id, created_at)
        VALUES (p_entry_id, v_lot.id, v_take, p_kind, p_redeeming_partner, p_now);
        v_left := v_left - v_take;
    END LOOP;
    RETURN p_points - v_left;
END $$;

-- Brings the member's lots up to date before a spend (member locked by the caller): pending
-- points whose return window has ended are released (ledger/pending.sql), then past-due lot
-- points expire into breakage. Returns the points expired; writes one EXPIRY entry when
-- there were any.
CREATE OR REPLACE FUNCTION hub_expire_member_lots(p_member_id uuid, p_now timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_total bigint;
    v_entry uuid;
BEGIN
    PERFORM hub_release_member_pending(p_member_id, p_now);
    SELECT coalesce(sum(remaining - reserved), 0) INTO v_total FROM lots
    WHERE member_id = p_member_id AND remaining > reserved AND expires_at <= p_now;
    IF v_total = 0 THEN
        RETURN 0;
    END IF;
    v_entry := hub_uuid_v7();
    UPDATE member_balances SET available = available - v_total, updated_at = p_now
    WHERE member_id = p_member_id;
    INSERT INTO journal_entries (id, kind, member_id, points, created_at)
    VALUES (v_entry, 'EXPIRY', p_member_id, v_total, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT v_entry, b.available_account, -v_total FROM member_balances b WHERE b.member_id = p_member_id
    UNION ALL
    SELECT v_entry, a.id, v_total FROM accounts a WHERE a.kind = 'COALITION_BREAKAGE';
    INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, created_at)
    SELECT v_entry, id, remaining - reserved, 'EXPIRY', p_now FROM lots
    WHERE member_id = p_member_id AND remaining > reserved AND expires_at <= p_now;
    UPDATE lots SET remaining = reserved
    WHERE member_id = p_member_id AND remaining > reserved AND expires_at <= p_now;
    RETURN v_total;
END $$;
