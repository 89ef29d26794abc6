-- Crediting a member: debt first, then available points.

-- Adds points to a member: a points debt is repaid first, the rest becomes available.
-- Returns the part that repaid debt. p_earned counts the points as earned (tiers).
CREATE OR REPLACE FUNCTION hub_credit_member(p_member_id uuid, p_points bigint, p_earned boolean, p_now timestamptz)
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
