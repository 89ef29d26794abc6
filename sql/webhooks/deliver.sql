-- Delivery: a hub process leases a subscription, sends it the events past its cursor (up
-- to the watermark) one POST after another, and records each POST
-- (services::webhooks::worker). The lease keeps two processes from sending the same events;
-- when a process dies, its lease runs out and another sends the events past the cursor
-- again, with the same ids. Times are the database's, shared by every process.
--
-- Each process reads the newest events once into memory (hub_webhook_tail) and builds the
-- POSTs of every subscription it leases from there; a subscription further behind reads
-- its own (hub_webhook_next), and so do redeliveries.

DROP FUNCTION IF EXISTS hub_webhook_claim(uuid, interval, integer);
DROP FUNCTION IF EXISTS hub_webhook_record(uuid, uuid, uuid[], uuid[], bigint, uuid, integer,
    integer, text, text, boolean, interval, interval);
DROP FUNCTION IF EXISTS hub_webhook_record_next(uuid, uuid, uuid[], uuid[], bigint, uuid, integer,
    integer, text, text, boolean, interval, interval, uuid, interval, integer);

-- Leases up to p_max subscriptions that have something to send (events of their own past
-- the cursor, of any type, or redeliveries), for p_owner.
CREATE OR REPLACE FUNCTION hub_webhook_claim(p_owner uuid, p_lease interval, p_max integer)
RETURNS TABLE (id uuid, url text, secret text, partner_id uuid, event_types text[],
               cursor_txid bigint, cursor_event_id uuid, failed_attempts integer,
               redeliveries boolean)
LANGUAGE sql AS $$
    UPDATE webhook_subscriptions s
    SET lease_owner = p_owner, lease_until = clock_timestamp() + p_lease
    WHERE s.id IN (SELECT c.id FROM webhook_subscriptions c, webhook_dispatch w
                   WHERE c.status = 'ACTIVE' AND c.next_attempt_at <= clock_timestamp()
                     AND (c.lease_until IS NULL OR c.lease_until < clock_timestamp())
                     AND (EXISTS (SELECT 1 FROM webhook_event_parties p
                                  WHERE c.partner_id IS NOT NULL AND p.partner_id = c.partner_id
                                    AND (p.txid, p.event_id) > (c.cursor_txid, c.cursor_event_id)
                                    AND (p.txid, p.event_id) <= (w.txid, w.event_id))
                          OR EXISTS (SELECT 1 FROM webhook_events e
                                     WHERE c.partner_id IS NULL
                                       AND (e.txid, e.id) > (c.cursor_txid, c.cursor_event_id)
                                       AND (e.txid, e.id) <= (w.txid, w.event_id))
                          OR EXISTS (SELECT 1 FROM webhook_redeliveries r
                                     WHERE r.subscription_id = c.id))
                   ORDER BY c.next_attempt_at
                   LIMIT p_max
                   FOR UPDATE OF c SKIP LOCKED)
    RETURNING s.id, s.url, s.secret, s.partner_id, s.event_types, s.cursor_txid::text::bigint,
              s.cursor_event_id, s.failed_attempts,
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

-- The events of a subscription's stream past its cursor, up to the watermark and p_max, in
-- order: every event for the coalition's subscriptions, the partner's own (by
-- webhook_event_parties) for a partner's.
CREATE OR REPLACE FUNCTION hub_webhook_stream(p_sub webhook_subscriptions, v_mark webhook_dispatch,
                                              p_max integer)
RETURNS TABLE (txid xid8, event_id uuid, body text) LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_sub.partner_id IS NULL THEN
        RETURN QUERY
        SELECT e.txid, e.id, e.body FROM webhook_events e
        WHERE (e.txid, e.id) > (p_sub.cursor_txid, p_sub.cursor_event_id)
          AND (e.txid, e.id) <= (v_mark.txid, v_mark.event_id)
          AND (e.type = ANY (p_sub.event_types) OR '*' = ANY (p_sub.event_types))
        ORDER BY e.txid, e.id
        LIMIT p_max;
    ELSE
        RETURN QUERY
        SELECT p.txid, p.event_id, e.body FROM webhook_event_parties p
        JOIN webhook_events e ON e.id = p.event_id
        WHERE p.partner_id = p_sub.partner_id
          AND (p.txid, p.event_id) > (p_sub.cursor_txid, p_sub.cursor_event_id)
          AND (p.txid, p.event_id) <= (v_mark.txid, v_mark.event_id)
          AND (e.type = ANY (p_sub.event_types) OR '*' = ANY (p_sub.event_types))
        ORDER BY p.txid, p.event_id
        LIMIT p_max;
    END IF;
