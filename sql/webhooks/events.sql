-- Webhook events, written in the transaction that causes them (docs/WEBHOOKS.md). An event
-- is written only when an active subscription would receive it: with no subscriptions the
-- ledger pays one probe of a small table per statement.

-- Whether an active subscription receives events of p_type with these parties: the
-- coalition's own subscriptions (no partner) receive every event, a partner's those it is
-- party to.
CREATE OR REPLACE FUNCTION hub_webhook_wanted(p_type text, p_partner_ids uuid[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM webhook_subscriptions s
                   WHERE s.status = 'ACTIVE'
                     AND (s.partner_id IS NULL OR s.partner_id = ANY (p_partner_ids))
                     AND (p_type = ANY (s.event_types) OR '*' = ANY (s.event_types)))
$$;

-- The event as it is POSTed, made once when it is written.
CREATE OR REPLACE FUNCTION hub_webhook_body(p_id uuid, p_type text, p_at timestamptz, p_data json)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('id', p_id, 'type', p_type, 'createdAt', p_at, 'data', p_data)::text
$$;

-- One event from a service (campaigns, settlement).
CREATE OR REPLACE FUNCTION hub_webhook_emit(p_type text, p_partner_ids uuid[], p_data json,
                                            p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := hub_uuid_v7();
BEGIN
    IF hub_webhook_wanted(p_type, p_partner_ids) THEN
        INSERT INTO webhook_events (id, type, partner_ids, body, created_at)
        VALUES (v_id, p_type, p_partner_ids, hub_webhook_body(v_id, p_type, p_now, p_data), p_now);
    END IF;
END $$;

-- The event of a journal entry's kind (none for kinds no partner hears of).
CREATE OR REPLACE FUNCTION hub_webhook_entry_type(p_kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_kind
        WHEN 'ISSUE' THEN 'points.issued'
        WHEN 'REDEEM' THEN 'points.redeemed'
        WHEN 'REVERSE_ISSUE' THEN 'points.reversed'
        WHEN 'REVERSE_REDEEM' THEN 'points.reversed'
        WHEN 'HOLD' THEN 'hold.authorized'
        WHEN 'CAPTURE' THEN 'hold.captured'
        WHEN 'VOID' THEN 'hold.voided'
        WHEN 'HOLD_EXPIRY' THEN 'hold.expired'
        WHEN 'BONUS' THEN 'campaign.bonus_awarded'
    END
$$;

-- Ledger events: one per journal entry of the kinds above, for the entry's partner (and,
-- for a campaign bonus, the partner where the purchase was made as well as the sponsor).
-- A statement trigger: a group commit's many entries cost one INSERT. Who listens is read
-- once per statement; the dispatcher matches event types.
CREATE OR REPLACE FUNCTION hub_webhook_ledger_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_everything boolean;
    v_partners uuid[];
BEGIN
    SELECT bool_or(partner_id IS NULL),
           array_agg(DISTINCT partner_id) FILTER (WHERE partner_id IS NOT NULL)
    INTO v_everything, v_partners
    FROM webhook_subscriptions WHERE status = 'ACTIVE';
    IF v_everything IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_events (id, type, partner_ids, body, created_at)
    SELECT y.event_id, y.type, y.parties,
           hub_webhook_body(y.event_id, y.type, y.created_at,
               json_build_object('entryId', y.id, 'kind', y.kind, 'memberId', y.member_id,
                                 'partnerId', y.partner_id, 'points', y.points,
                                 'reference', y.reference, 'holdId', y.hold_id,
                                 'reversesEntryId', y.reverses_entry_id,
                                 'relatedEntryId', y.related_entry_id, 'campaignId', y.campaign_id,
                                 'availableAt', y.available_at)),
           y.created_at
    FROM (SELECT x.id AS event_id, x.*  -- one event per entry: the entry's id is the event's
          FROM (SELECT e.*, hub_webhook_entry_type(e.kind) AS type,
                       CASE WHEN e.kind = 'BONUS'
                            THEN ARRAY[e.partner_id, (SELECT r.partner_id FROM journal_entries r
                                                      WHERE r.id = e.related_entry_id)]
                            ELSE ARRAY[e.partner_id] END AS parties
                FROM new_entries e
                WHERE e.partner_id IS NOT NULL) x
          WHERE x.type IS NOT NULL AND (v_everything OR x.parties && v_partners)) y;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER journal_entries_webhooks AFTER INSERT ON journal_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION hub_webhook_ledger_events();

-- member.enrolled (a member's first link: it joined at this partner) and member.linked (an
-- existing member linked to another partner's customer id), for that partner only.
CREATE OR REPLACE FUNCTION hub_webhook_member_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_events (id, type, partner_ids, body, created_at)
    SELECT x.event_id, x.type, ARRAY[x.partner_id],
           hub_webhook_body(x.event_id, x.type, x.linked_at,
               json_build_object('memberId', x.member_id, 'memberNumber', m.member_number,
                                 'partnerId', x.partner_id, 'partnerCustomerId', x.partner_customer_id)),
           x.linked_at
    FROM (SELECT n.*, hub_uuid_v7() AS event_id,
                 CASE WHEN EXISTS (SELECT 1 FROM member_links o
                                   WHERE o.member_id = n.member_id AND o.partner_id <> n.partner_id)
                      THEN 'member.linked' ELSE 'member.enrolled' END AS type
          FROM new_links n) x
    JOIN members m ON m.id = x.member_id
    WHERE hub_webhook_wanted(x.type, ARRAY[x.partner_id]);
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER member_links_webhooks AFTER INSERT ON member_links
    REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION hub_webhook_member_links();

-- The per-partner index of events is gone (migration …_webhook_cursors): partners' new
-- events are known from each process's tail (services::webhooks::tail).
DROP TRIGGER IF EXISTS webhook_events_parties ON webhook_events;
DROP FUNCTION IF EXISTS hub_webhook_event_parties();
