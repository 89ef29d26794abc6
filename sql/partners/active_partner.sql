-- The partner an operation acts for, refused when suspended. The coalition's campaign
-- budget (partners.is_coalition) only sponsors bonuses: no operation acts for it.

CREATE OR REPLACE FUNCTION hub_active_partner(p_partner_id uuid) RETURNS partners LANGUAGE plpgsql AS $$
DECLARE
    v partners%ROWTYPE;
BEGIN
    SELECT * INTO v FROM partners WHERE id = p_partner_id;
    IF NOT FOUND OR v.is_coalition THEN
        PERFORM hub_refuse('NOT_FOUND', jsonb_build_object('what', 'partner'));
    END IF;
    IF v.status <> 'ACTIVE' THEN
        PERFORM hub_refuse('PARTNER_SUSPENDED');
    END IF;
    RETURN v;
END $$;
