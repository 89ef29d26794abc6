-- The member app's last two pieces: coalition tiers (levels by points earned in a rolling
-- 12 months, with an earn multiplier that opted-in partners apply) and family transfers
-- (points moved between linked members, lot by lot, so every point keeps its issuer).

---------------------------------------------------------------------------------------------
-- Tiers
---------------------------------------------------------------------------------------------

-- The levels, set as a whole by the operator (`setTiers`). The lowest starts at 0 points.
CREATE TABLE tiers (
    name text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 40),
    min_points bigint NOT NULL UNIQUE CHECK (min_points >= 0),
    earn_multiplier numeric(6, 3) NOT NULL CHECK (earn_multiplier >= 1 AND earn_multiplier <= 10)
);
INSERT INTO tiers (name, min_points, earn_multiplier) VALUES
    ('Member', 0, 1.000),
    ('Silver', 2500, 1.250),
    ('Gold', 10000, 1.500);

ALTER TABLE partners ADD COLUMN applies_tier_multiplier boolean NOT NULL DEFAULT false;

-- The multiplier an ISSUE applied (NULL: none, or 1).
ALTER TABLE journal_entries ADD COLUMN tier_multiplier numeric(6, 3)
    CHECK (tier_multiplier > 1);

-- Points that count for tiers, by UTC day: every earn on its day, less what its issuer
-- later clawed back (counted on the earn's day, so a refund cannot move points in time).
-- A day's points count on that day and the 365 days after it (src/domain/tiers.rs).
CREATE FUNCTION hub_tier_earn_days(p_member_id uuid)
RETURNS TABLE (day date, points bigint) LANGUAGE sql STABLE AS $$
    SELECT (coalesce(o.created_at, e.created_at) AT TIME ZONE 'UTC')::date,
           sum(CASE e.kind WHEN 'ISSUE' THEN e.points ELSE -e.points END)::bigint
    FROM journal_entries e LEFT JOIN journal_entries o ON o.id = e.reverses_entry_id
    WHERE e.member_id = p_member_id AND e.kind IN ('ISSUE', 'REVERSE_ISSUE')
    GROUP BY 1
    ORDER BY 1
$$;

-- The earn multiplier of the member's tier at p_now.
CREATE FUNCTION hub_tier_multiplier(p_member_id uuid, p_now timestamptz) RETURNS numeric
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_points bigint;
    v_multiplier numeric;
BEGIN
    SELECT coalesce(sum(d.points), 0) INTO v_points FROM hub_tier_earn_days(p_member_id) d
    WHERE d.day >= (p_now AT TIME ZONE 'UTC')::date - 365;
    SELECT t.earn_multiplier INTO v_multiplier FROM tiers t
    WHERE t.min_points <= v_points ORDER BY t.min_points DESC LIMIT 1;
    RETURN coalesce(v_multiplier, 1);
END $$;

-- ledger_issue as migration 2 made it, plus the tier multiplier of opted-in partners.
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

---------------------------------------------------------------------------------------------
-- Family links and transfers
---------------------------------------------------------------------------------------------

-- A member asks to link another (`linkFamilyMember`); the link is active once both have
-- asked. Links are not ledger: unlinking deletes both rows.
CREATE TABLE family_links (
    member_id uuid NOT NULL REFERENCES members (id),
    linked_member_id uuid NOT NULL REFERENCES members (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, linked_member_id),
    CHECK (member_id <> linked_member_id)
);
CREATE INDEX family_links_linked ON family_links (linked_member_id);

-- A transfer is two entries through a clearing account, one per member, so each member's
-- history and balance events stay single-member: TRANSFER_OUT (sender -> clearing) and
-- TRANSFER_IN (clearing -> recipient), pointing at each other.
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN (
    'MEMBER_AVAILABLE', 'MEMBER_HELD', 'PARTNER_ISSUANCE', 'PARTNER_REDEMPTION',
    'COALITION_BREAKAGE', 'COALITION_TRANSFERS'));
CREATE UNIQUE INDEX accounts_one_transfers ON accounts (kind) WHERE kind = 'COALITION_TRANSFERS';
INSERT INTO accounts (kind) VALUES ('COALITION_TRANSFERS');

ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check CHECK (kind IN (
    'ISSUE', 'REDEEM', 'HOLD', 'CAPTURE', 'VOID', 'HOLD_EXPIRY',
    'REVERSE_ISSUE', 'REVERSE_REDEEM', 'EXPIRY', 'TRANSFER_OUT', 'TRANSFER_IN'));
