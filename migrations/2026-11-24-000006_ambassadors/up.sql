-- Ambassadors and leaderboards. PostgreSQL holds the truth (ambassadors, their activity,
-- referrals); Redis holds the boards, projected through leaderboard_outbox by the relay in
-- `hub serve` (services::leaderboards). Everything here is written in the transaction of
-- the activity it records, so an activity, its reward points and its outbox row commit
-- together or not at all.

-- What a referral is worth to the partner where it converts.
ALTER TABLE partners
    ADD COLUMN referral_score bigint NOT NULL DEFAULT 10
        CHECK (referral_score BETWEEN 1 AND 1000000),
    ADD COLUMN referral_reward_points bigint NOT NULL DEFAULT 0
        CHECK (referral_reward_points BETWEEN 0 AND 1000000);

-- One public profile per member; boards show the handle, never who the member is.
CREATE TABLE ambassadors (
    id uuid PRIMARY KEY,
    member_id uuid NOT NULL UNIQUE REFERENCES members (id),
    handle text NOT NULL CHECK (handle ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$'),
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX ambassadors_handle ON ambassadors (lower(handle));

-- Who may record activity for an ambassador: the partner it is enrolled for, or any partner
-- when it is enrolled for the whole coalition (partner_id NULL).
CREATE TABLE ambassador_enrollments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ambassador_id uuid NOT NULL REFERENCES ambassadors (id),
    partner_id uuid REFERENCES partners (id),
    enrolled_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX ambassador_enrollments_scope
    ON ambassador_enrollments (ambassador_id, coalesce(partner_id, '00000000-0000-0000-0000-000000000000'));

-- The activity log: append-only, one row per scored event. Each counts on the recording
-- partner's boards and on the coalition's, in the period of occurred_at.
CREATE TABLE ambassador_activities (
    id uuid PRIMARY KEY,
    ambassador_id uuid NOT NULL REFERENCES ambassadors (id),
    partner_id uuid NOT NULL REFERENCES partners (id),
    kind text NOT NULL CHECK (kind IN ('REFERRAL', 'REVIEW', 'SOCIAL_SHARE', 'CONTENT', 'CUSTOM')),
    score bigint NOT NULL CHECK (score BETWEEN 1 AND 1000000),
    -- issued by partner_id in the same transaction; the entry is the one of idempotency key
    -- ('ambassador-reward', id)
    reward_points bigint NOT NULL DEFAULT 0 CHECK (reward_points >= 0),
    reference text CHECK (char_length(reference) <= 200),
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    -- idempotency, scoped to the caller as for the ledger
    caller text NOT NULL,
    key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    fingerprint bytea NOT NULL,
    UNIQUE (caller, key)
);
CREATE INDEX ambassador_activities_ambassador ON ambassador_activities (ambassador_id, occurred_at);
CREATE TRIGGER ambassador_activities_append_only BEFORE UPDATE OR DELETE ON ambassador_activities
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();

CREATE TABLE referral_codes (
    code text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{6,16}$'),
    ambassador_id uuid NOT NULL REFERENCES ambassadors (id),
    -- the partner where the code may be used; NULL: at any partner
    partner_id uuid REFERENCES partners (id),
    created_at timestamptz NOT NULL
);
CREATE INDEX referral_codes_ambassador ON referral_codes (ambassador_id);

-- A member referred to a partner. It converts (once) on the member's first earn there.
CREATE TABLE referrals (
    id uuid PRIMARY KEY,
    code text NOT NULL REFERENCES referral_codes (code),
    ambassador_id uuid NOT NULL REFERENCES ambassadors (id),
    referred_member_id uuid NOT NULL REFERENCES members (id),
    partner_id uuid NOT NULL REFERENCES partners (id),
    created_at timestamptz NOT NULL,
    converted_at timestamptz,
    activity_id uuid REFERENCES ambassador_activities (id),
    UNIQUE (referred_member_id, partner_id)
);

-- Activities not yet projected into Redis. The relay deletes what it has applied.
CREATE TABLE leaderboard_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- How many relay batches have been applied to Redis. Redis keeps the same number; when its
-- number is missing or behind (flushed, or restarted from an older snapshot) the boards are
-- rebuilt from PostgreSQL.
CREATE TABLE leaderboard_projection (
    id int PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO leaderboard_projection VALUES (1, 0);

---------------------------------------------------------------------------------------------

-- Records an activity for an ambassador, with its reward points, once per idempotency key.
-- Returns the activity and whether this call replayed an earlier one.
CREATE FUNCTION ambassador_record_activity(
    p_caller text, p_key text, p_fingerprint bytea, p_partner_id uuid, p_ambassador_id uuid,
    p_kind text, p_score bigint, p_reward_points bigint, p_reward_expires_at timestamptz,
    p_reference text, p_occurred_at timestamptz, p_now timestamptz)
RETURNS TABLE (activity_id uuid, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := hub_uuid_v7();
    v_existing ambassador_activities%ROWTYPE;
    v_member uuid;
BEGIN
    INSERT INTO ambassador_activities (id, ambassador_id, partner_id, kind, score, reward_points,
                                       reference, occurred_at, recorded_at, caller, key, fingerprint)
    VALUES (v_id, p_ambassador_id, p_partner_id, p_kind, p_score, p_reward_points,
            p_reference, p_occurred_at, p_now, p_caller, p_key, p_fingerprint)
    ON CONFLICT (caller, key) DO NOTHING;
    IF NOT FOUND THEN
        SELECT * INTO v_existing FROM ambassador_activities a WHERE a.caller = p_caller AND a.key = p_key;
        IF v_existing.fingerprint <> p_fingerprint THEN
            RAISE EXCEPTION 'HUB:IDEMPOTENCY_KEY_REUSED:';
        END IF;
        RETURN QUERY SELECT v_existing.id, true;
        RETURN;
    END IF;
    PERFORM hub_active_partner(p_partner_id);
    SELECT a.member_id INTO v_member
    FROM ambassadors a JOIN ambassador_enrollments e ON e.ambassador_id = a.id
    WHERE a.id = p_ambassador_id AND (e.partner_id = p_partner_id OR e.partner_id IS NULL)
    LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'HUB:NOT_FOUND:ambassador';
    END IF;
    IF p_reward_points > 0 THEN
        PERFORM ledger_issue('ambassador-reward', v_id::text, '\x00'::bytea, p_partner_id,
                             v_member, NULL, NULL, NULL, NULL, p_reward_points, NULL, NULL,
                             p_reward_expires_at, 'ambassador reward', p_now);
    END IF;
    INSERT INTO leaderboard_outbox (activity_id) VALUES (v_id);
    RETURN QUERY SELECT v_id, false;
END $$;

-- Attaches a referral code to a member at the partner where it is used. Refuses an unknown
-- code, a code of another partner (or of an ambassador not enrolled for this partner) and a
-- self-referral. Does nothing (returns false) when
-- the member already has a referral at this partner or has already earned there: only a
-- first earn converts. The member's balance row is locked so that an earn running at the
-- same time is either seen here or sees this referral.
CREATE FUNCTION hub_attach_referral(p_code text, p_member_id uuid, p_partner_id uuid,
                                    p_except_entry uuid, p_now timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_code referral_codes%ROWTYPE;
    v_ambassador_member uuid;
BEGIN
    SELECT * INTO v_code FROM referral_codes WHERE code = upper(p_code);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:unknown referral code';
    END IF;
    IF v_code.partner_id IS NOT NULL AND v_code.partner_id <> p_partner_id THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this referral code is for another partner';
    END IF;
    -- Conversion records activity at this partner: the ambassador must be enrolled for it.
    IF NOT EXISTS (SELECT 1 FROM ambassador_enrollments e
                   WHERE e.ambassador_id = v_code.ambassador_id
                     AND (e.partner_id = p_partner_id OR e.partner_id IS NULL)) THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:this referral code cannot be used at this partner';
    END IF;
    SELECT member_id INTO v_ambassador_member FROM ambassadors WHERE id = v_code.ambassador_id;
    IF v_ambassador_member = p_member_id THEN
        RAISE EXCEPTION 'HUB:BAD_USER_INPUT:a member cannot use its own referral code';
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
CREATE FUNCTION hub_convert_referral(p_member_id uuid, p_partner_id uuid,
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
    FROM ambassador_record_activity('referral', v_referral.id::text, '\x00'::bytea, p_partner_id,
                                    v_referral.ambassador_id, 'REFERRAL', v_partner.referral_score,
                                    v_partner.referral_reward_points, p_reward_expires_at,
                                    'referral ' || v_referral.code, p_now, p_now) r;
    UPDATE referrals SET converted_at = p_now, activity_id = v_activity WHERE id = v_referral.id;
END $$;

-- ledger_batch as before, plus referrals: an issue may carry a referral code (attached to
-- the member before it converts), and every new earn converts a pending referral.
DROP FUNCTION ledger_batch(jsonb);
CREATE FUNCTION ledger_batch(p_ops jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_op jsonb;
    v_result hub_result;
    v_out jsonb := '[]'::jsonb;
    v_attempt int;
BEGIN
    FOR v_op IN SELECT value FROM jsonb_array_elements(p_ops) LOOP
      v_attempt := 0;
      LOOP
        v_attempt := v_attempt + 1;
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
            v_out := v_out || jsonb_build_array(to_jsonb(v_result));
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
