-- Group commit by sets: the plain operations of a ledger_batch call, booked together, one
-- statement per table for all of them. Plain: an earn, or a redemption under the member's
-- standing consent (no presence code to use up), by a known member who owes nothing, with
-- enough points, no lot past due, no pending points due for release, no return window at
-- the earn's partner, no referral to convert, no tier
-- multiplier, a key not seen before, and no other operation on that member or key in the
-- batch, no campaign bonus. What they write is exactly what ledger_issue and ledger_redeem write (the
-- differential test tests/it/ledger_batch.rs books random batches both ways). Every other
-- operation (refusals, replays, enrolments, debts, expiry, referrals, tiers) then goes one
-- by one through those functions (hub_batch_one, ledger/batch.sql).
--
-- The set is decided after its members are locked (every member the batch names, in one
-- order, so that concurrent batches cannot deadlock on each other), and ledger_batch runs it
-- in a subtransaction of its own: if anything in it fails, the whole set is rolled back and
-- its operations go one by one instead, with the refusals they would have had anyway.
--
-- Plans: the statements' parameters are whole arrays, so PostgreSQL planned them anew on
-- every call (custom plans), and planning cost more than running them for small batches.
-- Their best plans do not depend on what the arrays hold (every table is reached by its
-- key), so hub_batch_sets runs with plan_cache_mode = force_generic_plan and each
-- connection plans them once. The setting holds for the whole call, so the steps below
-- (hub_batch_named, hub_batch_plain, hub_batch_book, hub_batch_take_lots), which only
-- hub_batch_sets calls, are planned the same way. PostgreSQL plans again when ANALYZE
-- changes a table's statistics.
--
-- A redemption's first open lot (first to expire) is looked up once, when the set is
-- decided: it must not be past due (else expiry goes first, one by one), and when every
-- redemption of the set fits in its first lot, as most do, the slices are written from the
-- rows alone; the statement that walks all of a member's lots runs only when some
-- redemption needs more. Statements a set does not need (lots for a set without earns,
-- slices for one without redemptions) are skipped.
--
-- Returns {"<ord>": answer} for the operations it booked (ord: 1-based position in p_ops).
CREATE OR REPLACE FUNCTION hub_batch_sets(p_ops jsonb) RETURNS jsonb LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_named hub_batch_row[];
    v_rows hub_batch_row[];
    v_issues boolean;
    v_redemptions boolean;
    v_first_lots_do boolean;
    v_done jsonb;
BEGIN
    v_named := hub_batch_named(p_ops);
    -- Every member named, locked in one order: the operations that go one by one later
    -- then wait for no one, and two batches cannot wait for each other.
    PERFORM 1 FROM member_balances b
    WHERE b.member_id = ANY (ARRAY(SELECT n.member_id FROM unnest(v_named) n))
    ORDER BY b.member_id
    FOR UPDATE;

    SELECT p.plain_rows, p.has_issues, p.has_redemptions, p.first_lots_do
    INTO v_rows, v_issues, v_redemptions, v_first_lots_do
    FROM hub_batch_plain(v_named) p;
    IF cardinality(v_rows) = 0 THEN
        RETURN '{}'::jsonb;
    END IF;
    v_done := hub_batch_book(v_rows, v_issues);
    IF v_redemptions THEN
        PERFORM hub_batch_take_lots(v_rows, v_first_lots_do);
    END IF;
    RETURN v_done;
END $$;

-- Step 1: the batch's operations as rows, with the member each names (NULL: nobody yet, or
-- a name that finds no one).
CREATE OR REPLACE FUNCTION hub_batch_named(p_ops jsonb) RETURNS hub_batch_row[] LANGUAGE plpgsql AS $$
DECLARE
    v_named hub_batch_row[];
BEGIN
    SELECT array_agg(ROW(e.ord, o.op, o.caller, o.key, decode(o.fingerprint, 'hex'), o.partner_id,
                         CASE WHEN o.customer_id IS NOT NULL THEN
                                  (SELECT l.member_id FROM member_links l
                                   WHERE l.partner_id = o.partner_id AND l.partner_customer_id = o.customer_id)
                              WHEN o.member_number IS NOT NULL THEN
                                  (SELECT m.id FROM members m WHERE m.member_number = o.member_number)
                              ELSE (SELECT m.id FROM members m WHERE m.id = o.member_id) END,
                         o.points, NULL, o.reference, o.expires_at, o.purchase_amount,
                         o.purchase_currency, NULL, o.now, NULL, NULL, o.referral_code,
                         o.presence_code IS NOT NULL, NULL, NULL,
                         jsonb_array_length(coalesce(o.bonuses, '[]')) > 0)::hub_batch_row)
    INTO v_named
    FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS e (value, ord)
    CROSS JOIN LATERAL jsonb_to_record(e.value) AS o (
        op text, caller text, key text, fingerprint text, partner_id uuid, member_id uuid,
        member_number text, customer_id text, points bigint, purchase_amount numeric,
        purchase_currency text, expires_at timestamptz, reference text, referral_code text,
        presence_code text, bonuses jsonb, now timestamptz);
    RETURN v_named;
