-- Family transfers: points moved between linked members, lot by lot, so that every point
-- keeps its issuer. A transfer is two entries through the coalition's clearing account,
-- one per member, so each member's history and balance events stay single-member:
-- TRANSFER_OUT (sender -> clearing) and TRANSFER_IN (clearing -> recipient), pointing at
-- each other.

-- A member's transfer to a linked family member, at most p_daily_points points and
-- p_daily_count transfers per UTC day (counted under the sender's lock). Answers the
-- sender's result, with the recipient's as "recipient" (ledger/answers.sql).
CREATE OR REPLACE FUNCTION ledger_transfer(
    p_caller text, p_key text, p_fingerprint bytea, p_member_id uuid, p_recipient_number text,
    p_points bigint, p_daily_points bigint, p_daily_count int, p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_refusal text;
    v_out uuid := hub_uuid_v7();
    v_in uuid := hub_uuid_v7();
    v_earlier uuid;
    v_recipient uuid;
    v_sender member_balances%ROWTYPE;
    v_receiver member_balances%ROWTYPE;
    v_clearing bigint;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_out);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_transfer_answer(v_earlier,
                                   (SELECT related_entry_id FROM journal_entries WHERE id = v_earlier), true);
    END IF;
    SELECT id INTO v_recipient FROM members WHERE member_number = p_recipient_number;
    IF v_recipient = p_member_id THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'points cannot be transferred to yourself'));
    END IF;
    -- A number no member has is refused as one not linked: the answer does not tell
    -- which card numbers exist.
    IF v_recipient IS NULL
       OR NOT EXISTS (SELECT 1 FROM family_links WHERE member_id = p_member_id AND linked_member_id = v_recipient)
       OR NOT EXISTS (SELECT 1 FROM family_links WHERE member_id = v_recipient AND linked_member_id = p_member_id) THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'points can only be transferred to a linked family member'));
    END IF;
    -- Both members locked, in one order, so that opposite transfers cannot deadlock.
    PERFORM hub_lock_member(least(p_member_id, v_recipient));
    PERFORM hub_lock_member(greatest(p_member_id, v_recipient));
    v_receiver := hub_transfer_check(p_member_id, v_recipient, p_points, p_daily_points,
                                     p_daily_count, p_now);
    PERFORM hub_expire_member_lots(p_member_id, p_now);
    UPDATE member_balances SET available = available - p_points, updated_at = p_now
    WHERE member_id = p_member_id AND available >= p_points AND debt = 0
    RETURNING * INTO v_sender;
    IF NOT FOUND THEN
        SELECT * INTO v_sender FROM member_balances WHERE member_id = p_member_id;
        PERFORM hub_refuse('INSUFFICIENT_POINTS', jsonb_build_object(
            'available', v_sender.available, 'debt', v_sender.debt, 'requested', p_points));
    END IF;
    UPDATE member_balances SET available = available + p_points, updated_at = p_now
    WHERE member_id = v_recipient;
    SELECT id INTO v_clearing FROM accounts WHERE kind = 'COALITION_TRANSFERS';
    INSERT INTO journal_entries (id, kind, member_id, points, related_entry_id, reference, created_at)
    VALUES (v_out, 'TRANSFER_OUT', p_member_id, p_points, v_in, 'family transfer', p_now),
           (v_in, 'TRANSFER_IN', v_recipient, p_points, v_out, 'family transfer', p_now);
    INSERT INTO postings (entry_id, account_id, amount) VALUES
        (v_out, v_sender.available_account, -p_points), (v_out, v_clearing, p_points),
        (v_in, v_clearing, -p_points), (v_in, v_receiver.available_account, p_points);
    PERFORM hub_transfer_lots(p_member_id, v_recipient, v_out, v_in, p_points, p_now);
    RETURN hub_transfer_answer(v_out, v_in, false);
EXCEPTION WHEN SQLSTATE 'HR001' THEN
    GET STACKED DIAGNOSTICS v_refusal = PG_EXCEPTION_DETAIL;
    RETURN jsonb_build_object('refused', v_refusal::jsonb);
END $$;

-- Whether the sender may send p_points to the recipient now (both locked by the caller):
-- within the sender's daily limits, and to a member who owes no points. Refuses otherwise;
-- returns the recipient's balance row.
CREATE OR REPLACE FUNCTION hub_transfer_check(
    p_member_id uuid, p_recipient uuid, p_points bigint, p_daily_points bigint,
    p_daily_count int, p_now timestamptz)
RETURNS member_balances LANGUAGE plpgsql AS $$
DECLARE
    v_sent bigint;
    v_count int;
    v_receiver member_balances%ROWTYPE;
BEGIN
    SELECT coalesce(sum(points), 0), count(*) INTO v_sent, v_count FROM journal_entries
    WHERE member_id = p_member_id AND kind = 'TRANSFER_OUT'
      AND created_at >= date_trunc('day', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    IF v_count >= p_daily_count THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', format('at most %s transfers may be sent a day', p_daily_count)));
    END IF;
    IF v_sent + p_points > p_daily_points THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', format('this transfer would pass the daily limit of %s points (%s sent today)',
                              p_daily_points, v_sent)));
    END IF;
    SELECT * INTO v_receiver FROM member_balances WHERE member_id = p_recipient;
    IF v_receiver.debt > 0 THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'the recipient has a points debt; points cannot be transferred to them'));
    END IF;
    RETURN v_receiver;
END $$;

-- Moves p_points of the sender's free lot points, first-expiring-first, each slice
-- becoming a lot of the recipient with the same issuer and dates (written by p_in).
CREATE OR REPLACE FUNCTION hub_transfer_lots(
    p_member_id uuid, p_recipient uuid, p_out uuid, p_in uuid, p_points bigint, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_left bigint := p_points;
    v_take bigint;
    v_lot record;
BEGIN
    FOR v_lot IN
        SELECT id, issuer_partner_id, earned_at, expires_at, remaining - reserved AS free FROM lots
        WHERE member_id = p_member_id AND remaining > reserved
        ORDER BY expires_at, earned_at, id
    LOOP
        EXIT WHEN v_left = 0;
        v_take := least(v_left, v_lot.free);
        UPDATE lots SET remaining = remaining - v_take WHERE id = v_lot.id;
        INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, created_at)
        VALUES (p_out, v_lot.id, v_take, 'TRANSFER', p_now);
        INSERT INTO lots (id, member_id, issuer_partner_id, points, remaining, earned_at, expires_at,
                          source_lot_id, transfer_entry_id)
        VALUES (hub_uuid_v7(), p_recipient, v_lot.issuer_partner_id, v_take, v_take, v_lot.earned_at,
                v_lot.expires_at, v_lot.id, p_in);
        v_left := v_left - v_take;
    END LOOP;
    IF v_left <> 0 THEN
        RAISE EXCEPTION 'HUB:INTERNAL:member % has % points fewer in lots than available', p_member_id, v_left;
    END IF;
END $$;

-- A transfer's answer: the sender's result, with the recipient's as "recipient".
CREATE OR REPLACE FUNCTION hub_transfer_answer(p_out uuid, p_in uuid, p_replayed boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('ok', to_jsonb(hub_result_for(p_out, p_replayed))
                                    || jsonb_build_object('recipient', to_jsonb(hub_result_for(p_in, p_replayed))))
$$;
