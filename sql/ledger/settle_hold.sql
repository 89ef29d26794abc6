-- Second phase: capture all or part of a pending hold (the rest returns), or void it
-- (p_capture = 0). p_partner_id is the acting partner, NULL for the operator.
CREATE OR REPLACE FUNCTION ledger_settle_hold(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid,
    p_hold_id uuid, p_capture bigint, p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_refusal text;
    v_entry uuid := hub_uuid_v7();
    v_earlier uuid;
    v_hold holds%ROWTYPE;
    v_capture bigint;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_answer(v_earlier, true);
    END IF;
    SELECT * INTO v_hold FROM holds WHERE id = p_hold_id;
    IF NOT FOUND OR (p_partner_id IS NOT NULL AND v_hold.partner_id <> p_partner_id) THEN
        PERFORM hub_refuse('NOT_FOUND', jsonb_build_object('what', 'hold'));
    END IF;
    PERFORM hub_active_partner(v_hold.partner_id);
    PERFORM hub_lock_member(v_hold.member_id);
    SELECT * INTO v_hold FROM holds WHERE id = p_hold_id FOR UPDATE;
    IF v_hold.status <> 'PENDING' THEN
        PERFORM hub_refuse('HOLD_NOT_PENDING', jsonb_build_object('status', lower(v_hold.status)));
    END IF;
    IF v_hold.expires_at <= p_now THEN
        PERFORM hub_refuse('HOLD_NOT_PENDING', jsonb_build_object('status', 'expired'));
    END IF;
    v_capture := coalesce(p_capture, v_hold.points);
    IF v_capture > v_hold.points THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', format('the hold is for %s points; cannot capture %s',
                           v_hold.points, v_capture)));
    END IF;
    PERFORM hub_release_hold(p_hold_id, v_entry, v_capture,
                             CASE WHEN v_capture > 0 THEN 'CAPTURE' ELSE 'VOID' END, p_now);
    RETURN hub_answer(v_entry, false);
EXCEPTION WHEN SQLSTATE 'HR001' THEN
    GET STACKED DIAGNOSTICS v_refusal = PG_EXCEPTION_DETAIL;
    RETURN jsonb_build_object('refused', v_refusal::jsonb);
END $$;
