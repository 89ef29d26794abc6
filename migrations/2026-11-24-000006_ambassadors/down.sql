DROP FUNCTION ledger_batch(jsonb);
-- ledger_batch as migration 4 made it
CREATE FUNCTION ledger_batch(p_ops jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_op jsonb;
    v_result hub_result;
    v_out jsonb := '[]'::jsonb;
    v_attempt int;
BEGIN
    FOR v_op IN SELECT value FROM jsonb_array_elements(p_ops) LOOP
      v_attempt := 0;
      LOOP
        v_attempt := v_attempt + 1;
        BEGIN
            IF v_op->>'op' = 'issue' THEN
                v_result := ledger_issue(
                    v_op->>'caller', v_op->>'key', decode(v_op->>'fingerprint', 'hex'),
                    (v_op->>'partner_id')::uuid, (v_op->>'member_id')::uuid,
                    v_op->>'member_number', v_op->>'customer_id',
                    (v_op->>'new_member_id')::uuid, v_op->>'new_member_number',
                    (v_op->>'points')::bigint, (v_op->>'purchase_amount')::numeric,
                    v_op->>'purchase_currency', (v_op->>'expires_at')::timestamptz,
                    v_op->>'reference', (v_op->>'now')::timestamptz);
            ELSIF v_op->>'op' = 'redeem' THEN
                v_result := ledger_redeem(
                    v_op->>'caller', v_op->>'key', decode(v_op->>'fingerprint', 'hex'),
                    (v_op->>'partner_id')::uuid, (v_op->>'member_id')::uuid,
                    v_op->>'member_number', v_op->>'customer_id',
                    (v_op->>'points')::bigint, v_op->>'reference', (v_op->>'now')::timestamptz);
            ELSE
                RAISE EXCEPTION 'HUB:INTERNAL:unknown batch operation %', v_op->>'op';
            END IF;
            v_out := v_out || jsonb_build_array(to_jsonb(v_result));
            EXIT;
        EXCEPTION
            WHEN deadlock_detected THEN
                IF v_attempt >= 3 THEN
                    v_out := v_out || jsonb_build_array(jsonb_build_object('error', SQLERRM));
                    EXIT;
                END IF;
            WHEN OTHERS THEN
                v_out := v_out || jsonb_build_array(jsonb_build_object('error', SQLERRM));
                EXIT;
        END;
      END LOOP;
    END LOOP;
    RETURN v_out;
END $$;
DROP FUNCTION hub_convert_referral(uuid, uuid, timestamptz, timestamptz);
DROP FUNCTION hub_attach_referral(text, uuid, uuid, uuid, timestamptz);
DROP FUNCTION ambassador_record_activity(text, text, bytea, uuid, uuid, text, bigint, bigint, timestamptz, text, timestamptz, timestamptz);
DROP TABLE leaderboard_projection, leaderboard_outbox, referrals, referral_codes, ambassador_activities, ambassador_enrollments, ambassadors;
ALTER TABLE partners DROP COLUMN referral_score, DROP COLUMN referral_reward_points;
