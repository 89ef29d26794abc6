-- The watermark: how far subscriptions may read the events (services::webhooks::worker).
--
-- Events are read in (txid, id) order, and only up to the watermark (xmin, nil): below the
-- oldest transaction still running (the snapshot's xmin). Every transaction under it has
-- ended and every new one gets a larger txid, so no event can appear at or below the
-- watermark any more, and a subscription's cursor never skips one that commits late. It
-- costs no read of the events.

-- Moves the watermark up to the snapshot's xmin; answers whether it moved. (Processes may
-- run it at once: the row's lock orders them, and it only moves up.)
CREATE OR REPLACE FUNCTION hub_webhook_dispatch() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_xmin xid8 := pg_snapshot_xmin(pg_current_snapshot());
BEGIN
    UPDATE webhook_dispatch d
    SET txid = v_xmin, event_id = '00000000-0000-0000-0000-000000000000'
    WHERE d.id = 1 AND v_xmin > d.txid;
    RETURN FOUND;
END $$;
