-- ledger_batch as migration 6 made it
CREATE OR REPLACE FUNCTION ledger_batch(p_ops jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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

DROP FUNCTION ledger_expire_holds(timestamptz, int);
DROP FUNCTION ledger_expire_lots(timestamptz, int);
DROP FUNCTION hub_expired_for(uuid);
DROP TYPE hub_expired;
-- the expiry jobs as migration 2 made them
CREATE FUNCTION ledger_expire_lots(p_now timestamptz, p_limit int,
                                   OUT members_expired int, OUT points_expired bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_member uuid;
    v_points bigint;
BEGIN
    members_expired := 0;
    points_expired := 0;
    FOR v_member IN
        SELECT DISTINCT member_id FROM lots
        WHERE remaining > reserved AND expires_at <= p_now
        LIMIT p_limit
    LOOP
        PERFORM 1 FROM member_balances WHERE member_id = v_member FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        v_points := hub_expire_member_lots(v_member, p_now);
        IF v_points > 0 THEN
            members_expired := members_expired + 1;
            points_expired := points_expired + v_points;
        END IF;
    END LOOP;
END $$;

-- Times out up to p_limit pending holds past their expiry. Returns how many.
CREATE FUNCTION ledger_expire_holds(p_now timestamptz, p_limit int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_hold record;
    v_count int := 0;
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
        PERFORM hub_release_hold(v_hold.id, hub_uuid_v7(), 0, 'HOLD_EXPIRY', p_now);
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END $$;

DROP FUNCTION ledger_transfer(text, text, bytea, uuid, text, bigint, bigint, int, timestamptz);
DROP TRIGGER lot_consumptions_attribute ON lot_consumptions;
CREATE TRIGGER lot_consumptions_attribute AFTER INSERT ON lot_consumptions
    FOR EACH ROW EXECUTE FUNCTION hub_attribute_consumption();
ALTER TABLE lot_consumptions DROP CONSTRAINT lot_consumptions_kind_check;
ALTER TABLE lot_consumptions ADD CONSTRAINT lot_consumptions_kind_check CHECK (kind IN (
    'REDEEM', 'CAPTURE', 'EXPIRY', 'CLAWBACK', 'RESTORE'));
ALTER TABLE lots DROP CONSTRAINT lots_transfer_origin;
ALTER TABLE lots DROP COLUMN transfer_entry_id;
ALTER TABLE lots DROP COLUMN source_lot_id;
ALTER TABLE journal_entries DROP COLUMN related_entry_id;
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check CHECK (kind IN (
    'ISSUE', 'REDEEM', 'HOLD', 'CAPTURE', 'VOID', 'HOLD_EXPIRY',
    'REVERSE_ISSUE', 'REVERSE_REDEEM', 'EXPIRY'));
DELETE FROM accounts WHERE kind = 'COALITION_TRANSFERS';
DROP INDEX accounts_one_transfers;
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN (
    'MEMBER_AVAILABLE', 'MEMBER_HELD', 'PARTNER_ISSUANCE', 'PARTNER_REDEMPTION',
    'COALITION_BREAKAGE'));
DROP TABLE family_links;

-- ledger_issue as migration 2 made it
CREATE OR REPLACE FUNCTION ledger_issue(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid,
    p_member_id uuid, p_member_number text, p_customer_id text,
    p_new_member_id uuid, p_new_member_number text,
    p_points bigint, p_purchase_amount numeric, p_purchase_currency text,
    p_expires_at timestamptz, p_reference text, p_now timestamptz)
RETURNS hub_result LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid := hub_uuid_v7();
    v_earlier uuid;
    v_partner partners%ROWTYPE;
    v_member uuid;
    v_points bigint := p_points;
    v_repaid bigint;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_result_for(v_earlier, true);
    END IF;
    v_partner := hub_active_partner(p_partner_id);
    IF p_purchase_amount IS NOT NULL THEN
        IF p_purchase_currency <> v_partner.currency THEN
            RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this partner''s purchases are in %', v_partner.currency;
        END IF;
        v_points := floor(p_purchase_amount * v_partner.earn_rate)::bigint;
        IF v_points <= 0 THEN
            RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this purchase earns no points';
        END IF;
    END IF;
    IF p_customer_id IS NOT NULL THEN
        SELECT e.member_id INTO v_member
        FROM hub_enroll_member(p_partner_id, p_customer_id, p_new_member_id, p_new_member_number, p_now) e;
    ELSE
        v_member := hub_find_member(p_partner_id, p_member_id, p_member_number, NULL, false);
    END IF;
    v_repaid := hub_credit_member(v_member, v_points, true, p_now);
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reference,
                                 purchase_amount, purchase_currency, earn_rate, debt_repaid, created_at)
    VALUES (v_entry, 'ISSUE', v_member, p_partner_id, v_points, p_reference,
            p_purchase_amount, CASE WHEN p_purchase_amount IS NOT NULL THEN p_purchase_currency END,
            CASE WHEN p_purchase_amount IS NOT NULL THEN v_partner.earn_rate END, v_repaid, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT v_entry, pa.issuance_account, -v_points FROM partner_accounts pa WHERE pa.partner_id = p_partner_id
    UNION ALL
    SELECT v_entry, b.available_account, v_points FROM member_balances b WHERE b.member_id = v_member;
    IF v_points > v_repaid THEN
        INSERT INTO lots (id, member_id, issuer_partner_id, points, remaining, earned_at, expires_at)
        VALUES (v_entry, v_member, p_partner_id, v_points - v_repaid, v_points - v_repaid, p_now, p_expires_at);
    END IF;
    RETURN hub_result_for(v_entry, false);
END $$;

DROP FUNCTION hub_tier_multiplier(uuid, timestamptz);
DROP FUNCTION hub_tier_earn_days(uuid);
ALTER TABLE journal_entries DROP COLUMN tier_multiplier;
ALTER TABLE partners DROP COLUMN applies_tier_multiplier;
DROP TABLE tiers;
