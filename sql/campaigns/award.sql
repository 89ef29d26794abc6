-- Campaign bonuses, booked in the earn's transaction (issue 23). The hub decides which
-- campaigns an earn qualifies for and the bonus of each (domain::campaign); here each
-- becomes an entry of its own (kind BONUS, the sponsor as its partner, the earn as its
-- related entry) with a lot whose issuer is the sponsor, so that expiry and settlement
-- attribute the bonus to the sponsor, within the campaign's member cap and budget.

-- Books an earn's bonuses (p_bonuses: [{"campaign_id", "points"}]) for its member, whom the
-- earn has locked (so the member cap is counted alone). A bonus is cut to what the member
-- cap and the budget leave. A campaign with a budget is locked while the budget is counted:
-- concurrent earns wait for each other there and can never pass it; one without a budget
-- is only read (no hot row). A campaign ended, or outside its window, meanwhile gives
-- nothing.
CREATE OR REPLACE FUNCTION hub_book_bonuses(p_earn uuid, p_member uuid, p_bonuses jsonb,
                                            p_expires_at timestamptz, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_bonus record;
    v_campaign campaigns%ROWTYPE;
    v_points bigint;
BEGIN
    FOR v_bonus IN
        SELECT (b ->> 'campaign_id')::uuid AS campaign_id, (b ->> 'points')::numeric AS points
        FROM jsonb_array_elements(p_bonuses) b
        ORDER BY 1
    LOOP
        SELECT * INTO v_campaign FROM campaigns WHERE id = v_bonus.campaign_id;
        IF FOUND AND v_campaign.budget IS NOT NULL THEN
            SELECT * INTO v_campaign FROM campaigns WHERE id = v_bonus.campaign_id FOR UPDATE;
        END IF;
        CONTINUE WHEN NOT FOUND OR v_campaign.ended_at IS NOT NULL
            OR p_now < v_campaign.starts_at OR p_now >= v_campaign.ends_at;
        v_points := least(v_bonus.points, hub_max_points_per_entry());
        IF v_campaign.member_cap IS NOT NULL THEN
            v_points := least(v_points, v_campaign.member_cap - coalesce(
                (SELECT a.points FROM campaign_member_awards a
                 WHERE a.campaign_id = v_campaign.id AND a.member_id = p_member), 0));
        END IF;
        IF v_campaign.budget IS NOT NULL THEN
            v_points := least(v_points, v_campaign.budget - v_campaign.awarded);
        END IF;
        CONTINUE WHEN v_points <= 0;
        IF v_campaign.budget IS NOT NULL THEN
            UPDATE campaigns SET awarded = awarded + v_points WHERE id = v_campaign.id;
        END IF;
        IF v_campaign.member_cap IS NOT NULL THEN
            INSERT INTO campaign_member_awards (campaign_id, member_id, points)
            VALUES (v_campaign.id, p_member, v_points)
            ON CONFLICT (campaign_id, member_id)
            DO UPDATE SET points = campaign_member_awards.points + excluded.points;
        END IF;
        PERFORM hub_book_bonus(p_earn, p_member, v_campaign, v_points, p_expires_at, p_now);
    END LOOP;
END $$;

-- One bonus: the entry, its postings (the sponsor's issuance account to the member) and its
-- lot (what did not repay a points debt).
CREATE OR REPLACE FUNCTION hub_book_bonus(p_earn uuid, p_member uuid, p_campaign campaigns,
                                          p_points bigint, p_expires_at timestamptz,
                                          p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid := hub_uuid_v7();
    v_repaid bigint := hub_credit_member(p_member, p_points, false, p_now);
BEGIN
    INSERT INTO journal_entries (id, kind, member_id, partner_id, points, debt_repaid,
                                 related_entry_id, campaign_id, created_at)
    VALUES (v_entry, 'BONUS', p_member, p_campaign.sponsor_partner_id, p_points, v_repaid,
            p_earn, p_campaign.id, p_now);
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT v_entry, pa.issuance_account, -p_points
    FROM partner_accounts pa WHERE pa.partner_id = p_campaign.sponsor_partner_id
    UNION ALL
    SELECT v_entry, b.available_account, p_points
    FROM member_balances b WHERE b.member_id = p_member;
    IF p_points > v_repaid THEN
        INSERT INTO lots (id, member_id, issuer_partner_id, points, remaining, earned_at, expires_at)
        VALUES (v_entry, p_member, p_campaign.sponsor_partner_id, p_points - v_repaid,
                p_points - v_repaid, p_now, p_expires_at);
    END IF;
END $$;
