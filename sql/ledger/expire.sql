-- Background jobs: idempotent, and safe on several hub processes at once (members another
-- process is working on are skipped, and everything is re-checked under the member lock).
-- They refuse nothing; they answer {"ok": [...]} (ledger/answers.sql), one element per
-- member expired or hold released: its entry, the points and the member's balance after it
-- (hub_expired), for the `balanceChanged` events. An empty list: nothing was due.

-- Expires the past-due lot points of up to p_limit members.
CREATE OR REPLACE FUNCTION ledger_expire_lots(p_now timestamptz, p_limit int) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_member uuid;
    v_entry uuid;
    v_expired jsonb := '[]'::jsonb;
BEGIN
    FOR v_member IN
        SELECT DISTINCT member_id FROM lots
        WHERE remaining > reserved AND expires_at <= p_now
        LIMIT p_limit
    LOOP
        PERFORM 1 FROM member_balances WHERE member_id = v_member FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        IF hub_expire_member_lots(v_member, p_now) > 0 THEN
            SELECT id INTO v_entry FROM journal_entries
            WHERE member_id = v_member AND kind = 'EXPIRY' ORDER BY id DESC LIMIT 1;
            v_expired := v_expired || jsonb_build_array(to_jsonb(hub_expired_for(v_entry)));
        END IF;
    END LOOP;
    RETURN jsonb_build_object('ok', v_expired);
END $$;

-- Times out up to p_limit pending holds past their expiry.
CREATE OR REPLACE FUNCTION ledger_expire_holds(p_now timestamptz, p_limit int) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_hold record;
    v_entry uuid;
    v_released jsonb := '[]'::jsonb;
BEGIN
    FOR v_hold IN
        SELECT id, member_id FROM holds
        WHERE status = 'PENDING' AND expires_at <= p_now
        ORDER BY expires_at
        LIMIT p_limit
    LOOP
        PERFORM 1 FROM member_balances WHERE member_id = v_hold.member_id FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        PERFORM 1 FROM holds WHERE id = v_hold.id AND status = 'PENDING' FOR UPDATE;
        CONTINUE WHEN NOT FOUND;
        v_entry := hub_uuid_v7();
        PERFORM hub_release_hold(v_hold.id, v_entry, 0, 'HOLD_EXPIRY', p_now);
        v_released := v_released || jsonb_build_array(to_jsonb(hub_expired_for(v_entry)));
    END LOOP;
    RETURN jsonb_build_object('ok', v_released);
END $$;
