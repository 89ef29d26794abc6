-- Second phase: capture all or part of a pending hold (the rest returns), or void it
-- (p_capture = 0). p_partner_id is the acting partner, NULL for the operator.
CREATE OR REPLACE FUNCTION ledger_settle_hold(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid,
    p_hold_id uuid, p_capture bigint, p_now timestamptz)
RETURNS hub_result LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid := hub_uuid_v7();
    v_earlier uuid;
    v_hold holds%ROWTYPE;
    v_capture bigint;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_result_for(v_earlier, true);
    END IF;
    SELECT * INTO v_hold FROM holds WHERE id = p_hold_id;
    IF NOT FOUND OR (p_partner_id IS NOT NULL AND v_hold.partner_id <> p_partner_id) THEN
        RAISE EXCEPTION 'HUB:NOT_FOUND:hold';
    END IF;
    PERFORM hub_active_partner(v_hold.partner_id);
    PERFORM hub_lock_member(v_hold.member_id);
    SELECT * INTO v_hold FROM holds WHERE id = p_hold_id FOR UPDATE;
    IF v_hold.status <> 'PENDING' THEN
        RAISE EXCEPTION 'HUB:HOLD_NOT_PENDING:%', lower(v_hold.status);
    END IF;
    IF v_hold.expires_at <= p_now THEN
        RAISE EXCEPTION 'HUB:HOLD_NOT_PENDING:expired';
    END IF;
    v_capture := coalesce(p_capture, v_hold.points);
    IF v_capture > v_hold.points THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:the hold is for % points; cannot capture %', v_hold.points, v_capture;
    END IF;
    PERFORM hub_release_hold(p_hold_id, v_entry, v_capture,
                             CASE WHEN v_capture > 0 THEN 'CAPTURE' ELSE 'VOID' END, p_now);
    RETURN hub_result_for(v_entry, false);
END $$;
