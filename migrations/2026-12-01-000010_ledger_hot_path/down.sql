-- Back to migration 9: its ledger_issue and its separate CHECK constraints.

-- ledger_issue as migration 9 made it.
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
    v_multiplier numeric;
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
    IF v_partner.applies_tier_multiplier THEN
        v_multiplier := hub_tier_multiplier(v_member, p_now);
        IF v_multiplier > 1 THEN
            v_points := floor(v_points * v_multiplier)::bigint;
        ELSE
            v_multiplier := NULL;
        END IF;
    END IF;
    v_repaid := hub_credit_member(v_member, v_points, true, p_now);
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reference,
                                 purchase_amount, purchase_currency, earn_rate, debt_repaid,
                                 tier_multiplier, created_at)
    VALUES (v_entry, 'ISSUE', v_member, p_partner_id, v_points, p_reference,
            p_purchase_amount, CASE WHEN p_purchase_amount IS NOT NULL THEN p_purchase_currency END,
            CASE WHEN p_purchase_amount IS NOT NULL THEN v_partner.earn_rate END, v_repaid,
            v_multiplier, p_now);
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

ALTER TABLE settlement_records
    DROP CONSTRAINT settlement_records_valid,
    ADD CONSTRAINT settlement_records_kind_check CHECK (kind IN (
        'REDEMPTION', 'REDEMPTION_REVERSAL', 'ISSUE', 'ISSUE_REVERSAL', 'EXPIRY', 'DEBT_REPAYMENT')),
    ADD CONSTRAINT settlement_records_points_check CHECK (points <> 0),
    ADD CONSTRAINT settlement_records_check CHECK (
        (kind IN ('REDEMPTION', 'REDEMPTION_REVERSAL')) = (redeeming_partner_id IS NOT NULL));

ALTER TABLE lot_consumptions
    DROP CONSTRAINT lot_consumptions_valid,
    ADD CONSTRAINT lot_consumptions_kind_check CHECK (kind IN (
        'REDEEM', 'CAPTURE', 'EXPIRY', 'CLAWBACK', 'RESTORE', 'TRANSFER')),
    ADD CONSTRAINT lot_consumptions_points_check CHECK (points <> 0);

ALTER TABLE lots
    DROP CONSTRAINT lots_valid,
    ADD CONSTRAINT lots_points_check CHECK (points > 0),
    ADD CONSTRAINT lots_check CHECK (remaining >= 0 AND remaining <= points),
    ADD CONSTRAINT lots_check1 CHECK (reserved >= 0 AND reserved <= remaining),
    ADD CONSTRAINT lots_transfer_origin CHECK ((source_lot_id IS NULL) = (transfer_entry_id IS NULL));

ALTER TABLE member_balances
    DROP CONSTRAINT member_balances_valid,
    ADD CONSTRAINT member_balances_available_check CHECK (available >= 0),
    ADD CONSTRAINT member_balances_held_check CHECK (held >= 0),
    ADD CONSTRAINT member_balances_debt_check CHECK (debt >= 0),
    ADD CONSTRAINT member_balances_lifetime_earned_check CHECK (lifetime_earned >= 0),
    ADD CONSTRAINT member_balances_check CHECK (available = 0 OR debt = 0);

ALTER TABLE journal_entries
    DROP CONSTRAINT journal_entries_valid,
    ADD CONSTRAINT journal_entries_kind_check CHECK (kind IN (
        'ISSUE', 'REDEEM', 'HOLD', 'CAPTURE', 'VOID', 'HOLD_EXPIRY',
        'REVERSE_ISSUE', 'REVERSE_REDEEM', 'EXPIRY', 'TRANSFER_OUT', 'TRANSFER_IN')),
    ADD CONSTRAINT journal_entries_points_check CHECK (points > 0),
    ADD CONSTRAINT journal_entries_reference_check CHECK (char_length(reference) <= 200),
    ADD CONSTRAINT journal_entries_check CHECK (debt_repaid >= 0 AND debt_repaid <= points),
    ADD CONSTRAINT journal_entries_tier_multiplier_check CHECK (tier_multiplier > 1);

DROP FUNCTION hub_is_settlement_kind(text);
DROP FUNCTION hub_is_entry_kind(text);
