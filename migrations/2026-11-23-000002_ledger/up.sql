-- The points ledger: double-entry, append-only journal; member balance rows (the only rows
-- locked on the hot path); lots and their consumptions; holds; idempotency keys.
--
-- Every money-moving operation is one call of a function below, so that it reaches the
-- database in one round trip and commits or rolls back as a whole (DESIGN.md measured round
-- trips as the cost that matters). Refusals RAISE with a message 'HUB:<CODE>:<detail>' that
-- the hub maps to its error codes; a RAISE rolls back everything the call wrote.

-- Accounts carry no balance: member balances live in member_balances (checked, locked),
-- partner and coalition balances are sums of postings (never a hot row to update).
CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN (
        'MEMBER_AVAILABLE', 'MEMBER_HELD', 'PARTNER_ISSUANCE', 'PARTNER_REDEMPTION',
        'COALITION_BREAKAGE')),
    member_id uuid REFERENCES members (id),
    partner_id uuid REFERENCES partners (id),
    CHECK ((kind IN ('MEMBER_AVAILABLE', 'MEMBER_HELD')) = (member_id IS NOT NULL)),
    CHECK ((kind IN ('PARTNER_ISSUANCE', 'PARTNER_REDEMPTION')) = (partner_id IS NOT NULL))
);
CREATE UNIQUE INDEX accounts_member_kind ON accounts (member_id, kind) WHERE member_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_partner_kind ON accounts (partner_id, kind) WHERE partner_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_one_breakage ON accounts (kind) WHERE kind = 'COALITION_BREAKAGE';
INSERT INTO accounts (kind) VALUES ('COALITION_BREAKAGE');