-- The other half of a transfer.
ALTER TABLE journal_entries ADD COLUMN related_entry_id uuid;

-- A lot made by a transfer: a slice of the sender's lot (same issuer, earn and expiry
-- dates), written by the TRANSFER_IN entry.
ALTER TABLE lots ADD COLUMN source_lot_id uuid;
ALTER TABLE lots ADD COLUMN transfer_entry_id uuid;
ALTER TABLE lots ADD CONSTRAINT lots_transfer_origin CHECK ((source_lot_id IS NULL) = (transfer_entry_id IS NULL));

ALTER TABLE lot_consumptions DROP CONSTRAINT lot_consumptions_kind_check;
ALTER TABLE lot_consumptions ADD CONSTRAINT lot_consumptions_kind_check CHECK (kind IN (
    'REDEEM', 'CAPTURE', 'EXPIRY', 'CLAWBACK', 'RESTORE', 'TRANSFER'));

-- A transferred slice is not a settlement event: the points keep their issuer and are
-- attributed when they are redeemed or expire.
DROP TRIGGER lot_consumptions_attribute ON lot_consumptions;
CREATE TRIGGER lot_consumptions_attribute AFTER INSERT ON lot_consumptions
    FOR EACH ROW WHEN (NEW.kind <> 'TRANSFER')
    EXECUTE FUNCTION hub_attribute_consumption();

-- A member's transfer to a linked family member, at most p_daily_points points and
-- p_daily_count transfers per UTC day (counted under the sender's lock). Returns the
-- sender's result, then the recipient's.
CREATE FUNCTION ledger_transfer(
    p_caller text, p_key text, p_fingerprint bytea, p_member_id uuid, p_recipient_number text,
    p_points bigint, p_daily_points bigint, p_daily_count int, p_now timestamptz)
RETURNS SETOF hub_result LANGUAGE plpgsql AS $$
DECLARE
    v_out uuid := hub_uuid_v7();
    v_in uuid := hub_uuid_v7();
    v_earlier uuid;
    v_recipient uuid;
    v_sender member_balances%ROWTYPE;
    v_receiver member_balances%ROWTYPE;
    v_clearing bigint;
    v_sent bigint;
    v_count int;
    v_left bigint := p_points;
    v_take bigint;
    v_lot record;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_out);
    IF v_earlier IS NOT NULL THEN
        RETURN NEXT hub_result_for(v_earlier, true);
        RETURN NEXT hub_result_for((SELECT related_entry_id FROM journal_entries WHERE id = v_earlier), true);
        RETURN;
    END IF;
    SELECT id INTO v_recipient FROM members WHERE member_number = p_recipient_number;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'HUB:NOT_FOUND:member';
    END IF;
    IF v_recipient = p_member_id THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:points cannot be transferred to yourself';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM family_links WHERE member_id = p_member_id AND linked_member_id = v_recipient)
       OR NOT EXISTS (SELECT 1 FROM family_links WHERE member_id = v_recipient AND linked_member_id = p_member_id) THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:points can only be transferred to a linked family member';
    END IF;
    -- Both members locked, in one order, so that opposite transfers cannot deadlock.
    PERFORM hub_lock_member(least(p_member_id, v_recipient));
    PERFORM hub_lock_member(greatest(p_member_id, v_recipient));
    SELECT coalesce(sum(points), 0), count(*) INTO v_sent, v_count FROM journal_entries
    WHERE member_id = p_member_id AND kind = 'TRANSFER_OUT'
      AND created_at >= date_trunc('day', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    IF v_count >= p_daily_count THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:at most % transfers may be sent a day', p_daily_count;
    END IF;
    IF v_sent + p_points > p_daily_points THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this transfer would pass the daily limit of % points (% sent today)',
            p_daily_points, v_sent;
    END IF;
    SELECT * INTO v_receiver FROM member_balances WHERE member_id = v_recipient;
    IF v_receiver.debt > 0 THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:the recipient has a points debt; points cannot be transferred to them';
    END IF;
    PERFORM hub_expire_member_lots(p_member_id, p_now);
    UPDATE member_balances SET available = available - p_points, updated_at = p_now
    WHERE member_id = p_member_id AND available >= p_points AND debt = 0
    RETURNING * INTO v_sender;
    IF NOT FOUND THEN
        SELECT * INTO v_sender FROM member_balances WHERE member_id = p_member_id;
        RAISE EXCEPTION 'HUB:INSUFFICIENT_POINTS:%:%', v_sender.available, v_sender.debt;
    END IF;
    UPDATE member_balances SET available = available + p_points, updated_at = p_now
    WHERE member_id = v_recipient;
    SELECT id INTO v_clearing FROM accounts WHERE kind = 'COALITION_TRANSFERS';
    INSERT INTO journal_entries (id, kind, member_id, points, related_entry_id, reference, created_at)
    VALUES (v_out, 'TRANSFER_OUT', p_member_id, p_points, v_in, 'family transfer', p_now),
           (v_in, 'TRANSFER_IN', v_recipient, p_points, v_out, 'family transfer', p_now);
    INSERT INTO postings (entry_id, account_id, amount) VALUES
        (v_out, v_sender.available_account, -p_points), (v_out, v_clearing, p_points),
        (v_in, v_clearing, -p_points), (v_in, v_receiver.available_account, p_points);
    -- The sender's free points, first-expiring-first, each slice becoming a lot of the
    -- recipient with the same issuer and dates.
    FOR v_lot IN
        SELECT id, issuer_partner_id, earned_at, expires_at, remaining - reserved AS free FROM lots
        WHERE member_id = p_member_id AND remaining > reserved
        ORDER BY expires_at, earned_at, id
    LOOP
        EXIT WHEN v_left = 0;
        v_take := least(v_left, v_lot.free);
        UPDATE lots SET remaining = remaining - v_take WHERE id = v_lot.id;
        INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, created_at)
        VALUES (v_out, v_lot.id, v_take, 'TRANSFER', p_now);
        INSERT INTO lots (id, member_id, issuer_partner_id, points, remaining, earned_at, expires_at,
                          source_lot_id, transfer_entry_id)
        VALUES (hub_uuid_v7(), v_recipient, v_lot.issuer_partner_id, v_take, v_take, v_lot.earned_at,
                v_lot.expires_at, v_lot.id, v_in);
        v_left := v_left - v_take;
    END LOOP;
    IF v_left <> 0 THEN
        RAISE EXCEPTION 'HUB:INTERNAL:member % has % points fewer in lots than available', p_member_id, v_left;
    END IF;
    RETURN NEXT hub_result_for(v_out, false);
    RETURN NEXT hub_result_for(v_in, false);
