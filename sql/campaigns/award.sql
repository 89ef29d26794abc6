-- Campaign bonuses, booked in the earn's transaction (issue 23). The hub decides which
-- campaigns an earn qualifies for and the bonus of each (domain::campaign); here each
-- becomes an entry of its own (kind BONUS, the sponsor as its partner, the earn as its
-- related entry) with a lot whose issuer is the sponsor, so that expiry and settlement
-- attribute the bonus to the sponsor, within the campaign's member cap and budget.

-- (Bonuses were booked one by one by hub_book_bonus before 2026-12-05; gone.)
DROP FUNCTION IF EXISTS hub_book_bonus(uuid, uuid, campaigns, bigint, timestamptz, timestamptz);

-- Books an earn's bonuses (p_bonuses: [{"campaign_id", "points"}]) for its member, whom the
-- earn has locked (so the member caps are counted alone). A bonus is cut to what the member
-- cap and the budget leave. Campaigns with a budget are locked (in id order; ledger_batch
-- already took them first, hub_lock_budgets) while their budgets are counted: concurrent
-- earns wait for each other there and can never pass them; campaigns without one are only
-- read (no hot row). A campaign ended, or outside its
-- window, meanwhile gives nothing. One statement per table for all the bonuses of the
-- earn: its entries, postings and lots.
CREATE OR REPLACE FUNCTION hub_book_bonuses(p_earn uuid, p_member uuid, p_bonuses jsonb,
                                            p_expires_at timestamptz, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_campaigns uuid[];
    v_sponsors uuid[];
    v_points bigint[];
    v_entries uuid[];
    v_repaid bigint[];
    v_debt bigint;
    v_available_at timestamptz;
BEGIN
    PERFORM 1 FROM campaigns c
    WHERE c.id IN (SELECT (b ->> 'campaign_id')::uuid FROM jsonb_array_elements(p_bonuses) b)
      AND c.budget IS NOT NULL
    ORDER BY c.id
    FOR UPDATE;
    SELECT array_agg(x.id ORDER BY x.id), array_agg(x.sponsor ORDER BY x.id),
           array_agg(x.points ORDER BY x.id), array_agg(hub_uuid_v7() ORDER BY x.id)
    INTO v_campaigns, v_sponsors, v_points, v_entries
    FROM (SELECT c.id, c.sponsor_partner_id AS sponsor,
                 least(w.points,
                       coalesce(c.member_cap - coalesce(a.points, 0), w.points),
                       coalesce(c.budget - c.awarded, w.points)) AS points
          FROM (SELECT (b ->> 'campaign_id')::uuid AS id,
                       least((b ->> 'points')::numeric, hub_max_points_per_entry())::bigint AS points
                FROM jsonb_array_elements(p_bonuses) b) w
          JOIN campaigns c ON c.id = w.id
          LEFT JOIN campaign_member_awards a ON a.campaign_id = c.id AND a.member_id = p_member
          WHERE c.ended_at IS NULL AND p_now >= c.starts_at AND p_now < c.ends_at) x
    WHERE x.points > 0;
    IF v_campaigns IS NULL THEN
        RETURN;
    END IF;
    PERFORM hub_count_bonuses(p_member, v_campaigns, v_points);
    -- The bonuses of a pending earn are pending with it (ledger/pending.sql).
    SELECT available_at INTO v_available_at FROM journal_entries WHERE id = p_earn;
    IF v_available_at IS NOT NULL THEN
        INSERT INTO journal_entries (id, kind, member_id, partner_id, points, related_entry_id,
                                     campaign_id, available_at, created_at)
        SELECT u.entry, 'BONUS', p_member, u.sponsor, u.points, p_earn, u.campaign, v_available_at, p_now
        FROM unnest(v_entries, v_sponsors, v_points, v_campaigns) u (entry, sponsor, points, campaign);
        PERFORM hub_book_pending(u.entry, p_member, u.sponsor, u.points, v_available_at, p_expires_at, p_now)
        FROM unnest(v_entries, v_sponsors, v_points) u (entry, sponsor, points);
        RETURN;
    END IF;
    -- A points debt is repaid first, bonus by bonus in campaign order (as hub_credit_member
    -- repays it from their sum).
    SELECT debt INTO v_debt FROM member_balances WHERE member_id = p_member;
    SELECT array_agg(r.repaid ORDER BY r.ord) INTO v_repaid
    FROM (SELECT u.ord, least(u.points, greatest(v_debt - (sum(u.points) OVER (ORDER BY u.ord) - u.points), 0)) AS repaid
          FROM unnest(v_points) WITH ORDINALITY u (points, ord)) r;
    PERFORM hub_credit_member(p_member, (SELECT sum(p) FROM unnest(v_points) p)::bigint, false, p_now);
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, debt_repaid,
                                 related_entry_id, campaign_id, created_at)
    SELECT u.entry, 'BONUS', p_member, u.sponsor, u.points, u.repaid, p_earn, u.campaign, p_now
    FROM unnest(v_entries, v_sponsors, v_points, v_repaid, v_campaigns) u (entry, sponsor, points, repaid, campaign);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT u.entry, pa.issuance_account, -u.points
    FROM unnest(v_entries, v_sponsors, v_points) u (entry, sponsor, points)
    JOIN partner_accounts pa ON pa.partner_id = u.sponsor
    UNION ALL
    SELECT u.entry, b.available_account, u.points
    FROM unnest(v_entries, v_points) u (entry, points)
    JOIN member_balances b ON b.member_id = p_member;
    INSERT INTO lots (id, member_id, issuer_partner_id, points, remaining, earned_at, expires_at)
    SELECT u.entry, p_member, u.sponsor, u.points - u.repaid, u.points - u.repaid, p_now, p_expires_at
    FROM unnest(v_entries, v_sponsors, v_points, v_repaid) u (entry, sponsor, points, repaid)
    WHERE u.points > u.repaid;
END $$;

-- The bonuses counted against their campaigns' budgets (locked by the caller) and the
-- member's caps.
CREATE OR REPLACE FUNCTION hub_count_bonuses(p_member uuid, p_campaigns uuid[], p_points bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE campaigns c SET awarded = c.awarded + u.points
    FROM unnest(p_campaigns, p_points) u (id, points)
    WHERE c.id = u.id AND c.budget IS NOT NULL;
    INSERT INTO campaign_member_awards (campaign_id, member_id, points)
    SELECT u.id, p_member, u.points
    FROM unnest(p_campaigns, p_points) u (id, points)
    JOIN campaigns c ON c.id = u.id
    WHERE c.member_cap IS NOT NULL
    ON CONFLICT (campaign_id, member_id)
    DO UPDATE SET points = campaign_member_awards.points + excluded.points;
END $$;
