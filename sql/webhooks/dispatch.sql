-- The watermark: how far subscriptions may read the events (services::webhooks::worker).
--
-- Events are read in (txid, id) order, and only up to the newest event of a transaction
-- older than every transaction still running (the snapshot's xmin): no transaction can
-- add an event at or below the watermark any more, so a subscription's cursor never skips
-- one that commits late.

-- Moves the watermark up to the newest event of a finished transaction; answers whether it
-- moved. (Processes may run it at once: the row's lock orders them, and it only moves up.)
CREATE OR REPLACE FUNCTION hub_webhook_dispatch() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_xmin xid8 := pg_snapshot_xmin(pg_current_snapshot());
BEGIN
    UPDATE webhook_dispatch d SET txid = l.txid, event_id = l.id
    FROM (SELECT e.txid, e.id FROM webhook_events e
          WHERE e.txid < v_xmin
          ORDER BY e.txid DESC, e.id DESC
          LIMIT 1) l
    WHERE d.id = 1 AND (l.txid, l.id) > (d.txid, d.event_id);
    RETURN FOUND;
END $$;
