-- Earn: points issued by the partner to a member (enrolled now when the partner names an
-- unknown customer), by points or by purchase at the partner's earn rate, times the
-- member's tier multiplier where the partner applies it. A debt is repaid first; the rest
-- becomes a lot. At a partner with a return window the points are pending instead until
-- the window ends (ledger/pending.sql).
--
-- A booking step, not an answer: called inside ledger_batch's subtransaction for the
-- operation (hub_batch_one), which turns its refusals into answers; it returns the
-- hub_result of the entry and raises refusals (ledger/answers.sql). A member who owes
-- nothing is credited with one UPDATE that returns the new balance.
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
    v_repaid bigint := 0;
    v_balance member_balances%ROWTYPE;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_result_for(v_earlier, true);
    END IF;
    v_partner := hub_active_partner(p_partner_id);
    IF p_purchase_amount IS NOT NULL THEN
        IF p_purchase_currency <> v_partner.currency THEN
            PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
                'message', format('this partner''s purchases are in %s', v_partner.currency)));
        END IF;
        v_points := hub_capped_points(floor(p_purchase_amount * v_partner.earn_rate), 'purchase');
    END IF;
    IF p_customer_id IS NOT NULL THEN
        SELECT e.member_id INTO v_member
        FROM hub_enroll_member(p_partner_id, p_customer_id, p_new_member_id, p_new_member_number, p_now) e;
    ELSE
        v_member := hub_find_member(p_partner_id, p_member_id, p_member_number, NULL);
    END IF;
    IF v_partner.applies_tier_multiplier THEN
        v_multiplier := hub_tier_multiplier(v_member, p_now);
        IF v_multiplier > 1 THEN
            v_points := hub_capped_points(floor(v_points * v_multiplier), 'earn with the tier multiplier');
        ELSE
            v_multiplier := NULL;
        END IF;
    END IF;
    IF v_partner.return_window_days > 0 THEN
        RETURN hub_issue_pending(v_entry, v_partner, v_member, v_points, p_purchase_amount,
                                 p_purchase_currency, v_multiplier, p_expires_at, p_reference, p_now);
    END IF;
    -- A member without debt: the UPDATE locks the row, and re-checks `debt = 0` on the
    -- latest version if a concurrent transaction changed it first.
    UPDATE member_balances
    SET available = available + v_points,
        lifetime_earned = lifetime_earned + v_points,
        updated_at = p_now
    WHERE member_id = v_member AND debt = 0
    RETURNING * INTO v_balance;
    IF NOT FOUND THEN
        v_repaid := hub_credit_member(v_member, v_points, true, p_now);
        SELECT * INTO v_balance FROM member_balances WHERE member_id = v_member;
    END IF;
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
    SELECT v_entry, v_balance.available_account, v_points;
    IF v_points > v_repaid THEN
        INSERT INTO lots (id, member_id, issuer_partner_id, points, remaining, earned_at, expires_at)
        VALUES (v_entry, v_member, p_partner_id, v_points - v_repaid, v_points - v_repaid, p_now, p_expires_at);
    END IF;
    -- Nothing below the UPDATE changes the balance: it is the balance after this entry.
    RETURN (v_entry, NULL, v_member, v_balance.available, v_balance.held, v_balance.debt,
            v_balance.lifetime_earned, false, v_balance.pending)::hub_result;
END $$;

-- The earn at a partner with a return window: booked pending until the window ends (no
-- debt repaid, nothing earned for tiers until then). Points that would expire within the
-- window are refused.
CREATE OR REPLACE FUNCTION hub_issue_pending(
    p_entry uuid, p_partner partners, p_member_id uuid, p_points bigint,
    p_purchase_amount numeric, p_purchase_currency text, p_multiplier numeric,
    p_expires_at timestamptz, p_reference text, p_now timestamptz)
RETURNS hub_result LANGUAGE plpgsql AS $$
DECLARE
    v_available_at timestamptz := p_now + make_interval(days => p_partner.return_window_days);
BEGIN
    IF p_expires_at <= v_available_at THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object('message', format(
            'expiresAt must be after this partner''s %s-day return window ends', p_partner.return_window_days)));
    END IF;
    PERFORM hub_lock_member(p_member_id);
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reference,
                                 purchase_amount, purchase_currency, earn_rate, tier_multiplier,
                                 available_at, created_at)
    VALUES (p_entry, 'ISSUE', p_member_id, p_partner.id, p_points, p_reference,
            p_purchase_amount, CASE WHEN p_purchase_amount IS NOT NULL THEN p_purchase_currency END,
            CASE WHEN p_purchase_amount IS NOT NULL THEN p_partner.earn_rate END, p_multiplier,
            v_available_at, p_now);
    PERFORM hub_book_pending(p_entry, p_member_id, p_partner.id, p_points, v_available_at, p_expires_at, p_now);
    RETURN hub_result_for(p_entry, false);
END $$;
