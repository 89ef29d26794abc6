-- The dispatcher: turns committed events into deliveries, in commit-safe order, one
-- dispatcher at a time across hub processes (services::webhooks::worker).
--
-- Events are read in (txid, id) order, and only those of transactions older than every
-- transaction still running (the snapshot's xmin): no transaction can still add an event
-- before the cursor, so none is skipped, and the cursor moves in the same transaction as
-- the deliveries it made, so none is dispatched twice.

-- Dispatches up to p_limit events into deliveries of at most p_per_delivery events each;
-- answers the number of events read, or -1 when another process is dispatching.
CREATE OR REPLACE FUNCTION hub_webhook_dispatch(p_limit integer, p_per_delivery integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_xmin xid8 := pg_snapshot_xmin(pg_current_snapshot());
    v_cursor webhook_dispatch%ROWTYPE;
    v_read integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7746523912021000024) THEN
        RETURN -1;
    END IF;
    SELECT * INTO v_cursor FROM webhook_dispatch WHERE id = 1;
    WITH taken AS MATERIALIZED (
        SELECT e.id, e.txid, e.type, e.partner_ids FROM webhook_events e
        WHERE (e.txid, e.id) > (v_cursor.txid, v_cursor.event_id) AND e.txid < v_xmin
        ORDER BY e.txid, e.id
        LIMIT p_limit),
    made AS (
        INSERT INTO webhook_deliveries (id, subscription_id, event_ids, created_at)
        SELECT hub_uuid_v7(), m.subscription_id, array_agg(m.event_id ORDER BY m.n), clock_timestamp()
        FROM (SELECT r.subscription_id, r.event_id,
                     row_number() OVER (PARTITION BY r.subscription_id ORDER BY r.txid, r.event_id) AS n
              FROM (-- a partner's subscriptions, by the event's parties (a hash join)
                    SELECT s.id AS subscription_id, t.id AS event_id, t.txid, t.type, s.event_types
                    FROM taken t
                    CROSS JOIN LATERAL unnest(t.partner_ids) p (partner_id)
                    JOIN webhook_subscriptions s ON s.partner_id = p.partner_id AND s.status = 'ACTIVE'
                    UNION
                    -- the coalition's, which receive everything
                    SELECT s.id, t.id, t.txid, t.type, s.event_types
                    FROM taken t
                    JOIN webhook_subscriptions s ON s.partner_id IS NULL AND s.status = 'ACTIVE') r
              WHERE r.type = ANY (r.event_types) OR '*' = ANY (r.event_types)) m
        GROUP BY m.subscription_id, (m.n - 1) / p_per_delivery
        -- deliveries of one subscription are sent in seq order: the events' order
        ORDER BY m.subscription_id, (m.n - 1) / p_per_delivery
        RETURNING 1),
    moved AS (
        UPDATE webhook_dispatch d SET txid = l.txid, event_id = l.id
        FROM (SELECT t.txid, t.id FROM taken t ORDER BY t.txid DESC, t.id DESC LIMIT 1) l
        WHERE d.id = 1
        RETURNING 1)
    SELECT count(*) INTO v_read FROM taken;
    RETURN v_read;
END $$;
