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

-- The subscription's oldest undelivered delivery, with its events as the body's JSON array,
-- while p_owner holds the lease (renewed here). None when the lease is lost, the
-- subscription paused or disabled, or nothing is left: then the lease is given up.
CREATE OR REPLACE FUNCTION hub_webhook_next(p_subscription uuid, p_owner uuid, p_lease interval)
RETURNS TABLE (delivery_id uuid, events text, failed_attempts integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_sub webhook_subscriptions%ROWTYPE;
    v_delivery webhook_deliveries%ROWTYPE;
BEGIN
    SELECT * INTO v_sub FROM webhook_subscriptions s WHERE s.id = p_subscription;
    IF NOT FOUND OR v_sub.lease_owner IS DISTINCT FROM p_owner OR v_sub.status <> 'ACTIVE'
       OR v_sub.lease_until < clock_timestamp() THEN
        RETURN;
    END IF;
    SELECT * INTO v_delivery FROM webhook_deliveries d
    WHERE d.subscription_id = p_subscription
    ORDER BY d.seq LIMIT 1;
    IF NOT FOUND THEN
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
    SELECT v_delivery.id,
           '[' || coalesce(string_agg(e.body, ',' ORDER BY u.ord), '') || ']',
           v_sub.failed_attempts
    FROM unnest(v_delivery.event_ids) WITH ORDINALITY u (event_id, ord)
    JOIN webhook_events e ON e.id = u.event_id;
END $$;

-- Records one attempt. A success deletes the delivery and clears the subscription's
-- failures; a failure schedules the next attempt after p_retry_in and gives up the lease,
-- and once the subscription has failed for p_retry_for it is disabled with the reason.
-- Answers DELIVERED, RETRY or DISABLED.
CREATE OR REPLACE FUNCTION hub_webhook_record(
    p_subscription uuid, p_delivery uuid, p_status integer, p_latency_ms integer,
    p_body text, p_error text, p_succeeded boolean, p_retry_in interval, p_retry_for interval)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_sub webhook_subscriptions%ROWTYPE;
BEGIN
    INSERT INTO webhook_attempts (id, delivery_id, subscription_id, event_ids, redelivery,
                                  attempted_at, status_code, latency_ms, response_body, error,
                                  succeeded)
    SELECT hub_uuid_v7(), d.id, p_subscription, d.event_ids, d.redelivery, v_now, p_status,
           p_latency_ms, p_body, p_error, p_succeeded
    FROM webhook_deliveries d WHERE d.id = p_delivery;
    IF p_succeeded THEN
        DELETE FROM webhook_deliveries WHERE id = p_delivery;
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

-- Records an attempt and, when it succeeded, answers the subscription's next delivery in
-- the same round trip (none: the lease is given up, or the attempt failed).
CREATE OR REPLACE FUNCTION hub_webhook_record_next(
    p_subscription uuid, p_delivery uuid, p_status integer, p_latency_ms integer,
    p_body text, p_error text, p_succeeded boolean, p_retry_in interval, p_retry_for interval,
    p_owner uuid, p_lease interval)
RETURNS TABLE (outcome text, delivery_id uuid, events text, failed_attempts integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_outcome text := hub_webhook_record(p_subscription, p_delivery, p_status, p_latency_ms,
                                         p_body, p_error, p_succeeded, p_retry_in, p_retry_for);
BEGIN
    IF v_outcome = 'DELIVERED' THEN
        RETURN QUERY SELECT v_outcome, n.delivery_id, n.events, n.failed_attempts
                     FROM hub_webhook_next(p_subscription, p_owner, p_lease) n;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT v_outcome, NULL::uuid, NULL::text, NULL::integer;
END $$;
