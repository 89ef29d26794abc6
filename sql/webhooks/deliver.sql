-- Delivery: a hub process leases a subscription, sends it the events past its cursor (up
-- to the watermark) one POST after another, and records each POST
-- (services::webhooks::worker). The lease keeps two processes from sending the same events;
-- when a process dies, its lease runs out and another sends the events past the cursor
-- again, with the same ids. Times are the database's, shared by every process. Cursors and
-- leases live in webhook_cursors, so that webhook_subscriptions stays still.
--
-- Each process reads the newest events once into memory (hub_webhook_tail) and builds the
-- POSTs of every subscription it leases from there; a subscription further behind reads
-- its own (hub_webhook_next), and so do redeliveries.

DROP FUNCTION IF EXISTS hub_webhook_claim(uuid, interval, integer);
DROP FUNCTION IF EXISTS hub_webhook_record(uuid, uuid, uuid[], uuid[], bigint, uuid, integer,
    integer, text, text, boolean, interval, interval);
DROP FUNCTION IF EXISTS hub_webhook_record_next(uuid, uuid, uuid[], uuid[], bigint, uuid, integer,
    integer, text, text, boolean, interval, interval, uuid, interval, integer);
DROP FUNCTION IF EXISTS hub_webhook_stream(webhook_subscriptions, webhook_dispatch, integer);

