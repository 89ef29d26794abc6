-- Group commit: many issues and redemptions in one call (services::batch). The set path
-- (hub_batch_sets, ledger/batch_sets.sql) books the plain ones together; every other one
-- goes through ledger_issue / ledger_redeem here, one by one. Answers a JSON array, one
-- answer per operation in their order, each in the shape of ledger/answers.sql, an ok
-- one with "linked" (hub_batch_linked).

CREATE OR REPLACE FUNCTION ledger_batch(p_ops jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_done jsonb;
    v_op jsonb;
    v_ord bigint;
    v_out jsonb := '[]'::jsonb;
BEGIN
    -- (One jsonpath test: batches without bonuses, nearly all, pay nothing more.)
    IF jsonb_path_exists(p_ops, '$[*].bonuses[0]') THEN
        PERFORM hub_lock_budgets(p_ops);
    END IF;
    BEGIN
        v_done := hub_batch_sets(p_ops);
    EXCEPTION WHEN OTHERS THEN
        RAISE LOG 'ledger_batch: the set went one by one: %', SQLERRM;
        v_done := '{}'::jsonb;
    END;
    FOR v_op, v_ord IN SELECT e.value, e.ord FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS e (value, ord) LOOP
        v_out := v_out || jsonb_build_array(
            hub_batch_linked(v_op, coalesce(v_done -> v_ord::text, hub_batch_one(v_op))));
    END LOOP;
    RETURN v_out;
END $$;

-- Adds to an ok answer whether the member is linked to the operation's partner, which may
-- then see the member's balance in it (docs/API.md, "What a partner sees of a member"):
-- the hub learns it in the same round trip. Named by the partner's own customer id, the
-- member is linked by definition. (PL/pgSQL, not SQL: called once per operation, it keeps
-- its plan for the session instead of being planned on every call.)
CREATE OR REPLACE FUNCTION hub_batch_linked(p_op jsonb, p_answer jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT p_answer ? 'ok' THEN
        RETURN p_answer;
    END IF;
    RETURN jsonb_set(p_answer, '{ok,linked}', to_jsonb(
        p_op ->> 'customer_id' IS NOT NULL
        OR EXISTS (SELECT 1 FROM member_links l
                   WHERE l.partner_id = (p_op ->> 'partner_id')::uuid
                     AND l.member_id = (p_answer -> 'ok' ->> 'member_id')::uuid)));
END $$;

-- The campaigns with a budget that the batch's bonuses draw on, locked first and in one
-- order: a batch takes them before any member or enrolment lock, so two batches never wait
-- for each other across the two (hub_book_bonuses counts the budgets under these locks).
CREATE OR REPLACE FUNCTION hub_lock_budgets(p_ops jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM campaigns c
    WHERE c.budget IS NOT NULL
      AND c.id IN (SELECT (b ->> 'campaign_id')::uuid
                   FROM jsonb_array_elements(p_ops) o,
                        jsonb_array_elements(coalesce(o -> 'bonuses', '[]')) b)
    ORDER BY c.id
    FOR UPDATE;
END $$;

-- One operation the set did not take: a subtransaction of its own (so that a refusal rolls
-- back this operation only), a deadlock retried; a refusal is answered {"refused": ...},
-- any other error {"failed": message} (the hub reports it as INTERNAL).
CREATE OR REPLACE FUNCTION hub_batch_one(p_op jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_result hub_result;
    v_attempt int := 0;
    v_reward uuid;
    v_refusal text;
BEGIN
    LOOP
        v_attempt := v_attempt + 1;
        v_reward := NULL;
        BEGIN
            IF p_op->>'op' = 'issue' THEN
                v_result := ledger_issue(
                    p_op->>'caller', p_op->>'key', decode(p_op->>'fingerprint', 'hex'),
                    (p_op->>'partner_id')::uuid, (p_op->>'member_id')::uuid,
                    p_op->>'member_number', p_op->>'customer_id',
                    (p_op->>'new_member_id')::uuid, p_op->>'new_member_number',
                    (p_op->>'points')::bigint, (p_op->>'purchase_amount')::numeric,
                    p_op->>'purchase_currency', (p_op->>'expires_at')::timestamptz,
                    p_op->>'reference', (p_op->>'now')::timestamptz);
                IF NOT v_result.replayed AND jsonb_array_length(coalesce(p_op->'bonuses', '[]')) > 0 THEN
                    PERFORM hub_book_bonuses(v_result.entry_id, v_result.member_id, p_op->'bonuses',
                        (p_op->>'expires_at')::timestamptz, (p_op->>'now')::timestamptz);
                    v_result := hub_result_for(v_result.entry_id, false);
                END IF;
                IF NOT v_result.replayed THEN
                    IF p_op->>'referral_code' IS NOT NULL THEN
                        PERFORM hub_attach_referral(p_op->>'referral_code', v_result.member_id,
                            (p_op->>'partner_id')::uuid, v_result.entry_id, (p_op->>'now')::timestamptz);
                    END IF;
                    IF EXISTS (SELECT 1 FROM referrals r
                               WHERE r.referred_member_id = v_result.member_id
                                 AND r.partner_id = (p_op->>'partner_id')::uuid
                                 AND r.converted_at IS NULL) THEN
                        PERFORM hub_convert_referral(v_result.member_id, (p_op->>'partner_id')::uuid,
                            (p_op->>'reward_expires_at')::timestamptz, (p_op->>'now')::timestamptz);
                        SELECT k.entry_id INTO v_reward
                        FROM referrals r JOIN idempotency_keys k
                          ON k.caller = 'ambassador-reward' AND k.key = r.activity_id::text
                        WHERE r.referred_member_id = v_result.member_id
                          AND r.partner_id = (p_op->>'partner_id')::uuid;
                    END IF;
                END IF;
            ELSIF p_op->>'op' = 'redeem' THEN
                v_result := ledger_redeem(
                    p_op->>'caller', p_op->>'key', decode(p_op->>'fingerprint', 'hex'),
                    (p_op->>'partner_id')::uuid, (p_op->>'member_id')::uuid,
                    p_op->>'member_number', p_op->>'customer_id', p_op->>'presence_code',
                    (p_op->>'points')::bigint, p_op->>'reference', (p_op->>'now')::timestamptz);
            ELSE
                RAISE EXCEPTION 'HUB:INTERNAL:unknown batch operation %', p_op->>'op';
            END IF;
            RETURN jsonb_build_object('ok', CASE WHEN v_reward IS NULL THEN to_jsonb(v_result)
                ELSE to_jsonb(v_result) || jsonb_build_object('reward', to_jsonb(hub_result_for(v_reward, false))) END);
        EXCEPTION
            WHEN SQLSTATE 'HR001' THEN
                GET STACKED DIAGNOSTICS v_refusal = PG_EXCEPTION_DETAIL;
                RETURN jsonb_build_object('refused', hub_presence_refused(v_refusal::jsonb));
            WHEN deadlock_detected THEN
                IF v_attempt >= 3 THEN
                    RETURN jsonb_build_object('failed', SQLERRM);
                END IF;
            WHEN OTHERS THEN
                RETURN jsonb_build_object('failed', SQLERRM);
        END;
    END LOOP;
END $$;
