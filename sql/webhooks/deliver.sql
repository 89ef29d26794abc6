-- Delivery: a hub process leases a subscription, sends its deliveries one by one in order,
-- and records each attempt (services::webhooks::worker). The lease keeps two processes from
-- sending the same delivery; when a process dies, its lease runs out and another sends the
-- delivery again, with the same events. Times are the database's, shared by every process.

-- Leases up to p_max subscriptions that have a delivery due, for p_owner.
CREATE OR REPLACE FUNCTION hub_webhook_claim(p_owner uuid, p_lease interval, p_max integer)
RETURNS TABLE (id uuid, url text, secret text) LANGUAGE sql AS $$
    UPDATE webhook_subscriptions s
    SET lease_owner = p_owner, lease_until = clock_timestamp() + p_lease
    WHERE s.id IN (SELECT c.id FROM webhook_subscriptions c
                   WHERE c.status = 'ACTIVE' AND c.next_attempt_at <= clock_timestamp()
                     AND (c.lease_until IS NULL OR c.lease_until < clock_timestamp())
                     AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.subscription_id = c.id)
                   ORDER BY c.next_attempt_at
                   LIMIT p_max
                   FOR UPDATE SKIP LOCKED)
    RETURNING s.id, s.url, s.secret
$$;

-- The subscription's next POST while p_owner holds the lease (renewed here): a new attempt
-- id, the oldest queued rows whose events fit in p_max_events (at least one row), and their
-- events as the body's JSON array. None when the lease is lost, the subscription paused or
-- disabled, or nothing is queued: then the lease is given up. A subscription that fell
-- behind thus catches up in full POSTs.
CREATE OR REPLACE FUNCTION hub_webhook_next(p_subscription uuid, p_owner uuid, p_lease interval,
                                            p_max_events integer)
RETURNS TABLE (attempt_id uuid, queued uuid[], events text, failed_attempts integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_sub webhook_subscriptions%ROWTYPE;
    v_queued uuid[];
BEGIN
    SELECT * INTO v_sub FROM webhook_subscriptions s WHERE s.id = p_subscription;
    IF NOT FOUND OR v_sub.lease_owner IS DISTINCT FROM p_owner OR v_sub.status <> 'ACTIVE'
       OR v_sub.lease_until < clock_timestamp() THEN
        RETURN;
    END IF;
    SELECT array_agg(q.id ORDER BY q.seq) INTO v_queued
    FROM (SELECT d.id, d.seq, d.event_ids,
                 sum(cardinality(d.event_ids)) OVER (ORDER BY d.seq) AS running,
                 row_number() OVER (ORDER BY d.seq) AS n
          FROM (SELECT * FROM webhook_deliveries d WHERE d.subscription_id = p_subscription
                ORDER BY d.seq LIMIT p_max_events) d) q
    WHERE q.n = 1 OR q.running <= p_max_events;
    IF v_queued IS NULL THEN
        UPDATE webhook_subscriptions SET lease_owner = NULL, lease_until = NULL
        WHERE id = p_subscription AND lease_owner = p_owner;
        RETURN;
    END IF;
    -- Renewed once half of it is spent (a write per POST saved).
    IF v_sub.lease_until < clock_timestamp() + p_lease / 2 THEN
        UPDATE webhook_subscriptions SET lease_until = clock_timestamp() + p_lease
        WHERE id = p_subscription AND lease_owner = p_owner;
    END IF;
    RETURN QUERY
    SELECT hub_uuid_v7(), v_queued,
           '[' || coalesce(string_agg(e.body, ',' ORDER BY q.ord, u.ord), '') || ']',
           v_sub.failed_attempts
    FROM unnest(v_queued) WITH ORDINALITY q (delivery_id, ord)
    JOIN webhook_deliveries d ON d.id = q.delivery_id
    CROSS JOIN LATERAL unnest(d.event_ids) WITH ORDINALITY u (event_id, ord)
    JOIN webhook_events e ON e.id = u.event_id;
END $$;

-- Records one POST. A success deletes the queued rows it carried and clears the
-- subscription's failures; a failure schedules the next attempt after p_retry_in and gives
-- up the lease, and once the subscription has failed for p_retry_for it is disabled with
-- the reason. Answers DELIVERED, RETRY or DISABLED.
CREATE OR REPLACE FUNCTION hub_webhook_record(
    p_subscription uuid, p_attempt uuid, p_queued uuid[], p_status integer, p_latency_ms integer,
    p_body text, p_error text, p_succeeded boolean, p_retry_in interval, p_retry_for interval)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_sub webhook_subscriptions%ROWTYPE;
BEGIN
    INSERT INTO webhook_attempts (id, subscription_id, event_ids, redelivery, attempted_at,
                                  status_code, latency_ms, response_body, error, succeeded)
    SELECT p_attempt, p_subscription,
           coalesce(array_agg(u.event_id ORDER BY q.ord, u.ord), '{}'), coalesce(bool_or(d.redelivery), false),
           v_now, p_status, p_latency_ms, p_body, p_error, p_succeeded
    FROM unnest(p_queued) WITH ORDINALITY q (delivery_id, ord)
    JOIN webhook_deliveries d ON d.id = q.delivery_id
    CROSS JOIN LATERAL unnest(d.event_ids) WITH ORDINALITY u (event_id, ord);
    IF p_succeeded THEN
        DELETE FROM webhook_deliveries WHERE id = ANY (p_queued);
        UPDATE webhook_subscriptions SET failing_since = NULL, failed_attempts = 0
        WHERE id = p_subscription AND failed_attempts > 0;
        RETURN 'DELIVERED';
    END IF;
    UPDATE webhook_subscriptions
    SET failing_since = coalesce(failing_since, v_now),
        failed_attempts = failed_attempts + 1,
        next_attempt_at = v_now + p_retry_in,
        lease_owner = NULL, lease_until = NULL
    WHERE id = p_subscription
    RETURNING * INTO v_sub;
    IF NOT FOUND OR v_sub.failing_since + p_retry_for > v_now OR v_sub.status <> 'ACTIVE' THEN
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

-- Records a POST and, when it succeeded, answers the subscription's next POST in the same
-- round trip (none: the lease is given up, or the POST failed).
CREATE OR REPLACE FUNCTION hub_webhook_record_next(
    p_subscription uuid, p_attempt uuid, p_queued uuid[], p_status integer, p_latency_ms integer,
    p_body text, p_error text, p_succeeded boolean, p_retry_in interval, p_retry_for interval,
    p_owner uuid, p_lease interval, p_max_events integer)
RETURNS TABLE (outcome text, attempt_id uuid, queued uuid[], events text, failed_attempts integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_outcome text := hub_webhook_record(p_subscription, p_attempt, p_queued, p_status,
                                         p_latency_ms, p_body, p_error, p_succeeded,
                                         p_retry_in, p_retry_for);
BEGIN
    IF v_outcome = 'DELIVERED' THEN
        RETURN QUERY SELECT v_outcome, n.attempt_id, n.queued, n.events, n.failed_attempts
                     FROM hub_webhook_next(p_subscription, p_owner, p_lease, p_max_events) n;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT v_outcome, NULL::uuid, NULL::uuid[], NULL::text, NULL::integer;
END $$;
