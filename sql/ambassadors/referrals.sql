-- Referrals: an ambassador's code attached to a member at a partner, converted (scored and
-- rewarded) on the member's first earn there.

-- Attaches a referral code to a member at the partner where it is used. Refuses an unknown
-- code, a code of another partner (or of an ambassador not enrolled for this partner) and a
-- self-referral. Does nothing (returns false) when
-- the member already has a referral at this partner or has already earned there: only a
-- first earn converts. The member's balance row is locked so that an earn running at the
-- same time is either seen here or sees this referral.
CREATE OR REPLACE FUNCTION hub_attach_referral(p_code text, p_member_id uuid, p_partner_id uuid,
                                    p_except_entry uuid, p_now timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_code referral_codes%ROWTYPE;
    v_ambassador_member uuid;
BEGIN
    SELECT * INTO v_code FROM referral_codes WHERE code = upper(p_code);
    IF NOT FOUND THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'unknown referral code'));
    END IF;
    IF v_code.partner_id IS NOT NULL AND v_code.partner_id <> p_partner_id THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'this referral code is for another partner'));
    END IF;
    -- Conversion records activity at this partner: the ambassador must be enrolled for it.
    IF NOT EXISTS (SELECT 1 FROM ambassador_enrollments e
                   WHERE e.ambassador_id = v_code.ambassador_id
                     AND (e.partner_id = p_partner_id OR e.partner_id IS NULL)) THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'this referral code cannot be used at this partner'));
    END IF;
    SELECT member_id INTO v_ambassador_member FROM ambassadors WHERE id = v_code.ambassador_id;
    IF v_ambassador_member = p_member_id THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', 'a member cannot use its own referral code'));
    END IF;
    PERFORM 1 FROM member_balances WHERE member_id = p_member_id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM referrals WHERE referred_member_id = p_member_id AND partner_id = p_partner_id)
       OR EXISTS (SELECT 1 FROM journal_entries
                  WHERE member_id = p_member_id AND partner_id = p_partner_id AND kind = 'ISSUE'
                    AND id IS DISTINCT FROM p_except_entry) THEN
        RETURN false;
    END IF;
    INSERT INTO referrals (id, code, ambassador_id, referred_member_id, partner_id, created_at)
    VALUES (hub_uuid_v7(), v_code.code, v_code.ambassador_id, p_member_id, p_partner_id, p_now);
    RETURN true;
END $$;

-- Converts the member's pending referral at the partner, if any: called after each earn.
-- Scores a REFERRAL activity for the ambassador and issues the partner's referral reward.
CREATE OR REPLACE FUNCTION hub_convert_referral(p_member_id uuid, p_partner_id uuid,
                                     p_reward_expires_at timestamptz, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_referral referrals%ROWTYPE;
    v_partner partners%ROWTYPE;
    v_activity uuid;
BEGIN
    SELECT * INTO v_referral FROM referrals
    WHERE referred_member_id = p_member_id AND partner_id = p_partner_id AND converted_at IS NULL
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO v_partner FROM partners WHERE id = p_partner_id;
    SELECT r.activity_id INTO v_activity
    FROM hub_record_activity('referral', v_referral.id::text, '\x00'::bytea, p_partner_id,
                             v_referral.ambassador_id, 'REFERRAL', v_partner.referral_score,
                             v_partner.referral_reward_points, p_reward_expires_at,
                             'referral ' || v_referral.code, p_now, p_now) r;
    UPDATE referrals SET converted_at = p_now, activity_id = v_activity WHERE id = v_referral.id;
END $$;