END $$;

-- Step 2: of the named operations (members locked), the plain ones, with their points, a new
-- entry id, their accounts and, for a redemption, its member's first open lot; and whether
-- the set has earns, redemptions, and redemptions that all fit in their first lot.
CREATE OR REPLACE FUNCTION hub_batch_plain(
    p_named hub_batch_row[], OUT plain_rows hub_batch_row[], OUT has_issues boolean,
    OUT has_redemptions boolean, OUT first_lots_do boolean)
LANGUAGE plpgsql AS $$
BEGIN
    -- The plain operations, decided on the locked balances. A redemption's member's first
    -- open lot (first to expire) comes along: it must not be past due (else expiry goes
    -- first, one by one), and most redemptions take from it alone.
    SELECT coalesce(array_agg(ROW(
               n.ord, n.op, n.caller, n.key, n.fingerprint, n.partner_id, n.member_id,
               CASE WHEN n.op = 'issue' AND n.purchase_amount IS NOT NULL
                    THEN floor(n.purchase_amount * p.earn_rate)::bigint ELSE n.points END,
               hub_uuid_v7(), n.reference, n.expires_at, n.purchase_amount,
               CASE WHEN n.purchase_amount IS NOT NULL THEN n.purchase_currency END,
               CASE WHEN n.purchase_amount IS NOT NULL THEN p.earn_rate END,
               n.now,
               CASE n.op WHEN 'issue' THEN pa.issuance_account ELSE pa.redemption_account END,
               b.available_account, NULL, NULL, f.id, f.free, n.with_bonuses)::hub_batch_row ORDER BY n.ord), '{}'),
           coalesce(bool_or(n.op = 'issue'), false),
           coalesce(bool_or(n.op = 'redeem'), false),
           coalesce(bool_and(n.op <> 'redeem' OR f.free >= n.points), true)
    INTO plain_rows, has_issues, has_redemptions, first_lots_do
    FROM (SELECT r.*,
                 count(*) OVER (PARTITION BY r.member_id) AS per_member,
                 count(*) OVER (PARTITION BY r.caller, r.key) AS per_key
          FROM unnest(p_named) r
          WHERE r.member_id IS NOT NULL) n
    JOIN partners p ON p.id = n.partner_id
    JOIN partner_accounts pa ON pa.partner_id = n.partner_id
    JOIN member_balances b ON b.member_id = n.member_id
    -- (n.op inside: earns do not look for lots at all)
    LEFT JOIN LATERAL (
        SELECT l.id, l.remaining - l.reserved AS free, l.expires_at
        FROM lots l
        WHERE n.op = 'redeem' AND l.member_id = n.member_id AND l.remaining > l.reserved
        ORDER BY l.expires_at, l.earned_at, l.id
        LIMIT 1) f ON true
    WHERE n.per_member = 1 AND n.per_key = 1
      AND p.status = 'ACTIVE' AND b.debt = 0
      AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.caller = n.caller AND k.key = n.key)
      AND CASE n.op
          WHEN 'redeem' THEN
              p.accepts_redemptions AND n.points > 0 AND b.available >= n.points
              AND NOT n.with_presence_code
              AND EXISTS (SELECT 1 FROM member_consents c
                          WHERE c.member_id = n.member_id AND c.partner_id = n.partner_id)
              AND f.expires_at > n.now
              AND NOT coalesce(b.next_available_at <= n.now, false)
          WHEN 'issue' THEN
              p.return_window_days = 0 AND NOT p.applies_tier_multiplier AND n.referral_code IS NULL AND NOT n.with_bonuses
              AND CASE WHEN n.purchase_amount IS NULL THEN n.points > 0
                       ELSE n.purchase_currency = p.currency
                            AND floor(n.purchase_amount * p.earn_rate)
                                BETWEEN 1 AND hub_max_points_per_entry() END
              AND NOT EXISTS (SELECT 1 FROM referrals r
                              WHERE r.referred_member_id = n.member_id
                                AND r.partner_id = n.partner_id AND r.converted_at IS NULL)
          ELSE false END;
END $$;

