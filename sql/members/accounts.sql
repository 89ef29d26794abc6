-- Every member gets its two accounts and its balance row, every partner its two
-- accounts, however they are created.

-- Runs for every new member (auto-enrolment on a first purchase).
CREATE OR REPLACE FUNCTION hub_open_member_accounts_for(p_member_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    WITH a AS (INSERT INTO accounts (kind, member_id) VALUES ('MEMBER_AVAILABLE', p_member_id) RETURNING id),
         h AS (INSERT INTO accounts (kind, member_id) VALUES ('MEMBER_HELD', p_member_id) RETURNING id)
    INSERT INTO member_balances (member_id, available_account, held_account)
    SELECT p_member_id, a.id, h.id FROM a, h;
END $$;

CREATE OR REPLACE FUNCTION hub_open_partner_accounts_for(p_partner_id uuid) RETURNS void LANGUAGE sql AS $$
    WITH i AS (INSERT INTO accounts (kind, partner_id) VALUES ('PARTNER_ISSUANCE', p_partner_id) RETURNING id),
         d AS (INSERT INTO accounts (kind, partner_id) VALUES ('PARTNER_REDEMPTION', p_partner_id) RETURNING id)
    INSERT INTO partner_accounts (partner_id, issuance_account, redemption_account)
    SELECT p_partner_id, i.id, d.id FROM i, d
$$;

CREATE OR REPLACE FUNCTION hub_open_member_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hub_open_member_accounts_for(NEW.id);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION hub_open_partner_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hub_open_partner_accounts_for(NEW.id);
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER members_open_accounts AFTER INSERT ON members
    FOR EACH ROW EXECUTE FUNCTION hub_open_member_accounts();
CREATE OR REPLACE TRIGGER partners_open_accounts AFTER INSERT ON partners
    FOR EACH ROW EXECUTE FUNCTION hub_open_partner_accounts();
