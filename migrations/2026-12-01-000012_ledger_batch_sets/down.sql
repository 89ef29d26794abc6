-- ledger_batch and the settlement attribution of entries and lot slices as migrations 5
-- and 9 made them.
DROP TRIGGER journal_entries_attribute ON journal_entries;
DROP FUNCTION hub_attribute_entries();
CREATE FUNCTION hub_attribute_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO settlement_records (kind, entry_id, issuer_partner_id, points, occurred_at)
    SELECT 'ISSUE', NEW.id, NEW.partner_id, NEW.points, NEW.created_at WHERE NEW.kind = 'ISSUE'
    UNION ALL
    SELECT 'DEBT_REPAYMENT', NEW.id, NEW.partner_id, NEW.debt_repaid, NEW.created_at
    WHERE NEW.kind = 'ISSUE' AND NEW.debt_repaid > 0
    UNION ALL
    SELECT 'ISSUE_REVERSAL', NEW.id, NEW.partner_id, -NEW.points, NEW.created_at
    WHERE NEW.kind = 'REVERSE_ISSUE';
    RETURN NULL;
END $$;
CREATE TRIGGER journal_entries_attribute AFTER INSERT ON journal_entries
    FOR EACH ROW WHEN (NEW.kind IN ('ISSUE', 'REVERSE_ISSUE'))
    EXECUTE FUNCTION hub_attribute_entry();
DROP TRIGGER lot_consumptions_attribute ON lot_consumptions;
DROP FUNCTION hub_attribute_consumptions();
CREATE FUNCTION hub_attribute_consumption() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO settlement_records (kind, entry_id, issuer_partner_id, redeeming_partner_id, points, occurred_at)
    SELECT CASE NEW.kind
               WHEN 'REDEEM' THEN 'REDEMPTION'
               WHEN 'CAPTURE' THEN 'REDEMPTION'
               WHEN 'RESTORE' THEN 'REDEMPTION_REVERSAL'
               WHEN 'EXPIRY' THEN 'EXPIRY'
               ELSE 'DEBT_REPAYMENT'
           END,
           NEW.entry_id, l.issuer_partner_id,
           CASE WHEN NEW.kind IN ('REDEEM', 'CAPTURE', 'RESTORE') THEN NEW.redeeming_partner_id END,
           NEW.points, NEW.created_at
    FROM lots l
    WHERE l.id = NEW.lot_id
      AND NOT (NEW.kind = 'CLAWBACK'
               AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = NEW.entry_id AND e.kind = 'REVERSE_ISSUE'));
    RETURN NULL;
END $$;
CREATE TRIGGER lot_consumptions_attribute AFTER INSERT ON lot_consumptions
    FOR EACH ROW WHEN (NEW.kind <> 'TRANSFER')
    EXECUTE FUNCTION hub_attribute_consumption();
DROP FUNCTION hub_batch_sets(jsonb);
DROP FUNCTION hub_batch_one(jsonb);
DROP TYPE hub_batch_row;
CREATE OR REPLACE FUNCTION ledger_batch(p_ops jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_op jsonb;
    v_result hub_result;
    v_out jsonb := '[]'::jsonb;
    v_attempt int;
    v_reward uuid;
BEGIN
    FOR v_op IN SELECT value FROM jsonb_array_elements(p_ops) LOOP
      v_attempt := 0;
      LOOP
        v_attempt := v_attempt + 1;
        v_reward := NULL;
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
                IF NOT v_result.replayed THEN
                    IF v_op->>'referral_code' IS NOT NULL THEN
                        PERFORM hub_attach_referral(v_op->>'referral_code', v_result.member_id,
                            (v_op->>'partner_id')::uuid, v_result.entry_id, (v_op->>'now')::timestamptz);
                    END IF;
                    IF EXISTS (SELECT 1 FROM referrals r
                               WHERE r.referred_member_id = v_result.member_id
                                 AND r.partner_id = (v_op->>'partner_id')::uuid
                                 AND r.converted_at IS NULL) THEN
                        PERFORM hub_convert_referral(v_result.member_id, (v_op->>'partner_id')::uuid,
                            (v_op->>'reward_expires_at')::timestamptz, (v_op->>'now')::timestamptz);
                        SELECT k.entry_id INTO v_reward
                        FROM referrals r JOIN idempotency_keys k
                          ON k.caller = 'ambassador-reward' AND k.key = r.activity_id::text
                        WHERE r.referred_member_id = v_result.member_id
                          AND r.partner_id = (v_op->>'partner_id')::uuid;
                    END IF;
                END IF;
            ELSIF v_op->>'op' = 'redeem' THEN
                v_result := ledger_redeem(
                    v_op->>'caller', v_op->>'key', decode(v_op->>'fingerprint', 'hex'),
                    (v_op->>'partner_id')::uuid, (v_op->>'member_id')::uuid,
                    v_op->>'member_number', v_op->>'customer_id',
                    (v_op->>'points')::bigint, v_op->>'reference', (v_op->>'now')::timestamptz);
            ELSE
                RAISE EXCEPTION 'HUB:INTERNAL:unknown batch operation %', v_op->>'op';
            END IF;
            v_out := v_out || jsonb_build_array(CASE WHEN v_reward IS NULL THEN to_jsonb(v_result)
                ELSE to_jsonb(v_result) || jsonb_build_object('reward', to_jsonb(hub_result_for(v_reward, false))) END);
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
