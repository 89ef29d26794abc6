-- Pending points: an earn at a partner with a return window (and its campaign bonuses) is
-- booked to the member's pending account and a pending lot; when the window ends, a
-- RELEASE entry per pending lot makes it available (a debt is repaid first, the rest
-- becomes a lot with the same id). Releases happen before any spend of the member (in
-- hub_expire_member_lots, which every spend calls), by the expiry job (ledger_release_pending),
-- and a read shows due points as available already (hub_due_pending), so nothing waits on
-- the job. Settlement and tiers count pending points when they are released.

-- The member's pending account, opened with its first pending points (member locked).
CREATE OR REPLACE FUNCTION hub_pending_account(p_member_id uuid) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_account bigint;
BEGIN
    SELECT pending_account INTO v_account FROM member_balances WHERE member_id = p_member_id;
    IF v_account IS NULL THEN
        INSERT INTO accounts (kind, member_id) VALUES ('MEMBER_PENDING', p_member_id) RETURNING id INTO v_account;
        UPDATE member_balances SET pending_account = v_account WHERE member_id = p_member_id;
    END IF;
    RETURN v_account;
END $$;

-- Books p_points pending for the member (locked) from the issuer's issuance account: the
-- entry p_entry (already inserted by the caller) gets its postings and pending lot.
CREATE OR REPLACE FUNCTION hub_book_pending(
    p_entry uuid, p_member_id uuid, p_issuer uuid, p_points bigint,
    p_available_at timestamptz, p_expires_at timestamptz, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_account bigint := hub_pending_account(p_member_id);
BEGIN
    UPDATE member_balances
    SET pending = pending + p_points,
        next_available_at = least(next_available_at, p_available_at),
        updated_at = p_now
    WHERE member_id = p_member_id;
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT p_entry, pa.issuance_account, -p_points FROM partner_accounts pa WHERE pa.partner_id = p_issuer
    UNION ALL
    SELECT p_entry, v_account, p_points;
    INSERT INTO pending_lots (id, member_id, issuer_partner_id, points, remaining, earned_at, available_at, expires_at)
    VALUES (p_entry, p_member_id, p_issuer, p_points, p_points, p_now, p_available_at, p_expires_at);
END $$;

-- The earliest end of a window among the member's open pending lots.
CREATE OR REPLACE FUNCTION hub_refresh_next_available(p_member_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE member_balances
    SET next_available_at = (SELECT min(p.available_at) FROM pending_lots p
                             WHERE p.member_id = p_member_id AND p.closed_at IS NULL)
    WHERE member_id = p_member_id;
END $$;

-- A reversal of p_points of the pending earn or bonus p_orig (member locked): the points
-- leave the pending account back to the issuer; no debt, nothing spent. Returns false when
-- p_orig has no open pending lot (its points are available: a clawback instead).
CREATE OR REPLACE FUNCTION hub_cancel_pending(
    p_orig journal_entries, p_entry uuid, p_points bigint, p_reference text, p_now timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_lot pending_lots%ROWTYPE;
BEGIN
    UPDATE pending_lots
    SET remaining = remaining - p_points,
        closed_at = CASE WHEN remaining = p_points THEN p_now END
    WHERE id = p_orig.id AND closed_at IS NULL
    RETURNING * INTO v_lot;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE member_balances SET pending = pending - p_points, updated_at = p_now
    WHERE member_id = p_orig.member_id;
    IF v_lot.closed_at IS NOT NULL THEN
        PERFORM hub_refresh_next_available(p_orig.member_id);
    END IF;
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, reverses_entry_id,
                                 reference, available_at, created_at)
    VALUES (p_entry, 'REVERSE_ISSUE', p_orig.member_id, p_orig.partner_id, p_points, p_orig.id,
            p_reference, v_lot.available_at, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT p_entry, b.pending_account, -p_points FROM member_balances b WHERE b.member_id = p_orig.member_id
    UNION ALL
    SELECT p_entry, pa.issuance_account, p_points FROM partner_accounts pa WHERE pa.partner_id = p_orig.partner_id;
    RETURN true;
END $$;

-- Releases the member's pending lots whose window has ended by p_now (member locked by the
-- caller), earliest-expiring first (a debt is repaid from those first). Returns the
-- points released.
CREATE OR REPLACE FUNCTION hub_release_member_pending(p_member_id uuid, p_now timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_lot record;
    v_entry uuid;
    v_repaid bigint;
    v_total bigint := 0;
BEGIN
    PERFORM 1 FROM member_balances WHERE member_id = p_member_id AND next_available_at <= p_now;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    FOR v_lot IN
        SELECT p.*, o.kind AS earn_kind FROM pending_lots p JOIN journal_entries o ON o.id = p.id
        WHERE p.member_id = p_member_id AND p.closed_at IS NULL AND p.available_at <= p_now
        ORDER BY p.expires_at, p.id
    LOOP
        v_entry := hub_uuid_v7();
        -- (A lot whose every point was reversed is already closed: remaining > 0 here.)
        v_repaid := hub_credit_member(p_member_id, v_lot.remaining, v_lot.earn_kind = 'ISSUE', p_now);
        UPDATE member_balances SET pending = pending - v_lot.remaining WHERE member_id = p_member_id;
        INSERT INTO journal_entries (id, kind, member_id, partner_id, points, related_entry_id,
                                     debt_repaid, created_at)
        VALUES (v_entry, 'RELEASE', p_member_id, v_lot.issuer_partner_id, v_lot.remaining, v_lot.id,
                v_repaid, p_now);
        INSERT INTO postings (entry_id, account_id, amount)
        SELECT v_entry, b.pending_account, -v_lot.remaining FROM member_balances b WHERE b.member_id = p_member_id
        UNION ALL
        SELECT v_entry, b.available_account, v_lot.remaining FROM member_balances b WHERE b.member_id = p_member_id;
        IF v_lot.remaining > v_repaid THEN
            INSERT INTO lots (id, member_id, issuer_partner_id, points, remaining, earned_at, expires_at)
            VALUES (v_lot.id, p_member_id, v_lot.issuer_partner_id, v_lot.remaining - v_repaid,
                    v_lot.remaining - v_repaid, v_lot.earned_at, v_lot.expires_at);
        END IF;
        UPDATE pending_lots SET closed_at = p_now, released_entry_id = v_entry WHERE id = v_lot.id;
        v_total := v_total + v_lot.remaining;
    END LOOP;
    PERFORM hub_refresh_next_available(p_member_id);
    RETURN v_total;
END $$;

-- What a read shows of the member's due pending points before anything released them:
-- `points` due in all, `earned` of them from earns (bonuses do not count as earned), and
-- `spendable`: what would be available of them once released (a debt repaid first from the
-- earliest-expiring, and points already past their expiry expired), as
-- hub_release_member_pending then hub_expire_member_lots would book it.
CREATE OR REPLACE FUNCTION hub_due_pending(p_member_id uuid, p_debt bigint, p_now timestamptz,
    OUT points bigint, OUT earned bigint, OUT spendable bigint)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(d.remaining), 0)::bigint,
           coalesce(sum(d.remaining) FILTER (WHERE d.earn_kind = 'ISSUE'), 0)::bigint,
           coalesce(sum(d.remaining - least(d.remaining, greatest(p_debt - d.before, 0)))
                    FILTER (WHERE d.expires_at > p_now), 0)::bigint
    FROM (SELECT p.remaining, p.expires_at, o.kind AS earn_kind,
                 coalesce(sum(p.remaining) OVER (ORDER BY p.expires_at, p.id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
          FROM pending_lots p JOIN journal_entries o ON o.id = p.id
          WHERE p.member_id = p_member_id AND p.closed_at IS NULL AND p.available_at <= p_now) d
$$;

-- The expiry job's part: releases the due pending lots of up to p_limit members; answers
-- as ledger_expire_lots does (ledger/expire.sql), one element per member released.
CREATE OR REPLACE FUNCTION ledger_release_pending(p_now timestamptz, p_limit int) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_member uuid;
    v_entry uuid;
    v_points bigint;
    v_released jsonb := '[]'::jsonb;
    v_one hub_expired;
BEGIN
    FOR v_member IN
        SELECT DISTINCT member_id FROM pending_lots
        WHERE closed_at IS NULL AND available_at <= p_now
        LIMIT p_limit
    LOOP
        PERFORM 1 FROM member_balances WHERE member_id = v_member FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        v_points := hub_release_member_pending(v_member, p_now);
        CONTINUE WHEN v_points = 0;
        SELECT id INTO v_entry FROM journal_entries
        WHERE member_id = v_member AND kind = 'RELEASE' ORDER BY id DESC LIMIT 1;
        v_one := hub_expired_for(v_entry);
        v_one.points := v_points;
        v_released := v_released || jsonb_build_array(to_jsonb(v_one));
    END LOOP;
    RETURN jsonb_build_object('ok', v_released);
END $$;
