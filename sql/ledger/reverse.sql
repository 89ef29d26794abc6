-- Refunds: the partner reverses all or part of its own earn (a clawback: the points come
-- back even if spent, leaving a debt) or its own redemption (the points return to the lots
-- they came from).

-- Checks what may be reversed and books the reversal; p_points NULL reverses what is left.
CREATE OR REPLACE FUNCTION ledger_reverse(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid,
    p_original_id uuid, p_points bigint, p_reference text, p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_refusal text;
    v_entry uuid := hub_uuid_v7();
    v_earlier uuid;
    v_orig journal_entries%ROWTYPE;
    v_balance member_balances%ROWTYPE;
    v_done bigint;
    v_points bigint;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_answer(v_earlier, true);
    END IF;
    SELECT * INTO v_orig FROM journal_entries WHERE id = p_original_id;
    IF NOT FOUND OR (p_partner_id IS NOT NULL AND v_orig.partner_id IS DISTINCT FROM p_partner_id) THEN
        PERFORM hub_refuse('NOT_FOUND', jsonb_build_object('what', 'entry'));
    END IF;
    IF v_orig.kind NOT IN ('ISSUE', 'REDEEM', 'CAPTURE') THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'only earns and redemptions can be reversed'));
    END IF;
    PERFORM hub_active_partner(v_orig.partner_id);
    v_balance := hub_lock_member(v_orig.member_id);
    PERFORM hub_expire_member_lots(v_orig.member_id, p_now);
    SELECT coalesce(sum(points), 0) INTO v_done FROM journal_entries WHERE reverses_entry_id = v_orig.id;
    -- A capture's points are the hold's; what was redeemed is what was captured.
    IF v_orig.kind = 'CAPTURE' THEN
        SELECT captured_points INTO v_orig.points FROM holds WHERE id = v_orig.hold_id;
    END IF;
    IF v_done >= v_orig.points THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'this entry is already fully reversed'));
    END IF;
    v_points := coalesce(p_points, v_orig.points - v_done);
    IF v_points > v_orig.points - v_done THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', format('only %s points of this entry are left to reverse', v_orig.points - v_done)));
    END IF;
    SELECT * INTO v_balance FROM member_balances WHERE member_id = v_orig.member_id;
    IF v_orig.kind = 'ISSUE' THEN
        PERFORM hub_reverse_issue(v_orig, v_balance, v_entry, v_points, p_reference, p_now);
        PERFORM hub_reverse_bonuses(v_orig, v_done + v_points, p_reference, p_now);
    ELSE
        PERFORM hub_reverse_redemption(v_orig, v_balance, v_entry, v_points, p_reference, p_now);
    END IF;
    RETURN hub_answer(v_entry, false);
EXCEPTION WHEN SQLSTATE 'HR001' THEN
    GET STACKED DIAGNOSTICS v_refusal = PG_EXCEPTION_DETAIL;
    RETURN jsonb_build_object('refused', v_refusal::jsonb);
END $$;

