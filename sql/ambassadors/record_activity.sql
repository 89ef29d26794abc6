-- Ambassador activity: scored events, recorded once per idempotency key, with the reward
-- points the partner issues for them in the same transaction.

-- What the hub calls (services::ambassadors): answers {"ok": {"activity_id", "replayed"}}
-- or {"refused": ...} (ledger/answers.sql).
CREATE OR REPLACE FUNCTION ambassador_record_activity(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid, p_ambassador_id uuid,
    p_kind text, p_score bigint, p_reward_points bigint, p_reward_expires_at timestamptz,
    p_reference text, p_occurred_at timestamptz, p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_refusal text;
BEGIN
    RETURN jsonb_build_object('ok', (
        SELECT to_jsonb(r) FROM hub_record_activity(
            p_caller, p_key, p_fingerprint, p_partner_id, p_ambassador_id, p_kind, p_score,
            p_reward_points, p_reward_expires_at, p_reference, p_occurred_at, p_now) r));
EXCEPTION WHEN SQLSTATE 'HR001' THEN
    GET STACKED DIAGNOSTICS v_refusal = PG_EXCEPTION_DETAIL;
    RETURN jsonb_build_object('refused', v_refusal::jsonb);
END $$;

-- Records the activity, issues its reward and queues it for the leaderboards; returns the
-- activity and whether this call replayed an earlier one. Raises refusals: the referral
-- conversion of an earn (hub_convert_referral) calls it inside the earn's operation.
CREATE OR REPLACE FUNCTION hub_record_activity(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid, p_ambassador_id uuid,
    p_kind text, p_score bigint, p_reward_points bigint, p_reward_expires_at timestamptz,
    p_reference text, p_occurred_at timestamptz, p_now timestamptz)
RETURNS TABLE (activity_id uuid, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := hub_uuid_v7();
    v_existing ambassador_activities%ROWTYPE;
    v_member uuid;
BEGIN
    INSERT INTO ambassador_activities (id, ambassador_id, partner_id, kind, score, reward_points,
                                       reference, occurred_at, recorded_at, caller, key, fingerprint)
    VALUES (v_id, p_ambassador_id, p_partner_id, p_kind, p_score, p_reward_points,
            p_reference, p_occurred_at, p_now, p_caller, p_key, p_fingerprint)
    ON CONFLICT (caller, key) DO NOTHING;
    IF NOT FOUND THEN
        SELECT * INTO v_existing FROM ambassador_activities a WHERE a.caller = p_caller AND a.key = p_key;
        IF v_existing.fingerprint <> p_fingerprint THEN
            PERFORM hub_refuse('IDEMPOTENCY_KEY_REUSED');
        END IF;
        RETURN QUERY SELECT v_existing.id, true;
        RETURN;
    END IF;
    PERFORM hub_active_partner(p_partner_id);
    SELECT a.member_id INTO v_member
    FROM ambassadors a JOIN ambassador_enrollments e ON e.ambassador_id = a.id
    WHERE a.id = p_ambassador_id AND (e.partner_id = p_partner_id OR e.partner_id IS NULL)
    LIMIT 1;
    IF NOT FOUND THEN
        PERFORM hub_refuse('NOT_FOUND', jsonb_build_object('what', 'ambassador'));
    END IF;
    IF p_reward_points > 0 THEN
        PERFORM ledger_issue('ambassador-reward', v_id::text, '\x00'::bytea, p_partner_id,
                             v_member, NULL, NULL, NULL, NULL, p_reward_points, NULL, NULL,
                             p_reward_expires_at, 'ambassador reward', p_now);
    END IF;
    INSERT INTO leaderboard_outbox (activity_id) VALUES (v_id);
    RETURN QUERY SELECT v_id, false;
END $$;
