-- What the ledger functions answer about a member after an entry.

-- Two primary-key lookups rather than a join: a cached plan for a join may be made while
-- the tables have no statistics yet (a new database) and then scan them.
CREATE OR REPLACE FUNCTION hub_result_for(p_entry_id uuid, p_replayed boolean) RETURNS hub_result
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v hub_result;
BEGIN
    SELECT e.id, e.hold_id, e.member_id INTO v.entry_id, v.hold_id, v.member_id
    FROM journal_entries e WHERE e.id = p_entry_id;
    SELECT b.available, b.held, b.debt, b.lifetime_earned, b.pending
    INTO v.available, v.held, v.debt, v.lifetime_earned, v.pending
    FROM member_balances b WHERE b.member_id = v.member_id;
    v.replayed := p_replayed;
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION hub_expired_for(p_entry_id uuid) RETURNS hub_expired LANGUAGE plpgsql STABLE AS $$
DECLARE
    v hub_expired;
BEGIN
    SELECT e.id, e.member_id, e.points INTO v.entry_id, v.member_id, v.points
    FROM journal_entries e WHERE e.id = p_entry_id;
    SELECT b.available, b.held, b.debt, b.lifetime_earned, b.pending
    INTO v.available, v.held, v.debt, v.lifetime_earned, v.pending
    FROM member_balances b WHERE b.member_id = v.member_id;
    RETURN v;
END $$;
