-- Webhook events that no single transaction causes: points about to expire and tier
-- changes, found by jobs of `serve` (services::webhooks::worker). Each job does nothing
-- while no active subscription wants its events.

CREATE OR REPLACE FUNCTION hub_webhook_type_wanted(p_type text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM webhook_subscriptions s
                   WHERE s.status = 'ACTIVE'
                     AND (p_type = ANY (s.event_types) OR '*' = ANY (s.event_types)))
$$;

-- points.expiring, once per lot: lots with points left that expire within p_days. Two
-- processes at once notice each lot once (the notice's primary key). Answers the lots noticed.
CREATE OR REPLACE FUNCTION hub_webhook_expiring_lots(p_now timestamptz, p_days integer, p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    IF NOT hub_webhook_type_wanted('points.expiring') THEN
        RETURN 0;
    END IF;
    WITH due AS (
        SELECT l.id, l.member_id, l.issuer_partner_id, l.remaining, l.expires_at FROM lots l
        WHERE l.expires_at > p_now AND l.expires_at <= p_now + make_interval(days => p_days)
          AND l.remaining > 0
          AND NOT EXISTS (SELECT 1 FROM lot_expiry_notices n WHERE n.lot_id = l.id)
        ORDER BY l.expires_at
        LIMIT p_limit),
    noticed AS (
        INSERT INTO lot_expiry_notices (lot_id, noticed_at)
        SELECT id, p_now FROM due
        ON CONFLICT DO NOTHING
        RETURNING lot_id),
    events AS (
        INSERT INTO webhook_events (id, type, partner_ids, body, created_at)
        SELECT d.event_id, 'points.expiring', ARRAY[d.issuer_partner_id],
               hub_webhook_body(d.event_id, 'points.expiring', p_now,
                   json_build_object('memberId', d.member_id, 'lotId', d.id, 'points', d.remaining,
                                     'expiresAt', d.expires_at, 'issuerPartnerId', d.issuer_partner_id)),
               p_now
        FROM (SELECT hub_uuid_v7() AS event_id, due.* FROM due) d JOIN noticed n ON n.lot_id = d.id
        WHERE hub_webhook_wanted('points.expiring', ARRAY[d.issuer_partner_id])
        RETURNING 1)
    SELECT count(*) INTO v_count FROM noticed;
    RETURN v_count;
END $$;

-- The smallest UUIDv7 of the millisecond of p_at.
CREATE OR REPLACE FUNCTION hub_uuid_v7_floor(p_at timestamptz) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT (encode(substring(int8send(floor(extract(epoch FROM p_at) * 1000)::bigint) FROM 3), 'hex')
            || '00000000000000000000')::uuid
$$;

-- tier.changed: the members whose tier-counting entries were written since the last run
-- (up to p_limit entries), and members above the lowest tier not looked at for a day (a
-- tier falls as earns leave the window), compared with the tier each was last seen at. The
-- watch reads entries older than p_settle only (30 seconds in `serve`): by then every
-- transaction that wrote one has ended (statements time out well before). Serialised by its
-- cursor row. Answers the entries read (p_limit: there may be more).
CREATE OR REPLACE FUNCTION hub_webhook_tier_watch(p_now timestamptz, p_settle interval, p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_cursor uuid;
    v_upto uuid := hub_uuid_v7_floor(p_now - p_settle);
    v_last uuid;
    v_members uuid[];
    v_lowest text;
    v_entries integer;
BEGIN
    IF NOT hub_webhook_type_wanted('tier.changed') THEN
        -- Nobody listens: no backlog for a later subscription to wade through.
        UPDATE webhook_jobs SET cursor = greatest(cursor, v_upto) WHERE name = 'tier_watch';
        RETURN 0;
    END IF;
    -- The first run looks an hour back: a subscription made just before an earn hears of it.
    INSERT INTO webhook_jobs (name, cursor)
    VALUES ('tier_watch', hub_uuid_v7_floor(p_now - p_settle - interval '1 hour'))
    ON CONFLICT DO NOTHING;
    SELECT cursor INTO v_cursor FROM webhook_jobs WHERE name = 'tier_watch' FOR UPDATE;
    SELECT t.name INTO v_lowest FROM tiers t ORDER BY t.min_points LIMIT 1;
    SELECT (array_agg(e.id ORDER BY e.id DESC))[1], array_agg(DISTINCT e.member_id), count(*)
    INTO v_last, v_members, v_entries
    FROM (SELECT j.id, j.member_id FROM journal_entries j
          WHERE j.id > v_cursor AND j.id < v_upto
            AND j.kind IN ('ISSUE', 'RELEASE', 'REVERSE_ISSUE')
          ORDER BY j.id LIMIT p_limit) e;
    UPDATE webhook_jobs SET cursor = CASE WHEN v_entries >= p_limit THEN v_last
                                          ELSE greatest(v_cursor, v_upto) END
    WHERE name = 'tier_watch';
    -- Only members who may have gone up: lifetime earnings (never less than the points in
    -- the window) reaching the next tier above the one each was seen at (no mark: the
    -- lowest).
    SELECT array_agg(b.member_id) INTO v_members
    FROM member_balances b
    LEFT JOIN member_tier_marks k ON k.member_id = b.member_id
    JOIN (SELECT t.name, (SELECT min(u.min_points) FROM tiers u WHERE u.min_points > t.min_points)
                         AS above
          FROM tiers t) n ON n.name = coalesce(k.tier, v_lowest)
    WHERE b.member_id = ANY (v_members) AND b.lifetime_earned >= n.above;
    -- Once the entries are read up to the settle line (once per run, not per batch).
    IF v_entries < p_limit THEN
        v_members := coalesce(v_members, '{}') || ARRAY(
            SELECT k.member_id FROM member_tier_marks k
            WHERE k.tier <> v_lowest AND k.marked_at < p_now - interval '1 day'
            LIMIT p_limit);
    END IF;
    WITH seen AS (
        SELECT m.id AS member_id, coalesce(k.tier, v_lowest) AS was, hub_tier_name(m.id, p_now) AS now,
               k.member_id IS NOT NULL AS has_mark
        FROM (SELECT DISTINCT unnest(v_members) AS id) m
        LEFT JOIN member_tier_marks k ON k.member_id = m.id),
    marked AS (
        INSERT INTO member_tier_marks (member_id, tier, marked_at)
        SELECT s.member_id, s.now, p_now FROM seen s
        WHERE s.now IS NOT NULL AND (s.has_mark OR s.now <> s.was)
        ON CONFLICT (member_id) DO UPDATE SET tier = excluded.tier, marked_at = excluded.marked_at
        RETURNING 1)
    INSERT INTO webhook_events (id, type, partner_ids, body, created_at)
    SELECT s.event_id, 'tier.changed', p.partner_ids,
           hub_webhook_body(s.event_id, 'tier.changed', p_now,
               json_build_object('memberId', s.member_id, 'previousTier', s.was, 'tier', s.now)),
           p_now
    FROM (SELECT hub_uuid_v7() AS event_id, seen.* FROM seen) s
    CROSS JOIN LATERAL (SELECT coalesce(array_agg(l.partner_id), '{}') AS partner_ids
                        FROM member_links l WHERE l.member_id = s.member_id) p
    WHERE s.now IS DISTINCT FROM s.was AND s.now IS NOT NULL
      AND hub_webhook_wanted('tier.changed', p.partner_ids);
    RETURN v_entries;
END $$;

-- Forgets attempts and events older than p_before (by their UUIDv7 ids), except events an
-- active subscription has not been sent yet or is to be sent again.
CREATE OR REPLACE FUNCTION hub_webhook_purge(p_before timestamptz, p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
    v_keep_txid xid8;
BEGIN
    DELETE FROM webhook_attempts WHERE id IN (
        SELECT id FROM webhook_attempts WHERE id < hub_uuid_v7_floor(p_before) LIMIT p_limit);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    SELECT min(c.cursor_txid) INTO v_keep_txid
    FROM webhook_cursors c JOIN webhook_subscriptions s ON s.id = c.subscription_id
    WHERE s.status = 'ACTIVE';
    DELETE FROM webhook_events WHERE id IN (
        SELECT e.id FROM webhook_events e
        WHERE e.id < hub_uuid_v7_floor(p_before)
          AND (v_keep_txid IS NULL OR e.txid < v_keep_txid)
          AND NOT EXISTS (SELECT 1 FROM webhook_redeliveries r WHERE r.event_id = e.id)
        LIMIT p_limit);
    RETURN v_count;
END $$;