-- Leases up to p_max subscriptions with something to send, for p_owner: redeliveries; a
-- cursor older than the caller's tail (p_tail_start: the subscription reads its own
-- events); or, by the tail, a newer event than the cursor (p_newest, any event, for the
-- coalition's; p_partners with their newest events' positions, for partners').
CREATE OR REPLACE FUNCTION hub_webhook_claim(
    p_owner uuid, p_lease interval, p_max integer,
    p_tail_start_txid bigint, p_tail_start_event_id uuid,
    p_newest_txid bigint, p_newest_event_id uuid,
    p_partners uuid[], p_partner_txids bigint[], p_partner_event_ids uuid[])
RETURNS TABLE (id uuid, url text, secret text, partner_id uuid, event_types text[],
               cursor_txid bigint, cursor_event_id uuid, failed_attempts integer,
               redeliveries boolean)
LANGUAGE sql AS $$
    WITH newest AS (
        SELECT n.partner_id, n.txid::text::xid8 AS txid, n.event_id
        FROM unnest(p_partners, p_partner_txids, p_partner_event_ids) n (partner_id, txid, event_id)),
    due AS (
        SELECT c.subscription_id FROM webhook_cursors c
        JOIN webhook_subscriptions s ON s.id = c.subscription_id
        CROSS JOIN webhook_dispatch w
        LEFT JOIN newest n ON n.partner_id = s.partner_id
        WHERE s.status = 'ACTIVE' AND s.next_attempt_at <= clock_timestamp()
          AND (c.lease_until IS NULL OR c.lease_until < clock_timestamp())
          AND ((c.cursor_txid, c.cursor_event_id)
                   < (p_tail_start_txid::text::xid8, p_tail_start_event_id)
               AND (c.cursor_txid, c.cursor_event_id) < (w.txid, w.event_id)
               OR s.partner_id IS NULL
                  AND (c.cursor_txid, c.cursor_event_id) < (p_newest_txid::text::xid8, p_newest_event_id)
               OR (c.cursor_txid, c.cursor_event_id) < (n.txid, n.event_id)
               OR EXISTS (SELECT 1 FROM webhook_redeliveries r WHERE r.subscription_id = s.id))
        -- the furthest behind first: none waits on others leased poll after poll
        ORDER BY c.cursor_txid, c.cursor_event_id
        LIMIT p_max
        FOR UPDATE OF c SKIP LOCKED)
    UPDATE webhook_cursors c
    SET lease_owner = p_owner, lease_until = clock_timestamp() + p_lease
    FROM webhook_subscriptions s
    WHERE s.id = c.subscription_id AND c.subscription_id IN (SELECT subscription_id FROM due)
    RETURNING s.id, s.url, s.secret, s.partner_id, s.event_types, c.cursor_txid::text::bigint,
              c.cursor_event_id, s.failed_attempts,
              EXISTS (SELECT 1 FROM webhook_redeliveries r WHERE r.subscription_id = s.id)
$$;

-- The events past p_after up to the watermark, at most p_max, in order: what a process
-- keeps in memory for the subscriptions it leases.
CREATE OR REPLACE FUNCTION hub_webhook_tail(p_after_txid bigint, p_after_event_id uuid,
                                            p_max integer)
RETURNS TABLE (txid bigint, event_id uuid, type text, partner_ids uuid[], body text,
               watermark_txid bigint, watermark_event_id uuid)
LANGUAGE sql STABLE AS $$
    SELECT e.txid::text::bigint, e.id, e.type, e.partner_ids, e.body,
           w.txid::text::bigint, w.event_id
    FROM webhook_dispatch w
    LEFT JOIN LATERAL (
        SELECT * FROM webhook_events e
        WHERE (e.txid, e.id) > (p_after_txid::text::xid8, p_after_event_id)
          AND (e.txid, e.id) <= (w.txid, w.event_id)
        ORDER BY e.txid, e.id
        LIMIT p_max) e ON true
    ORDER BY e.txid, e.id
$$;

-- A subscription's own read of its next POST from the events themselves: the events past
-- its cursor up to the watermark, looked through 10,000 at a time (at most ten times a
-- call), of which at most p_max are its own (every event for the coalition's, its
-- partner's for a partner's; of its types). The cursor goes to the last of them when
-- p_max were found, else as far as was looked.
CREATE OR REPLACE FUNCTION hub_webhook_own_read(
    p_sub webhook_subscriptions, p_cursor webhook_cursors, p_mark webhook_dispatch, p_max integer,
    OUT event_ids uuid[], OUT events text, OUT cursor_txid xid8, OUT cursor_event_id uuid)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_window constant integer := 10000;
    v_looked integer;
    v_count integer;
BEGIN
    cursor_txid := p_cursor.cursor_txid;
    cursor_event_id := p_cursor.cursor_event_id;
    FOR i IN 1..10 LOOP
        WITH window_ AS (
            SELECT e.txid, e.id,
                   (p_sub.partner_id IS NULL OR p_sub.partner_id = ANY (e.partner_ids))
                   AND (e.type = ANY (p_sub.event_types) OR '*' = ANY (p_sub.event_types)) AS own
            FROM webhook_events e
            WHERE (e.txid, e.id) > (cursor_txid, cursor_event_id)
              AND (e.txid, e.id) <= (p_mark.txid, p_mark.event_id)
            ORDER BY e.txid, e.id
            LIMIT v_window),
        taken AS (SELECT * FROM window_ WHERE own ORDER BY txid, id LIMIT p_max),
        last_looked AS (SELECT * FROM window_ ORDER BY txid DESC, id DESC LIMIT 1),
        last_taken AS (SELECT * FROM taken ORDER BY txid DESC, id DESC LIMIT 1)
        SELECT (SELECT count(*) FROM window_), (SELECT count(*) FROM taken),
               (SELECT array_agg(t.id ORDER BY t.txid, t.id) FROM taken t),
               (SELECT string_agg(e.body, ',' ORDER BY t.txid, t.id)
                FROM taken t JOIN webhook_events e ON e.id = t.id),
               CASE WHEN (SELECT count(*) FROM taken) = p_max THEN (SELECT txid FROM last_taken)
                    ELSE coalesce((SELECT txid FROM last_looked), cursor_txid) END,
               CASE WHEN (SELECT count(*) FROM taken) = p_max THEN (SELECT id FROM last_taken)
                    ELSE coalesce((SELECT id FROM last_looked), cursor_event_id) END
        INTO v_looked, v_count, event_ids, events, cursor_txid, cursor_event_id;
        IF v_looked < v_window AND v_count < p_max THEN
            -- Looked through to the watermark.
            cursor_txid := p_mark.txid;
            cursor_event_id := p_mark.event_id;
        END IF;
        EXIT WHEN v_count > 0 OR v_looked < v_window;
    END LOOP;
END $$;

-- The subscription's next POST while p_owner holds the lease (renewed here once half
-- spent): a new attempt id, the events as the body's JSON array with their ids, and where
-- the cursor goes once it is answered (for redeliveries, which come first, the queue rows
-- instead). None when the lease is lost, the subscription paused or disabled, or nothing is
-- left: then the lease is given up, the cursor moved as far as was looked.
CREATE OR REPLACE FUNCTION hub_webhook_next(p_subscription uuid, p_owner uuid, p_lease interval,
                                            p_max integer)
