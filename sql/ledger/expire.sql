-- Background jobs: idempotent, and safe on several hub processes at once (members another
-- process is working on are skipped, and everything is re-checked under the member lock).

CREATE OR REPLACE FUNCTION ledger_expire_lots(p_now timestamptz, p_limit int) RETURNS SETOF hub_expired
LANGUAGE plpgsql AS $$
DECLARE
    v_member uuid;
    v_entry uuid;
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
            RETURN NEXT hub_expired_for(v_entry);
        END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION ledger_expire_holds(p_now timestamptz, p_limit int) RETURNS SETOF hub_expired
LANGUAGE plpgsql AS $$
DECLARE
    v_hold record;
    v_entry uuid;
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
        RETURN NEXT hub_expired_for(v_entry);
    END LOOP;
END $$;