-- fillfactor leaves room on each page so that balance updates are HOT (no index work).
CREATE TABLE member_balances (
    member_id uuid PRIMARY KEY REFERENCES members (id),
    available_account bigint NOT NULL,
    held_account bigint NOT NULL,
    available bigint NOT NULL DEFAULT 0 CHECK (available >= 0),
    held bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
    -- points owed after a refund clawback took back points already spent
    debt bigint NOT NULL DEFAULT 0 CHECK (debt >= 0),
    lifetime_earned bigint NOT NULL DEFAULT 0 CHECK (lifetime_earned >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (available = 0 OR debt = 0)
) WITH (fillfactor = 85);

CREATE TABLE partner_accounts (
    partner_id uuid PRIMARY KEY REFERENCES partners (id),
    issuance_account bigint NOT NULL,
    redemption_account bigint NOT NULL
);

-- Every member gets its two accounts and its balance row, every partner its two accounts,
-- however they are created: by trigger from now on, and below for those created before.
CREATE FUNCTION hub_open_member_accounts_for(p_member_id uuid) RETURNS void LANGUAGE sql AS $$
    WITH a AS (INSERT INTO accounts (kind, member_id) VALUES ('MEMBER_AVAILABLE', p_member_id) RETURNING id),
         h AS (INSERT INTO accounts (kind, member_id) VALUES ('MEMBER_HELD', p_member_id) RETURNING id)
    INSERT INTO member_balances (member_id, available_account, held_account)
    SELECT p_member_id, a.id, h.id FROM a, h
$$;

CREATE FUNCTION hub_open_partner_accounts_for(p_partner_id uuid) RETURNS void LANGUAGE sql AS $$
    WITH i AS (INSERT INTO accounts (kind, partner_id) VALUES ('PARTNER_ISSUANCE', p_partner_id) RETURNING id),
         d AS (INSERT INTO accounts (kind, partner_id) VALUES ('PARTNER_REDEMPTION', p_partner_id) RETURNING id)
    INSERT INTO partner_accounts (partner_id, issuance_account, redemption_account)
    SELECT p_partner_id, i.id, d.id FROM i, d
$$;

CREATE FUNCTION hub_open_member_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hub_open_member_accounts_for(NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER members_open_accounts AFTER INSERT ON members
    FOR EACH ROW EXECUTE FUNCTION hub_open_member_accounts();

CREATE FUNCTION hub_open_partner_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hub_open_partner_accounts_for(NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER partners_open_accounts AFTER INSERT ON partners
    FOR EACH ROW EXECUTE FUNCTION hub_open_partner_accounts();

SELECT hub_open_member_accounts_for(id) FROM members;
SELECT hub_open_partner_accounts_for(id) FROM partners;

-- The journal. The hot-path tables (journal_entries, postings, lots, lot_consumptions) have
-- no foreign keys on purpose: each key check takes a row lock that writes WAL, and on
-- partner rows a lock per entry would make every partner a hot row (DESIGN.md). Only the
-- functions below write these tables, with ids they have just read or written, and
-- `hub verify` checks every reference.
CREATE TABLE journal_entries (
    id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN (
        'ISSUE', 'REDEEM', 'HOLD', 'CAPTURE', 'VOID', 'HOLD_EXPIRY',
        'REVERSE_ISSUE', 'REVERSE_REDEEM', 'EXPIRY')),
    member_id uuid NOT NULL,
    partner_id uuid,
    points bigint NOT NULL CHECK (points > 0),
    reverses_entry_id uuid,
    hold_id uuid,
    reference text CHECK (char_length(reference) <= 200),
    -- ISSUE by purchase: what was bought and the earn rate that turned it into points
    purchase_amount numeric(20, 4),
    purchase_currency text,
    earn_rate numeric(12, 4),
    -- part of an ISSUE or REVERSE_REDEEM that repaid a points debt instead of becoming a lot
    debt_repaid bigint NOT NULL DEFAULT 0 CHECK (debt_repaid >= 0 AND debt_repaid <= points),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Ids are UUIDv7, so id order is time order: listings page by id, and the primary key
-- serves the whole journal in time order.
CREATE INDEX journal_entries_member ON journal_entries (member_id, id);
CREATE INDEX journal_entries_partner ON journal_entries (partner_id, id);
CREATE INDEX journal_entries_reverses ON journal_entries (reverses_entry_id) WHERE reverses_entry_id IS NOT NULL;

-- Balances by account are sums over this table (`hub verify`, settlement's own records);
-- no index by account, so that a partner's account is never a hot index page.
CREATE TABLE postings (
    entry_id uuid NOT NULL,
    account_id bigint NOT NULL,
    amount bigint NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (entry_id, account_id)
);

-- Append-only: the journal is never updated or deleted.
CREATE FUNCTION hub_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'HUB:APPEND_ONLY:% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION hub_append_only();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION hub_append_only();

-- Double entry, enforced by the database: at commit every new entry has two or more
-- postings summing to zero, and no statement may add postings that unbalance an entry.
CREATE FUNCTION hub_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_count int;
    v_sum numeric;
BEGIN
    SELECT count(*), coalesce(sum(amount), 0) INTO v_count, v_sum FROM postings WHERE entry_id = NEW.id;
    IF v_count < 2 OR v_sum <> 0 THEN
        RAISE EXCEPTION 'HUB:UNBALANCED:entry % has % postings summing to %', NEW.id, v_count, v_sum;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hub_check_entry_balanced();

CREATE FUNCTION hub_check_postings_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid;
BEGIN
    SELECT p.entry_id INTO v_entry
    FROM postings p
    WHERE p.entry_id IN (SELECT DISTINCT entry_id FROM new_postings)
    GROUP BY p.entry_id
    HAVING sum(p.amount) <> 0 OR count(*) < 2
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'HUB:UNBALANCED:postings leave entry % unbalanced', v_entry;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER postings_balanced AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT
    EXECUTE FUNCTION hub_check_postings_balanced();

-- A lot is what one earn left in the member's wallet. Lots are state, not ledger: their
-- remaining points change, and every change is a lot_consumptions row of some entry.
CREATE TABLE lots (
    id uuid PRIMARY KEY,  -- the ISSUE entry that made it
    member_id uuid NOT NULL,
    issuer_partner_id uuid NOT NULL,
    points bigint NOT NULL CHECK (points > 0),
    -- not yet redeemed, expired or clawed back (reserved points included)
    remaining bigint NOT NULL CHECK (remaining >= 0 AND remaining <= points),
    -- held by pending holds
    reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= remaining),
    earned_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
) WITH (fillfactor = 90);
-- First-expiring-first consumption of a member's lots with free points. (The predicate must
-- be the queries' own, `remaining > reserved`, or the planner cannot use this index.)
CREATE INDEX lots_open ON lots (member_id, expires_at, earned_at, id) WHERE remaining > reserved;
-- The expiry job's scan: lots are written in time order and mostly with the default
-- lifetime, so a BRIN index finds due ones for almost no cost per insert.
CREATE INDEX lots_due ON lots USING brin (expires_at);

CREATE TABLE lot_consumptions (
    entry_id uuid NOT NULL,
    lot_id uuid NOT NULL,
    -- positive: taken from the lot; negative: given back (a refunded redemption)
    points bigint NOT NULL CHECK (points <> 0),
    kind text NOT NULL CHECK (kind IN ('REDEEM', 'CAPTURE', 'EXPIRY', 'CLAWBACK', 'RESTORE')),
    -- where the points were spent (REDEEM, CAPTURE, RESTORE): the settlement counterparty
    redeeming_partner_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- one entry may both give points back to a lot and take some again (a refund that
    -- repays a debt), so the kind is part of the key
    PRIMARY KEY (entry_id, lot_id, kind)
);
CREATE INDEX lot_consumptions_lot ON lot_consumptions (lot_id);

CREATE TABLE holds (
    id uuid PRIMARY KEY,
    member_id uuid NOT NULL REFERENCES members (id),
    partner_id uuid NOT NULL,
    points bigint NOT NULL CHECK (points > 0),
    status text NOT NULL CHECK (status IN ('PENDING', 'CAPTURED', 'VOIDED', 'EXPIRED')),
    captured_points bigint NOT NULL DEFAULT 0 CHECK (captured_points >= 0 AND captured_points <= points),
    reference text,
    expires_at timestamptz NOT NULL,
    authorize_entry_id uuid NOT NULL REFERENCES journal_entries (id),
    final_entry_id uuid REFERENCES journal_entries (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    finalized_at timestamptz,
    CHECK ((status = 'PENDING') = (final_entry_id IS NULL))
);
CREATE INDEX holds_pending_due ON holds (expires_at) WHERE status = 'PENDING';
CREATE INDEX holds_member ON holds (member_id, created_at);

-- Which lot points a hold reserved, in the order they were taken.
CREATE TABLE hold_lots (
    hold_id uuid NOT NULL REFERENCES holds (id),
    lot_id uuid NOT NULL REFERENCES lots (id),
    points bigint NOT NULL CHECK (points > 0),
    seq int NOT NULL,
    PRIMARY KEY (hold_id, lot_id)
);

-- Claimed in the same transaction as the postings; scoped to the caller.
CREATE TABLE idempotency_keys (
    caller text NOT NULL,
    key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    -- sha256 of the operation and its normalized input
    fingerprint bytea NOT NULL,
    entry_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);

---------------------------------------------------------------------------------------------
-- Internal helpers (hub_*). The public operations are the ledger_* functions further down.
---------------------------------------------------------------------------------------------

-- Time-ordered UUIDs (version 7) for rows the database creates itself.
CREATE FUNCTION hub_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- What every ledger_* function returns: the entry, the hold it concerns, the member's
-- balance after it, and whether this was a replay of an earlier call with the same key.
CREATE TYPE hub_result AS (
    entry_id uuid,
    hold_id uuid,
    member_id uuid,
    available bigint,
    held bigint,
    debt bigint,
    lifetime_earned bigint,
    replayed boolean
);

CREATE FUNCTION hub_result_for(p_entry_id uuid, p_replayed boolean) RETURNS hub_result
LANGUAGE sql STABLE AS $$
    SELECT e.id, e.hold_id, e.member_id, b.available, b.held, b.debt, b.lifetime_earned, p_replayed
    FROM journal_entries e JOIN member_balances b ON b.member_id = e.member_id
    WHERE e.id = p_entry_id
$$;

-- Claims an idempotency key for a new entry. Returns NULL when claimed now, or the entry of
-- an earlier call with the same input; raises when the key came with another input. A
-- concurrent duplicate waits on the primary key until the first commits (then replays) or
-- rolls back (then claims).
CREATE FUNCTION hub_claim_key(p_caller text, p_key text, p_fingerprint bytea, p_entry_id uuid)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_existing idempotency_keys%ROWTYPE;
BEGIN
    INSERT INTO idempotency_keys (caller, key, fingerprint, entry_id)
    VALUES (p_caller, p_key, p_fingerprint, p_entry_id)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_existing FROM idempotency_keys WHERE caller = p_caller AND key = p_key;
    IF v_existing.fingerprint <> p_fingerprint THEN
        RAISE EXCEPTION 'HUB:IDEMPOTENCY_KEY_REUSED:';
    END IF;
    RETURN v_existing.entry_id;
END $$;

CREATE FUNCTION hub_active_partner(p_partner_id uuid) RETURNS partners LANGUAGE plpgsql AS $$
DECLARE
    v partners%ROWTYPE;
BEGIN
    SELECT * INTO v FROM partners WHERE id = p_partner_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'HUB:NOT_FOUND:partner';
    END IF;
    IF v.status <> 'ACTIVE' THEN
        RAISE EXCEPTION 'HUB:PARTNER_SUSPENDED:';
    END IF;
    RETURN v;
END $$;

-- The member linked to the partner's customer id, enrolled now if there is none. Concurrent
-- calls for one customer id serialize on an advisory lock and end with one member.
CREATE FUNCTION hub_enroll_member(p_partner_id uuid, p_customer_id text, p_member_id uuid,
                                  p_member_number text, p_now timestamptz)
RETURNS TABLE (member_id uuid, created boolean) LANGUAGE plpgsql AS $$
DECLARE
    v_member uuid;
BEGIN
    SELECT l.member_id INTO v_member FROM member_links l
    WHERE l.partner_id = p_partner_id AND l.partner_customer_id = p_customer_id;
    IF FOUND THEN
        RETURN QUERY SELECT v_member, false;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_partner_id::text || '/' || p_customer_id, 0));
    SELECT l.member_id INTO v_member FROM member_links l
    WHERE l.partner_id = p_partner_id AND l.partner_customer_id = p_customer_id;
    IF FOUND THEN
        RETURN QUERY SELECT v_member, false;
        RETURN;
    END IF;
    INSERT INTO members (id, member_number, created_at) VALUES (p_member_id, p_member_number, p_now);
    INSERT INTO member_links (partner_id, partner_customer_id, member_id, linked_at)
    VALUES (p_partner_id, p_customer_id, p_member_id, p_now);
    RETURN QUERY SELECT p_member_id, true;
END $$;

-- Finds the member named by exactly one of id, number or the partner's customer id. With
-- p_require_link the member must be linked to the partner (redemptions spend a member's
-- points: only a partner the member has joined may do that).
CREATE FUNCTION hub_find_member(p_partner_id uuid, p_member_id uuid, p_member_number text,
                                p_customer_id text, p_require_link boolean)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_member uuid;
BEGIN
    IF p_customer_id IS NOT NULL THEN
        SELECT l.member_id INTO v_member FROM member_links l
        WHERE l.partner_id = p_partner_id AND l.partner_customer_id = p_customer_id;
    ELSIF p_member_number IS NOT NULL THEN
        SELECT m.id INTO v_member FROM members m WHERE m.member_number = p_member_number;
    ELSE
        SELECT m.id INTO v_member FROM members m WHERE m.id = p_member_id;
    END IF;
    IF v_member IS NOT NULL AND p_require_link AND p_customer_id IS NULL AND NOT EXISTS (
        SELECT 1 FROM member_links l WHERE l.partner_id = p_partner_id AND l.member_id = v_member
    ) THEN
        v_member := NULL;
    END IF;
    IF v_member IS NULL THEN
        RAISE EXCEPTION 'HUB:NOT_FOUND:member';
    END IF;
    RETURN v_member;
END $$;

-- Locks the member's balance row: every change to a member's points, lots and holds
-- happens under this lock, taken first.
CREATE FUNCTION hub_lock_member(p_member_id uuid) RETURNS member_balances LANGUAGE plpgsql AS $$
DECLARE
    v member_balances%ROWTYPE;
BEGIN
    SELECT * INTO v FROM member_balances WHERE member_id = p_member_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'HUB:NOT_FOUND:member';
    END IF;
    RETURN v;
END $$;

-- Expires the member's past-due lot points into breakage (member locked by the caller).
-- Returns the points expired; writes one EXPIRY entry when there were any.
CREATE FUNCTION hub_expire_member_lots(p_member_id uuid, p_now timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_total bigint;
    v_entry uuid;
BEGIN
    SELECT coalesce(sum(remaining - reserved), 0) INTO v_total FROM lots
    WHERE member_id = p_member_id AND remaining > reserved AND expires_at <= p_now;
    IF v_total = 0 THEN
        RETURN 0;
    END IF;
    v_entry := hub_uuid_v7();
    UPDATE member_balances SET available = available - v_total, updated_at = p_now
    WHERE member_id = p_member_id;
    INSERT INTO journal_entries (id, kind, member_id, points, created_at)
    VALUES (v_entry, 'EXPIRY', p_member_id, v_total, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT v_entry, b.available_account, -v_total FROM member_balances b WHERE b.member_id = p_member_id
    UNION ALL
    SELECT v_entry, a.id, v_total FROM accounts a WHERE a.kind = 'COALITION_BREAKAGE';
    INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, created_at)
    SELECT v_entry, id, remaining - reserved, 'EXPIRY', p_now FROM lots
    WHERE member_id = p_member_id AND remaining > reserved AND expires_at <= p_now;
    UPDATE lots SET remaining = reserved
    WHERE member_id = p_member_id AND remaining > reserved AND expires_at <= p_now;
    RETURN v_total;
END $$;

-- Takes up to p_points free (unreserved) points from the member's lots,
-- first-expiring-first (p_first_lot before all others), recording each slice. Returns the
-- points taken. Past-due lots count: until the expiry turns them into breakage their points
-- are in the wallet (redemptions expire them first; a debt repaid while they wait takes
-- them like any other).
CREATE FUNCTION hub_take_from_lots(p_member_id uuid, p_entry_id uuid, p_points bigint,
                                   p_kind text, p_redeeming_partner uuid, p_now timestamptz,
                                   p_first_lot uuid DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_left bigint := p_points;
    v_take bigint;
    v_lot record;
BEGIN
    FOR v_lot IN
        SELECT id, remaining - reserved AS free FROM lots
        WHERE member_id = p_member_id AND remaining > reserved
        ORDER BY (id = p_first_lot) IS TRUE DESC, expires_at, earned_at, id
    LOOP
        EXIT WHEN v_left = 0;
        v_take := least(v_left, v_lot.free);
        UPDATE lots SET remaining = remaining - v_take WHERE id = v_lot.id;
        INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, redeeming_partner_id, created_at)
        VALUES (p_entry_id, v_lot.id, v_take, p_kind, p_redeeming_partner, p_now);
        v_left := v_left - v_take;
    END LOOP;
    RETURN p_points - v_left;
END $$;

-- Adds points to a member: a points debt is repaid first, the rest becomes available.
-- Returns the part that repaid debt. p_earned counts the points as earned (tiers).
CREATE FUNCTION hub_credit_member(p_member_id uuid, p_points bigint, p_earned boolean, p_now timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_repaid bigint;
BEGIN
    SELECT least(debt, p_points) INTO v_repaid FROM member_balances WHERE member_id = p_member_id FOR UPDATE;
    UPDATE member_balances
    SET debt = debt - v_repaid,
        available = available + p_points - v_repaid,
        lifetime_earned = lifetime_earned + CASE WHEN p_earned THEN p_points ELSE 0 END,
        updated_at = p_now
    WHERE member_id = p_member_id;
    RETURN v_repaid;
END $$;

-- Settles a pending hold (member and hold locked by the caller): p_capture points are
-- redeemed at the hold's partner, the rest goes back to the member (repaying any debt
-- first). Writes the CAPTURE, VOID or HOLD_EXPIRY entry p_entry_id.
CREATE FUNCTION hub_release_hold(p_hold_id uuid, p_entry_id uuid, p_capture bigint, p_kind text, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_hold holds%ROWTYPE;
    v_balance member_balances%ROWTYPE;
    v_release bigint;
    v_repaid bigint := 0;
    v_left bigint;
    v_take bigint;
    v_slice record;
BEGIN
    SELECT * INTO v_hold FROM holds WHERE id = p_hold_id;
    v_release := v_hold.points - p_capture;
    UPDATE member_balances SET held = held - v_hold.points, updated_at = p_now
    WHERE member_id = v_hold.member_id
    RETURNING * INTO v_balance;
    IF v_release > 0 THEN
        v_repaid := hub_credit_member(v_hold.member_id, v_release, false, p_now);
    END IF;
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, hold_id, debt_repaid, created_at)
    VALUES (p_entry_id, p_kind, v_hold.member_id, v_hold.partner_id, v_hold.points, p_hold_id, v_repaid, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT p_entry_id, v_balance.held_account, -v_hold.points
    UNION ALL
    SELECT p_entry_id, pa.redemption_account, p_capture FROM partner_accounts pa
    WHERE pa.partner_id = v_hold.partner_id AND p_capture > 0
    UNION ALL
    SELECT p_entry_id, v_balance.available_account, v_release WHERE v_release > 0;
    -- The reserved lot slices, in the order they were reserved: the first p_capture points
    -- are redeemed, the rest are released.
    v_left := p_capture;
    FOR v_slice IN SELECT lot_id, points FROM hold_lots WHERE hold_id = p_hold_id ORDER BY seq LOOP
        v_take := least(v_left, v_slice.points);
        UPDATE lots SET reserved = reserved - v_slice.points, remaining = remaining - v_take
        WHERE id = v_slice.lot_id;
        IF v_take > 0 THEN
            INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, redeeming_partner_id, created_at)
            VALUES (p_entry_id, v_slice.lot_id, v_take, 'CAPTURE', v_hold.partner_id, p_now);
        END IF;
        v_left := v_left - v_take;
    END LOOP;
    IF v_repaid > 0 THEN
        PERFORM hub_take_from_lots(v_hold.member_id, p_entry_id, v_repaid, 'CLAWBACK', NULL, p_now);
    END IF;
    UPDATE holds
    SET status = CASE p_kind WHEN 'CAPTURE' THEN 'CAPTURED' WHEN 'VOID' THEN 'VOIDED' ELSE 'EXPIRED' END,
        captured_points = p_capture, final_entry_id = p_entry_id, finalized_at = p_now
    WHERE id = p_hold_id;
END $$;

---------------------------------------------------------------------------------------------
-- The operations. p_caller scopes idempotency keys ('partner:<id>', 'operator:<name>').
---------------------------------------------------------------------------------------------

-- Earn: points (or a purchase through the partner's earn rate, rounded down) issued by the
-- partner to the member, who is enrolled on the spot when the partner's customer id is new.
CREATE FUNCTION ledger_issue(
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

-- Spend: points redeemed at the partner, taken from the member's lots first-expiring-first.
CREATE FUNCTION ledger_redeem(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid,
    p_member_id uuid, p_member_number text, p_customer_id text,
    p_points bigint, p_reference text, p_now timestamptz)
RETURNS hub_result LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid := hub_uuid_v7();
    v_earlier uuid;
    v_partner partners%ROWTYPE;
    v_member uuid;
    v_balance member_balances%ROWTYPE;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_result_for(v_earlier, true);
    END IF;
    v_partner := hub_active_partner(p_partner_id);
    IF NOT v_partner.accepts_redemptions THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this partner does not accept redemptions';
    END IF;
    v_member := hub_find_member(p_partner_id, p_member_id, p_member_number, p_customer_id, true);
    PERFORM hub_lock_member(v_member);
    PERFORM hub_expire_member_lots(v_member, p_now);
    UPDATE member_balances SET available = available - p_points, updated_at = p_now
    WHERE member_id = v_member AND available >= p_points AND debt = 0
    RETURNING * INTO v_balance;
    IF NOT FOUND THEN
        SELECT * INTO v_balance FROM member_balances WHERE member_id = v_member;
        RAISE EXCEPTION 'HUB:INSUFFICIENT_POINTS:%:%', v_balance.available, v_balance.debt;
    END IF;
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reference, created_at)
    VALUES (v_entry, 'REDEEM', v_member, p_partner_id, p_points, p_reference, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT v_entry, v_balance.available_account, -p_points
    UNION ALL
    SELECT v_entry, pa.redemption_account, p_points FROM partner_accounts pa WHERE pa.partner_id = p_partner_id;
    PERFORM hub_take_from_lots(v_member, v_entry, p_points, 'REDEEM', p_partner_id, p_now);
    RETURN hub_result_for(v_entry, false);
END $$;

-- Two-phase redemption, first phase: reserve points (and their lots) until p_expires_at.
CREATE FUNCTION ledger_authorize(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid,
    p_member_id uuid, p_member_number text, p_customer_id text,
    p_points bigint, p_reference text, p_expires_at timestamptz, p_now timestamptz)
RETURNS hub_result LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid := hub_uuid_v7();
    v_hold uuid := hub_uuid_v7();
    v_earlier uuid;
    v_partner partners%ROWTYPE;
    v_member uuid;
    v_balance member_balances%ROWTYPE;
    v_left bigint := p_points;
    v_take bigint;
    v_seq int := 0;
    v_lot record;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_result_for(v_earlier, true);
    END IF;
    v_partner := hub_active_partner(p_partner_id);
    IF NOT v_partner.accepts_redemptions THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this partner does not accept redemptions';
    END IF;
    v_member := hub_find_member(p_partner_id, p_member_id, p_member_number, p_customer_id, true);
    PERFORM hub_lock_member(v_member);
    PERFORM hub_expire_member_lots(v_member, p_now);
    UPDATE member_balances SET available = available - p_points, held = held + p_points, updated_at = p_now
    WHERE member_id = v_member AND available >= p_points AND debt = 0
    RETURNING * INTO v_balance;
    IF NOT FOUND THEN
        SELECT * INTO v_balance FROM member_balances WHERE member_id = v_member;
        RAISE EXCEPTION 'HUB:INSUFFICIENT_POINTS:%:%', v_balance.available, v_balance.debt;
    END IF;
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, hold_id, reference, created_at)
    VALUES (v_entry, 'HOLD', v_member, p_partner_id, p_points, v_hold, p_reference, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    VALUES (v_entry, v_balance.available_account, -p_points), (v_entry, v_balance.held_account, p_points);
    INSERT INTO holds (id, member_id, partner_id, points, status, reference, expires_at, authorize_entry_id, created_at)
    VALUES (v_hold, v_member, p_partner_id, p_points, 'PENDING', p_reference, p_expires_at, v_entry, p_now);
    FOR v_lot IN
        SELECT id, remaining - reserved AS free FROM lots
        WHERE member_id = v_member AND remaining > reserved
        ORDER BY expires_at, earned_at, id
    LOOP
        EXIT WHEN v_left = 0;
        v_take := least(v_left, v_lot.free);
        v_seq := v_seq + 1;
        UPDATE lots SET reserved = reserved + v_take WHERE id = v_lot.id;
        INSERT INTO hold_lots (hold_id, lot_id, points, seq) VALUES (v_hold, v_lot.id, v_take, v_seq);
        v_left := v_left - v_take;
    END LOOP;
    RETURN hub_result_for(v_entry, false);
END $$;

-- Second phase: capture all or part of a pending hold (the rest returns), or void it
-- (p_capture = 0). p_partner_id is the acting partner, NULL for the operator.
CREATE FUNCTION ledger_settle_hold(
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

-- Refund: the partner reverses all or part of its own earn (a clawback: the points come back
-- even if spent, leaving a debt) or its own redemption (the points return to the lots they
-- came from). p_points NULL reverses what is left.
CREATE FUNCTION ledger_reverse(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid,
    p_original_id uuid, p_points bigint, p_reference text, p_now timestamptz)
RETURNS hub_result LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid := hub_uuid_v7();
    v_earlier uuid;
    v_orig journal_entries%ROWTYPE;
    v_balance member_balances%ROWTYPE;
    v_done bigint;
    v_points bigint;
    v_from_available bigint;
    v_repaid bigint;
    v_left bigint;
    v_give bigint;
    v_slice record;
BEGIN
    v_earlier := hub_claim_key(p_caller, p_key, p_fingerprint, v_entry);
    IF v_earlier IS NOT NULL THEN
        RETURN hub_result_for(v_earlier, true);
    END IF;
    SELECT * INTO v_orig FROM journal_entries WHERE id = p_original_id;
    IF NOT FOUND OR (p_partner_id IS NOT NULL AND v_orig.partner_id IS DISTINCT FROM p_partner_id) THEN
        RAISE EXCEPTION 'HUB:NOT_FOUND:entry';
    END IF;
    IF v_orig.kind NOT IN ('ISSUE', 'REDEEM', 'CAPTURE') THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:only earns and redemptions can be reversed';
    END IF;
    PERFORM hub_active_partner(v_orig.partner_id);
    v_balance := hub_lock_member(v_orig.member_id);
    PERFORM hub_expire_member_lots(v_orig.member_id, p_now);
    SELECT coalesce(sum(points), 0) INTO v_done FROM journal_entries WHERE reverses_entry_id = v_orig.id;
    -- A capture's points are the hold's; what was redeemed is what was captured.
    IF v_orig.kind = 'CAPTURE' THEN
        SELECT captured_points INTO v_orig.points FROM holds WHERE id = v_orig.hold_id;
    END IF;
    IF v_done >= v_orig.points THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this entry is already fully reversed';
    END IF;
    v_points := coalesce(p_points, v_orig.points - v_done);
    IF v_points > v_orig.points - v_done THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:only % points of this entry are left to reverse', v_orig.points - v_done;
    END IF;
    SELECT * INTO v_balance FROM member_balances WHERE member_id = v_orig.member_id;

    IF v_orig.kind = 'ISSUE' THEN
        v_from_available := least(v_balance.available, v_points);
        UPDATE member_balances
        SET available = available - v_from_available,
            debt = debt + v_points - v_from_available,
            lifetime_earned = greatest(lifetime_earned - v_points, 0),
            updated_at = p_now
        WHERE member_id = v_orig.member_id;
        INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reverses_entry_id, reference, created_at)
        VALUES (v_entry, 'REVERSE_ISSUE', v_orig.member_id, v_orig.partner_id, v_points, v_orig.id, p_reference, p_now);
        INSERT INTO postings (entry_id, account_id, amount)
        SELECT v_entry, v_balance.available_account, -v_points
        UNION ALL
        SELECT v_entry, pa.issuance_account, v_points FROM partner_accounts pa WHERE pa.partner_id = v_orig.partner_id;
        PERFORM hub_take_from_lots(v_orig.member_id, v_entry, v_from_available, 'CLAWBACK', NULL, p_now, v_orig.id);
    ELSE
        v_repaid := hub_credit_member(v_orig.member_id, v_points, false, p_now);
        INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reverses_entry_id, reference, debt_repaid, created_at)
        VALUES (v_entry, 'REVERSE_REDEEM', v_orig.member_id, v_orig.partner_id, v_points, v_orig.id, p_reference, v_repaid, p_now);
        INSERT INTO postings (entry_id, account_id, amount)
        SELECT v_entry, pa.redemption_account, -v_points FROM partner_accounts pa WHERE pa.partner_id = v_orig.partner_id
        UNION ALL
        SELECT v_entry, v_balance.available_account, v_points;
        -- Back into the lots the redemption took them from, latest-expiring first.
        v_left := v_points;
        FOR v_slice IN
            SELECT c.lot_id, sum(c.points) AS net
            FROM lot_consumptions c JOIN lots l ON l.id = c.lot_id
            WHERE c.entry_id = v_orig.id
               OR c.entry_id IN (SELECT id FROM journal_entries WHERE reverses_entry_id = v_orig.id)
            GROUP BY c.lot_id, l.expires_at, l.earned_at
            HAVING sum(c.points) > 0
            ORDER BY l.expires_at DESC, l.earned_at DESC, c.lot_id DESC
        LOOP
            EXIT WHEN v_left = 0;
            v_give := least(v_left, v_slice.net);
            UPDATE lots SET remaining = remaining + v_give WHERE id = v_slice.lot_id;
            INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, redeeming_partner_id, created_at)
            VALUES (v_entry, v_slice.lot_id, -v_give, 'RESTORE', v_orig.partner_id, p_now);
            v_left := v_left - v_give;
        END LOOP;
        IF v_left <> 0 THEN
            RAISE EXCEPTION 'HUB:INTERNAL:redemption % has no lot slices for % points', v_orig.id, v_left;
        END IF;
        -- Points that repaid a debt leave the lots again.
        IF v_repaid > 0 THEN
            PERFORM hub_take_from_lots(v_orig.member_id, v_entry, v_repaid, 'CLAWBACK', NULL, p_now);
        END IF;
    END IF;
    RETURN hub_result_for(v_entry, false);
END $$;

-- Background jobs: idempotent, and safe on several hub processes at once (members another
-- process is working on are skipped, and everything is re-checked under the member lock).

-- Expires past-due lot points of up to p_limit members. Returns (members, points).
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