-- A clawback of p_points of the earn p_orig (member locked, p_balance its balance): taken
-- from what is available, the rest becomes a debt; the points leave the original lot
-- first, then the other lots first-expiring-first. (Pending points are cancelled instead.)
CREATE OR REPLACE FUNCTION hub_reverse_issue(
    p_orig journal_entries, p_balance member_balances, p_entry uuid, p_points bigint,
    p_reference text, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_from_available bigint := least(p_balance.available, p_points);
BEGIN
    -- Inside its return window, the earn's points are still pending: they are cancelled
    -- there, and no debt is left.
    IF p_orig.available_at IS NOT NULL
       AND hub_cancel_pending(p_orig, p_entry, p_points, p_reference, p_now) THEN
        RETURN;
    END IF;
    UPDATE member_balances
    SET available = available - v_from_available,
        debt = debt + p_points - v_from_available,
        -- a bonus never counted as earned (tiers count purchases), nor does its reversal
        lifetime_earned = CASE WHEN p_orig.kind = 'ISSUE' THEN greatest(lifetime_earned - p_points, 0)
                               ELSE lifetime_earned END,
        updated_at = p_now
    WHERE member_id = p_orig.member_id;
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reverses_entry_id, reference, created_at)
    VALUES (p_entry, 'REVERSE_ISSUE', p_orig.member_id, p_orig.partner_id, p_points, p_orig.id, p_reference, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT p_entry, p_balance.available_account, -p_points
    UNION ALL
    SELECT p_entry, pa.issuance_account, p_points FROM partner_accounts pa WHERE pa.partner_id = p_orig.partner_id;
    PERFORM hub_take_from_lots(p_orig.member_id, p_entry, v_from_available, 'CLAWBACK', NULL, p_now, p_orig.id);
END $$;

-- The campaign bonuses of the earn p_orig follow its reversal: once p_reversed of its
-- points are reversed in all, each bonus is reversed to the same share, rounded down (all
-- of it when the whole earn is). Each bonus's reversal is an entry of its own against the
-- bonus's sponsor, taken from the bonus's lot first, a debt for what was already spent.
CREATE OR REPLACE FUNCTION hub_reverse_bonuses(
    p_orig journal_entries, p_reversed bigint, p_reference text, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_bonus record;
    v_balance member_balances%ROWTYPE;
BEGIN
    FOR v_bonus IN
        SELECT b AS entry,
               (div(b.points::numeric * p_reversed, p_orig.points)
                 - coalesce((SELECT sum(r.points) FROM journal_entries r WHERE r.reverses_entry_id = b.id), 0)
               )::bigint AS owed
        FROM journal_entries b
        WHERE b.related_entry_id = p_orig.id AND b.kind = 'BONUS'
        ORDER BY b.id
    LOOP
        CONTINUE WHEN v_bonus.owed <= 0;
        SELECT * INTO v_balance FROM member_balances WHERE member_id = p_orig.member_id;
        PERFORM hub_reverse_issue(v_bonus.entry, v_balance, hub_uuid_v7(), v_bonus.owed, p_reference, p_now);
    END LOOP;
END $$;

-- A refund of p_points of the redemption (or capture) p_orig (member locked, p_balance its
-- balance): the points repay a debt first, the rest becomes available again, and they go
-- back into the lots the redemption took them from, latest-expiring first.
CREATE OR REPLACE FUNCTION hub_reverse_redemption(
    p_orig journal_entries, p_balance member_balances, p_entry uuid, p_points bigint,
    p_reference text, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_repaid bigint;
    v_left bigint := p_points;
    v_give bigint;
    v_slice record;
BEGIN
    v_repaid := hub_credit_member(p_orig.member_id, p_points, false, p_now);
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reverses_entry_id, reference, debt_repaid, created_at)
    VALUES (p_entry, 'REVERSE_REDEEM', p_orig.member_id, p_orig.partner_id, p_points, p_orig.id, p_reference, v_repaid, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT p_entry, pa.redemption_account, -p_points FROM partner_accounts pa WHERE pa.partner_id = p_orig.partner_id
    UNION ALL
    SELECT p_entry, p_balance.available_account, p_points;
    FOR v_slice IN
        SELECT c.lot_id, sum(c.points) AS net
        FROM lot_consumptions c JOIN lots l ON l.id = c.lot_id
        WHERE c.entry_id = p_orig.id
           OR c.entry_id IN (SELECT id FROM journal_entries WHERE reverses_entry_id = p_orig.id)
        GROUP BY c.lot_id, l.expires_at, l.earned_at
        HAVING sum(c.points) > 0
        ORDER BY l.expires_at DESC, l.earned_at DESC, c.lot_id DESC
    LOOP
        EXIT WHEN v_left = 0;
        v_give := least(v_left, v_slice.net);
        UPDATE lots SET remaining = remaining + v_give WHERE id = v_slice.lot_id;
        INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, redeeming_partner_id, created_at)
        VALUES (p_entry, v_slice.lot_id, -v_give, 'RESTORE', p_orig.partner_id, p_now);
        v_left := v_left - v_give;
    END LOOP;
    IF v_left <> 0 THEN
        RAISE EXCEPTION 'HUB:INTERNAL:redemption % has no lot slices for % points', p_orig.id, v_left;
    END IF;
    -- Points that repaid a debt leave the lots again.
    IF v_repaid > 0 THEN
        PERFORM hub_take_from_lots(p_orig.member_id, p_entry, v_repaid, 'CLAWBACK', NULL, p_now);
    END IF;
END $$;
