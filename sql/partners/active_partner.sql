-- The partner an operation acts for, refused when suspended.

CREATE OR REPLACE FUNCTION hub_active_partner(p_partner_id uuid) RETURNS partners LANGUAGE plpgsql AS $$
DECLARE
    v partners%ROWTYPE;
BEGIN
    SELECT * INTO v FROM partners WHERE id = p_partner_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'HUB:NOT_FOUND:partner';
    END IF;
    IF v.status <> 'ACTIVE' THEN
        RAISE EXCEPTION 'HUB:PARTNER_SUSPENDED:';
    END IF;
    RETURN v;
END $$;
