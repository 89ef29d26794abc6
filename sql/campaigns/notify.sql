-- Hub processes keep a copy of the live campaigns (services::campaigns::LiveCampaigns); a
-- new or changed campaign is announced so that every process drops its copy at once.
-- Every change made through the API sets updated_at; the budget counter (`awarded`,
-- counted by every bonus under a budget) does not, so the hot path announces nothing.
CREATE OR REPLACE FUNCTION hub_notify_campaigns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hub_campaigns', '');
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER campaigns_changed AFTER INSERT OR UPDATE OF updated_at ON campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION hub_notify_campaigns();
