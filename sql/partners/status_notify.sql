-- Hub processes cache partner status; a change is announced so that every process drops
-- its cached copy at once (a suspension takes effect everywhere within milliseconds).
CREATE OR REPLACE FUNCTION hub_notify_partner_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hub_partner_status', NEW.id::text);
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER partners_status_changed AFTER UPDATE OF status ON partners
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION hub_notify_partner_status();