END $$;

-- The subscription's next POST while p_owner holds the lease (renewed here once half
-- spent): a new attempt id, the events as the body's JSON array with their ids, and where
-- the cursor goes once it is answered (for redeliveries, which come first, the queue rows
-- instead). None when the lease is lost, the subscription paused or disabled, or nothing is
-- left: then the lease is given up.
CREATE OR REPLACE FUNCTION hub_webhook_next(p_subscription uuid, p_owner uuid, p_lease interval,
                                            p_max integer)
RETURNS TABLE (attempt_id uuid, event_ids uuid[], events text, redeliveries uuid[],
               cursor_txid bigint, cursor_event_id uuid, failed_attempts integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_sub webhook_subscriptions%ROWTYPE;
    v_ids uuid[];
    v_body text;
    v_redeliveries uuid[];
    v_count integer;
    v_last_txid xid8;
    v_last_event uuid;
    v_mark webhook_dispatch%ROWTYPE;
BEGIN
    SELECT * INTO v_sub FROM webhook_subscriptions s WHERE s.id = p_subscription;
    IF NOT FOUND OR v_sub.lease_owner IS DISTINCT FROM p_owner OR v_sub.status <> 'ACTIVE'
       OR v_sub.lease_until < clock_timestamp() THEN
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
        SELECT array_agg(s.event_id ORDER BY s.txid, s.event_id),
               string_agg(s.body, ',' ORDER BY s.txid, s.event_id), count(*),
               (array_agg(s.txid ORDER BY s.txid DESC, s.event_id DESC))[1],
               (array_agg(s.event_id ORDER BY s.txid DESC, s.event_id DESC))[1]
        INTO v_ids, v_body, v_count, v_last_txid, v_last_event
        FROM hub_webhook_stream(v_sub, v_mark, p_max) s;
        IF v_ids IS NULL THEN
            -- Nothing for it up to the watermark: the cursor moves there, the lease goes.
            UPDATE webhook_subscriptions s
            SET cursor_txid = v_mark.txid, cursor_event_id = v_mark.event_id
            WHERE s.id = p_subscription AND s.lease_owner = p_owner
              AND (v_mark.txid, v_mark.event_id) > (s.cursor_txid, s.cursor_event_id);
            UPDATE webhook_subscriptions s SET lease_owner = NULL, lease_until = NULL
            WHERE s.id = p_subscription AND s.lease_owner = p_owner;
            RETURN;
        END IF;
    END IF;
    IF v_sub.lease_until < clock_timestamp() + p_lease / 2 THEN
        UPDATE webhook_subscriptions SET lease_until = clock_timestamp() + p_lease
        WHERE id = p_subscription AND lease_owner = p_owner;
    END IF;
    RETURN QUERY SELECT hub_uuid_v7(), v_ids, '[' || v_body || ']', v_redeliveries,
        -- fewer than p_max: the stream was read to the watermark
        CASE WHEN v_redeliveries IS NOT NULL THEN NULL
             WHEN v_count < p_max THEN v_mark.txid::text::bigint
             ELSE v_last_txid::text::bigint END,
        CASE WHEN v_redeliveries IS NOT NULL THEN NULL
             WHEN v_count < p_max THEN v_mark.event_id
             ELSE v_last_event END,
        v_sub.failed_attempts;
END $$;

-- Records one POST. A success moves the cursor (or deletes the redeliveries sent), clears
-- the subscription's failures and renews the lease once half spent (p_release: gives it
-- up, nothing is left to send); a failure schedules the next attempt after p_retry_in and
-- gives up the lease, and once the subscription has failed for p_retry_for it is disabled
-- with the reason. Answers DELIVERED, RETRY, DISABLED, or STOPPED: delivered, but the
-- lease is no longer p_owner's or the subscription was paused meanwhile.
CREATE OR REPLACE FUNCTION hub_webhook_record(
    p_subscription uuid, p_attempt uuid, p_event_ids uuid[], p_redeliveries uuid[],
    p_cursor_txid bigint, p_cursor_event_id uuid, p_status integer, p_latency_ms integer,
    p_body text, p_error text, p_succeeded boolean, p_retry_in interval, p_retry_for interval,
    p_owner uuid, p_lease interval, p_release boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_sub webhook_subscriptions%ROWTYPE;
    v_held boolean;
BEGIN
    INSERT INTO webhook_attempts (id, subscription_id, event_ids, redelivery, attempted_at,
                                  status_code, latency_ms, response_body, error, succeeded)
    VALUES (p_attempt, p_subscription, p_event_ids, p_redeliveries IS NOT NULL, v_now,
            p_status, p_latency_ms, p_body, p_error, p_succeeded);
    SELECT * INTO v_sub FROM webhook_subscriptions WHERE id = p_subscription FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'STOPPED';  -- deleted meanwhile
    END IF;
    v_held := v_sub.lease_owner = p_owner AND v_sub.lease_until >= v_now;
    IF p_succeeded THEN
        IF p_redeliveries IS NOT NULL THEN
            DELETE FROM webhook_redeliveries WHERE id = ANY (p_redeliveries);
        END IF;
        IF p_cursor_txid IS NOT NULL
           AND (p_cursor_txid::text::xid8, p_cursor_event_id) > (v_sub.cursor_txid, v_sub.cursor_event_id) THEN
            v_sub.cursor_txid := p_cursor_txid::text::xid8;
            v_sub.cursor_event_id := p_cursor_event_id;
        END IF;
        IF v_held AND (p_release OR v_sub.status <> 'ACTIVE') THEN
            v_sub.lease_owner := NULL;
            v_sub.lease_until := NULL;
        ELSIF v_held AND v_sub.lease_until < v_now + p_lease / 2 THEN
            v_sub.lease_until := v_now + p_lease;
        END IF;
        UPDATE webhook_subscriptions
        SET cursor_txid = v_sub.cursor_txid, cursor_event_id = v_sub.cursor_event_id,
            failing_since = NULL, failed_attempts = 0,
            lease_owner = v_sub.lease_owner, lease_until = v_sub.lease_until
        WHERE id = p_subscription;
        RETURN CASE WHEN v_held AND v_sub.status = 'ACTIVE' THEN 'DELIVERED' ELSE 'STOPPED' END;
    END IF;
    UPDATE webhook_subscriptions
    SET failing_since = coalesce(failing_since, v_now),
        failed_attempts = failed_attempts + 1,
        next_attempt_at = v_now + p_retry_in,
        lease_owner = CASE WHEN v_held THEN NULL ELSE lease_owner END,
        lease_until = CASE WHEN v_held THEN NULL ELSE lease_until END
    WHERE id = p_subscription
    RETURNING * INTO v_sub;
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

-- Gives up p_owner's lease with nothing (more) to send, the cursor moved up to p_cursor:
-- the events up to there were none of the subscription's types.
CREATE OR REPLACE FUNCTION hub_webhook_release(p_subscription uuid, p_owner uuid,
                                               p_cursor_txid bigint, p_cursor_event_id uuid)
RETURNS void LANGUAGE sql AS $$
    -- (SET reads the row as it was: both cursor fields test the old cursor)
    UPDATE webhook_subscriptions s
    SET cursor_txid = CASE WHEN (p_cursor_txid::text::xid8, p_cursor_event_id)
                                > (s.cursor_txid, s.cursor_event_id)
                           THEN p_cursor_txid::text::xid8 ELSE s.cursor_txid END,
        cursor_event_id = CASE WHEN (p_cursor_txid::text::xid8, p_cursor_event_id)
                                    > (s.cursor_txid, s.cursor_event_id)
                               THEN p_cursor_event_id ELSE s.cursor_event_id END,
        lease_owner = NULL, lease_until = NULL
    WHERE s.id = p_subscription AND s.lease_owner = p_owner
$$;
