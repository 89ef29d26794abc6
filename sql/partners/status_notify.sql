-- Hub processes cache partner rows (status for every partner request, names for pages of
-- entries); a change is announced so that every process drops its cached copy at once (a
-- suspension takes effect everywhere within milliseconds). See src/db/partner_cache.rs.
CREATE OR REPLACE FUNCTION hub_notify_partner_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hub_partners', NEW.id::text);
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER partners_status_changed AFTER UPDATE ON partners
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION hub_notify_partner_status();
