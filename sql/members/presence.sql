-- The member's say over what a partner does with its points and identity (issue 22). A
-- card number is enough to earn; redeeming, holding, linking an existing member and
-- logging in as the member need the member: its standing consent (member_consents), or a
-- presence code its app shows, valid about two minutes, used once.

-- Codes are kept as hashes bound to the member: a code is only ever checked against the
-- member the operation names, so a guess can hit one member's code at most.
CREATE OR REPLACE FUNCTION hub_presence_code_hash(p_member_id uuid, p_code text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(p_member_id::text || ':' || p_code, 'UTF8'))
$$;

-- A new code for the member; an earlier unused one stops working.
CREATE OR REPLACE FUNCTION hub_new_presence_code(p_member_id uuid, p_code text,
                                                 p_expires_at timestamptz, p_now timestamptz)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO presence_codes (member_id, code_hash, expires_at, failed_attempts, created_at)
    VALUES (p_member_id, hub_presence_code_hash(p_member_id, p_code), p_expires_at, 0, p_now)
    ON CONFLICT (member_id) DO UPDATE
    SET code_hash = excluded.code_hash, expires_at = excluded.expires_at,
        failed_attempts = 0, created_at = excluded.created_at
$$;

-- Whether the partner may act for the member now: 'ok' (the code, used up here, or the
-- member's standing consent), 'absent' (no code, no consent) or 'wrong_code' (wrong,
-- used or expired; counted: the fifth wrong code voids the member's code, so that codes
-- cannot be guessed). Used up and counted in the caller's transaction.
CREATE OR REPLACE FUNCTION hub_member_presence(p_partner_id uuid, p_member_id uuid, p_code text,
                                               p_now timestamptz)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF p_code IS NULL THEN
        RETURN CASE WHEN EXISTS (SELECT 1 FROM member_consents c
                                 WHERE c.member_id = p_member_id AND c.partner_id = p_partner_id)
                    THEN 'ok' ELSE 'absent' END;
    END IF;
    DELETE FROM presence_codes
    WHERE member_id = p_member_id AND code_hash = hub_presence_code_hash(p_member_id, p_code)
      AND expires_at > p_now;
    IF FOUND THEN
        RETURN 'ok';
    END IF;
    PERFORM hub_presence_code_failed(p_member_id);
    RETURN 'wrong_code';
END $$;

CREATE OR REPLACE FUNCTION hub_presence_code_failed(p_member_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_failed integer;
BEGIN
    -- (Two statements: a DELETE in the same statement as the UPDATE would not see its row.)
    UPDATE presence_codes SET failed_attempts = failed_attempts + 1
    WHERE member_id = p_member_id
    RETURNING failed_attempts INTO v_failed;
    IF v_failed >= 5 THEN
        DELETE FROM presence_codes WHERE member_id = p_member_id;
    END IF;
END $$;

-- As hub_member_presence, for the money functions: refuses FORBIDDEN unless 'ok'. The
-- refusal rolls back what the operation wrote, the count of a wrong code included, so the
-- refusal names the member (presence_code_of) and the function that catches it counts the
-- wrong code again with hub_presence_refused.
CREATE OR REPLACE FUNCTION hub_require_presence(p_partner_id uuid, p_member_id uuid, p_code text,
                                                p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_presence text := hub_member_presence(p_partner_id, p_member_id, p_code, p_now);
BEGIN
    IF v_presence = 'absent' THEN
        PERFORM hub_refuse('FORBIDDEN', jsonb_build_object('message',
            'the member must be present: pass the presenceCode its app shows, or ask the member for consent'));
    ELSIF v_presence = 'wrong_code' THEN
        PERFORM hub_refuse('FORBIDDEN', jsonb_build_object(
            'message', 'the presence code is wrong, used or expired',
            'presence_code_of', p_member_id));
    END IF;
END $$;

-- Where a refusal is caught (after the rollback): a wrong presence code counts.
CREATE OR REPLACE FUNCTION hub_presence_refused(p_refusal jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF p_refusal ? 'presence_code_of' THEN
        PERFORM hub_presence_code_failed((p_refusal ->> 'presence_code_of')::uuid);
        RETURN p_refusal - 'presence_code_of';
    END IF;
    RETURN p_refusal;
END $$;