END $$;

---------------------------------------------------------------------------------------------
-- Balance events for the background jobs and for referral rewards
---------------------------------------------------------------------------------------------

-- What the expiry jobs did to one member, for its `balanceChanged` event.
CREATE TYPE hub_expired AS (
    entry_id uuid,
    member_id uuid,
    points bigint,
    available bigint,
    held bigint,
    debt bigint,
    lifetime_earned bigint
);

CREATE FUNCTION hub_expired_for(p_entry_id uuid) RETURNS hub_expired LANGUAGE plpgsql STABLE AS $$
DECLARE
    v hub_expired;
BEGIN
    SELECT e.id, e.member_id, e.points INTO v.entry_id, v.member_id, v.points
    FROM journal_entries e WHERE e.id = p_entry_id;
    SELECT b.available, b.held, b.debt, b.lifetime_earned
    INTO v.available, v.held, v.debt, v.lifetime_earned
    FROM member_balances b WHERE b.member_id = v.member_id;
    RETURN v;
END $$;

-- As migration 2's, returning one row per member expired instead of the totals.
DROP FUNCTION ledger_expire_lots(timestamptz, int);
CREATE FUNCTION ledger_expire_lots(p_now timestamptz, p_limit int) RETURNS SETOF hub_expired
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

-- As migration 2's, returning one row per hold released instead of the count.
DROP FUNCTION ledger_expire_holds(timestamptz, int);
CREATE FUNCTION ledger_expire_holds(p_now timestamptz, p_limit int) RETURNS SETOF hub_expired
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

-- ledger_batch as migration 6 made it; an issue that converted a referral also returns the
-- ambassador's reward result ("reward"), so that its balance event goes out too.
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