-- Step 3: the set's bookings, one statement per table: keys, balances, entries, postings and
-- the earns' lots. Returns the answers by ord (ledger/answers.sql).
CREATE OR REPLACE FUNCTION hub_batch_book(p_rows hub_batch_row[], p_issues boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_count bigint;
    v_done jsonb;
BEGIN
    -- Claimed first; a key another batch claimed meanwhile sends the set one by one.
    INSERT INTO idempotency_keys (caller, key, fingerprint, entry_id)
    SELECT r.caller, r.key, r.fingerprint, r.entry_id FROM unnest(p_rows) r
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count <> cardinality(p_rows) THEN
        RAISE EXCEPTION 'HUB:INTERNAL:a key of the set was claimed meanwhile';
    END IF;

    WITH changed AS (
        UPDATE member_balances b
        SET available = b.available + CASE r.op WHEN 'issue' THEN r.points ELSE -r.points END,
            lifetime_earned = b.lifetime_earned + CASE r.op WHEN 'issue' THEN r.points ELSE 0 END,
            updated_at = r.now
        FROM unnest(p_rows) r
        WHERE b.member_id = r.member_id AND b.debt = 0
          AND (r.op = 'issue' OR b.available >= r.points)
        RETURNING r.ord, r.entry_id, b.member_id, b.available, b.held, b.debt, b.lifetime_earned, b.pending
    )
    SELECT count(*), jsonb_object_agg(c.ord::text, jsonb_build_object('ok', to_jsonb(ROW(
               c.entry_id, NULL, c.member_id, c.available, c.held, c.debt, c.lifetime_earned,
               false, c.pending)::hub_result)))
    INTO v_count, v_done
    FROM changed c;
    IF v_count <> cardinality(p_rows) THEN
        RAISE EXCEPTION 'HUB:INTERNAL:a balance of the set changed under its lock';
    END IF;

    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reference,
                                 purchase_amount, purchase_currency, earn_rate, created_at)
    SELECT r.entry_id, CASE r.op WHEN 'issue' THEN 'ISSUE' ELSE 'REDEEM' END, r.member_id,
           r.partner_id, r.points, r.reference, r.purchase_amount, r.purchase_currency,
           r.earn_rate, r.now
    FROM unnest(p_rows) r;

    INSERT INTO postings (entry_id, account_id, amount)
    SELECT r.entry_id, r.partner_account, CASE r.op WHEN 'issue' THEN -r.points ELSE r.points END
    FROM unnest(p_rows) r
    UNION ALL
    SELECT r.entry_id, r.member_account, CASE r.op WHEN 'issue' THEN r.points ELSE -r.points END
    FROM unnest(p_rows) r;

    IF p_issues THEN
        INSERT INTO lots (id, member_id, issuer_partner_id, points, remaining, earned_at, expires_at)
        SELECT r.entry_id, r.member_id, r.partner_id, r.points, r.points, r.now, r.expires_at
        FROM unnest(p_rows) r
        WHERE r.op = 'issue';
    END IF;

    RETURN v_done;
END $$;

-- Step 4 (a set with redemptions): their lot slices; each redemption takes from its
-- member's lots first-expiring-first, as hub_take_from_lots does.
CREATE OR REPLACE FUNCTION hub_batch_take_lots(p_rows hub_batch_row[], p_first_lots_do boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_first_lots_do THEN
        -- Every redemption fits in its member's first lot, found when the set was decided.
        WITH lots_left AS (
            UPDATE lots SET remaining = lots.remaining - r.points
            FROM unnest(p_rows) r WHERE r.op = 'redeem' AND lots.id = r.lot_id
        )
        INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, redeeming_partner_id, created_at)
        SELECT r.entry_id, r.lot_id, r.points, 'REDEEM', r.partner_id, r.now
        FROM unnest(p_rows) r WHERE r.op = 'redeem';
    ELSE
        -- Some need more: a lot gives what is left of the redemption after the lots before
        -- it, up to its free points.
        WITH taken AS (
            SELECT r.entry_id, r.partner_id, r.now, r.lot_id, r.points AS take
            FROM unnest(p_rows) r
            WHERE r.op = 'redeem' AND r.lot_free >= r.points
            UNION ALL
            SELECT s.entry_id, s.partner_id, s.now, s.lot_id, s.take
            FROM (SELECT r.entry_id, r.partner_id, r.now, l.id AS lot_id,
                         least(l.remaining - l.reserved,
                               r.points - (sum(l.remaining - l.reserved) OVER w - (l.remaining - l.reserved))::bigint) AS take
                  FROM unnest(p_rows) r
                  JOIN lots l ON l.member_id = r.member_id AND l.remaining > l.reserved
                  WHERE r.op = 'redeem' AND r.lot_free < r.points
                  WINDOW w AS (PARTITION BY r.entry_id ORDER BY l.expires_at, l.earned_at, l.id)) s
            WHERE s.take > 0
        ), lots_left AS (
            UPDATE lots SET remaining = lots.remaining - t.take FROM taken t WHERE lots.id = t.lot_id
        )
        INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, redeeming_partner_id, created_at)
        SELECT t.entry_id, t.lot_id, t.take, 'REDEEM', t.partner_id, t.now FROM taken t;
    END IF;

END $$;
