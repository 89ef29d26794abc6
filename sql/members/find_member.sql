-- Finding the member an operation names, and enrolling an unknown partner customer.

-- Finds the member named by exactly one of id, number or the partner's customer id. (What
-- the partner may then do for the member: members/presence.sql.)
CREATE OR REPLACE FUNCTION hub_find_member(p_partner_id uuid, p_member_id uuid, p_member_number text,
                                p_customer_id text)
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
    IF v_member IS NULL THEN
        PERFORM hub_refuse('NOT_FOUND', jsonb_build_object('what', 'member'));
    END IF;
    RETURN v_member;
END $$;

-- The member linked to the partner's customer id, enrolled now if there is none. Concurrent
-- calls for one customer id serialize on an advisory lock and end with one member. The
-- member signed up at the partner: the partner holds its consent from the start.
CREATE OR REPLACE FUNCTION hub_enroll_member(p_partner_id uuid, p_customer_id text, p_member_id uuid,
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
    INSERT INTO member_consents (member_id, partner_id, source, granted_at)
    VALUES (p_member_id, p_partner_id, 'ENROLMENT', p_now);
    RETURN QUERY SELECT p_member_id, true;
END $$;

-- Locks the member's balance row: every change to a member's points, lots and holds
-- happens under this lock, taken first.
CREATE OR REPLACE FUNCTION hub_lock_member(p_member_id uuid) RETURNS member_balances LANGUAGE plpgsql AS $$
DECLARE
    v member_balances%ROWTYPE;
BEGIN
    SELECT * INTO v FROM member_balances WHERE member_id = p_member_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM hub_refuse('NOT_FOUND', jsonb_build_object('what', 'member'));
    END IF;
    RETURN v;
END $$;