RETURNS TABLE (attempt_id uuid, event_ids uuid[], events text, redeliveries uuid[],
               cursor_txid bigint, cursor_event_id uuid, failed_attempts integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_sub webhook_subscriptions%ROWTYPE;
    v_cursor webhook_cursors%ROWTYPE;
    v_ids uuid[];
    v_cursor_txid xid8;
    v_cursor_event uuid;
    v_body text;
    v_redeliveries uuid[];
    v_mark webhook_dispatch%ROWTYPE;
BEGIN
    SELECT * INTO v_sub FROM webhook_subscriptions s WHERE s.id = p_subscription;
    SELECT * INTO v_cursor FROM webhook_cursors c WHERE c.subscription_id = p_subscription;
    IF v_sub.id IS NULL OR v_cursor.lease_owner IS DISTINCT FROM p_owner
       OR v_sub.status <> 'ACTIVE' OR v_cursor.lease_until < clock_timestamp() THEN
        RETURN;
    END IF;
    SELECT array_agg(r.id ORDER BY r.id), array_agg(e.id ORDER BY r.id),
           string_agg(e.body, ',' ORDER BY r.id)
    INTO v_redeliveries, v_ids, v_body
    FROM (SELECT * FROM webhook_redeliveries r WHERE r.subscription_id = p_subscription
          ORDER BY r.id LIMIT p_max) r
    JOIN webhook_events e ON e.id = r.event_id;
    IF v_redeliveries IS NULL THEN
        -- One watermark for the read and the cursor it leads to.
        SELECT * INTO v_mark FROM webhook_dispatch;
        SELECT r.event_ids, r.events, r.cursor_txid, r.cursor_event_id
        INTO v_ids, v_body, v_cursor_txid, v_cursor_event
        FROM hub_webhook_own_read(v_sub, v_cursor, v_mark, p_max) r;
        IF v_ids IS NULL THEN
            -- Nothing for it as far as was looked: the cursor moves there, the lease goes.
            PERFORM hub_webhook_release(p_subscription, p_owner,
                                        v_cursor_txid::text::bigint, v_cursor_event);
            RETURN;
        END IF;
    END IF;
    IF v_cursor.lease_until < clock_timestamp() + p_lease / 2 THEN
        UPDATE webhook_cursors SET lease_until = clock_timestamp() + p_lease
        WHERE subscription_id = p_subscription AND lease_owner = p_owner;
    END IF;
    RETURN QUERY SELECT hub_uuid_v7(), v_ids, '[' || v_body || ']', v_redeliveries,
        v_cursor_txid::text::bigint, v_cursor_event,  -- none for redeliveries
        v_sub.failed_attempts;
END $$;

-- Records one POST. A success moves the cursor (or deletes the redeliveries sent), clears
-- the subscription's failures and renews the lease once half spent (p_release: gives it
-- up, nothing is left to send); a failure schedules the next attempt after p_retry_in and
-- gives up the lease, and once the subscription has failed for p_retry_for it is disabled
-- with the reason. Answers DELIVERED, RETRY, DISABLED, or STOPPED: delivered, but the
-- lease is no longer p_owner's or the subscription was paused or deleted meanwhile.
CREATE OR REPLACE FUNCTION hub_webhook_record(
    p_subscription uuid, p_attempt uuid, p_event_ids uuid[], p_redeliveries uuid[],
    p_cursor_txid bigint, p_cursor_event_id uuid, p_status integer, p_latency_ms integer,
    p_body text, p_error text, p_succeeded boolean, p_retry_in interval, p_retry_for interval,
    p_owner uuid, p_lease interval, p_release boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_sub webhook_subscriptions%ROWTYPE;
    v_cursor webhook_cursors%ROWTYPE;
    v_held boolean;
BEGIN
    SELECT * INTO v_cursor FROM webhook_cursors WHERE subscription_id = p_subscription FOR UPDATE;
    SELECT * INTO v_sub FROM webhook_subscriptions WHERE id = p_subscription;
    IF v_cursor.subscription_id IS NULL OR v_sub.id IS NULL THEN
        RETURN 'STOPPED';  -- deleted meanwhile: its attempts went with it
    END IF;
    INSERT INTO webhook_attempts (id, subscription_id, event_ids, redelivery, attempted_at,
                                  status_code, latency_ms, response_body, error, succeeded)
    VALUES (p_attempt, p_subscription, p_event_ids, p_redeliveries IS NOT NULL, v_now,
            p_status, p_latency_ms, p_body, p_error, p_succeeded);
    v_held := v_cursor.lease_owner = p_owner AND v_cursor.lease_until >= v_now;
    IF p_succeeded THEN
        RETURN hub_webhook_delivered(v_sub, v_cursor, v_held, p_redeliveries, p_cursor_txid,
                                     p_cursor_event_id, p_lease, p_release, v_now);
    END IF;
    UPDATE webhook_subscriptions
    SET failing_since = coalesce(failing_since, v_now),
        failed_attempts = failed_attempts + 1,
        next_attempt_at = v_now + p_retry_in
    WHERE id = p_subscription
    RETURNING * INTO v_sub;
    IF v_held THEN
        UPDATE webhook_cursors SET lease_owner = NULL, lease_until = NULL
        WHERE subscription_id = p_subscription;
    END IF;
    IF v_sub.failing_since + p_retry_for > v_now OR v_sub.status <> 'ACTIVE' THEN
        RETURN 'RETRY';
    END IF;
    UPDATE webhook_subscriptions
    SET status = 'DISABLED', updated_at = v_now,
        disabled_reason = format('deliveries failed for %s since %s (%s attempts); last: %s',
                                 p_retry_for, v_sub.failing_since, v_sub.failed_attempts,
                                 coalesce(p_error, 'HTTP ' || p_status))
    WHERE id = p_subscription;
    RETURN 'DISABLED';
END $$;

-- hub_webhook_record's success (the cursor row locked by it).
CREATE OR REPLACE FUNCTION hub_webhook_delivered(
    p_sub webhook_subscriptions, p_cursor webhook_cursors, p_held boolean,
    p_redeliveries uuid[], p_cursor_txid bigint, p_cursor_event_id uuid, p_lease interval,
    p_release boolean, p_now timestamptz)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF p_redeliveries IS NOT NULL THEN
        DELETE FROM webhook_redeliveries WHERE id = ANY (p_redeliveries);
    END IF;
    IF p_cursor_txid IS NOT NULL
       AND (p_cursor_txid::text::xid8, p_cursor_event_id) > (p_cursor.cursor_txid, p_cursor.cursor_event_id) THEN
        p_cursor.cursor_txid := p_cursor_txid::text::xid8;
        p_cursor.cursor_event_id := p_cursor_event_id;
    END IF;
    IF p_held AND (p_release OR p_sub.status <> 'ACTIVE') THEN
        p_cursor.lease_owner := NULL;
        p_cursor.lease_until := NULL;
    ELSIF p_held AND p_cursor.lease_until < p_now + p_lease / 2 THEN
        p_cursor.lease_until := p_now + p_lease;
    END IF;
    UPDATE webhook_cursors
    SET cursor_txid = p_cursor.cursor_txid, cursor_event_id = p_cursor.cursor_event_id,
        lease_owner = p_cursor.lease_owner, lease_until = p_cursor.lease_until
    WHERE subscription_id = p_cursor.subscription_id;
    IF p_sub.failed_attempts > 0 OR p_sub.failing_since IS NOT NULL THEN
        UPDATE webhook_subscriptions SET failing_since = NULL, failed_attempts = 0
        WHERE id = p_sub.id;
    END IF;
    RETURN CASE WHEN p_held AND p_sub.status = 'ACTIVE' THEN 'DELIVERED' ELSE 'STOPPED' END;
END $$;

-- Gives up p_owner's lease with nothing (more) to send, the cursor moved up to p_cursor:
-- the events up to there were none of the subscription's.
CREATE OR REPLACE FUNCTION hub_webhook_release(p_subscription uuid, p_owner uuid,
                                               p_cursor_txid bigint, p_cursor_event_id uuid)
RETURNS void LANGUAGE sql AS $$
    -- (SET reads the row as it was: both cursor fields test the old cursor)
    UPDATE webhook_cursors c
    SET cursor_txid = CASE WHEN (p_cursor_txid::text::xid8, p_cursor_event_id)
                                > (c.cursor_txid, c.cursor_event_id)
                           THEN p_cursor_txid::text::xid8 ELSE c.cursor_txid END,
        cursor_event_id = CASE WHEN (p_cursor_txid::text::xid8, p_cursor_event_id)
                                    > (c.cursor_txid, c.cursor_event_id)
                               THEN p_cursor_event_id ELSE c.cursor_event_id END,
        lease_owner = NULL, lease_until = NULL
    WHERE c.subscription_id = p_subscription AND c.lease_owner = p_owner
$$;
