-- Webhooks (issue 24): partners' and the operator's subscriptions, the events the ledger and
-- the services write in their own transactions, and the deliveries that carry them.
-- How it fits together: docs/WEBHOOKS.md.

CREATE TABLE webhook_subscriptions (
    id uuid PRIMARY KEY,
    -- the partner that receives (only events it is party to); NULL: the coalition's own,
    -- made by the operator, which receives every event
    partner_id uuid REFERENCES partners (id),
    url text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2000),
    -- dotted lower case names (`points.issued`); `*`: every type
    event_types text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 50),
    -- the HMAC key: the hub signs with it, so it is kept (never shown again after creation)
    secret text NOT NULL,
    status text NOT NULL CHECK (status IN ('ACTIVE', 'PAUSED', 'DISABLED')),
    disabled_reason text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    -- delivery state: the last event delivered, in the events' (txid, id) order (set to the
    -- watermark when the subscription is made or resumed); since when and how often the
    -- next POST has failed, when it may go again, and which hub process holds the
    -- subscription (a lease) meanwhile
    cursor_txid xid8 NOT NULL DEFAULT '0',
    cursor_event_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    failing_since timestamptz,
    failed_attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
    lease_owner uuid,
    lease_until timestamptz
);
CREATE INDEX webhook_subscriptions_partner ON webhook_subscriptions (partner_id);

-- Events, written by the transaction that caused them (none for a rolled-back one), read
-- in (txid, id) order up to the watermark (sql/webhooks/dispatch.sql).
CREATE TABLE webhook_events (
    id uuid PRIMARY KEY,
    type text NOT NULL,
    -- the partners party to the event: who may receive it
    partner_ids uuid[] NOT NULL,
    -- the event as POSTed: {"id", "type", "createdAt", "data"}, made once when written
    body text NOT NULL,
    created_at timestamptz NOT NULL,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX webhook_events_order ON webhook_events (txid, id);
CREATE INDEX webhook_events_created ON webhook_events USING brin (created_at);

-- Each event once per party, in the same order: a partner's subscriptions read their
-- partner's events by this index.
CREATE TABLE webhook_event_parties (
    partner_id uuid NOT NULL,
    txid xid8 NOT NULL,
    event_id uuid NOT NULL,
    PRIMARY KEY (partner_id, txid, event_id)
);

-- The watermark: every event at or below it in (txid, id) order is committed, and no
-- transaction can add one below it any more.
CREATE TABLE webhook_dispatch (
    id integer PRIMARY KEY CHECK (id = 1),
    txid xid8 NOT NULL,
    event_id uuid NOT NULL
);
INSERT INTO webhook_dispatch VALUES (1, '0', '00000000-0000-0000-0000-000000000000');

-- Events to send a subscription again (`redeliverWebhookEvent`), before its stream.
CREATE TABLE webhook_redeliveries (
    id uuid PRIMARY KEY,  -- UUIDv7: in order of asking
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_id uuid NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX webhook_redeliveries_subscription ON webhook_redeliveries (subscription_id, id);

-- Every POST: what it carried, what the receiver answered, or why nothing came.
CREATE TABLE webhook_attempts (
    id uuid PRIMARY KEY,  -- UUIDv7: in time order; the POST's Hub-Delivery-Id
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_ids uuid[] NOT NULL,
    redelivery boolean NOT NULL,
    attempted_at timestamptz NOT NULL,
    status_code integer,
    latency_ms integer NOT NULL,
    -- the first KiB of the answer
    response_body text,
    error text,
    succeeded boolean NOT NULL
);
CREATE INDEX webhook_attempts_subscription ON webhook_attempts (subscription_id, id);

-- `points.expiring`: once per lot.
CREATE TABLE lot_expiry_notices (
    lot_id uuid PRIMARY KEY,
    noticed_at timestamptz NOT NULL
);

-- `tier.changed`: the tier each member was last seen at (none: the lowest).
CREATE TABLE member_tier_marks (
    member_id uuid PRIMARY KEY REFERENCES members (id),
    tier text NOT NULL,
    marked_at timestamptz NOT NULL
);

-- Cursors of the webhook jobs (the tier watch reads journal entries after its cursor).
CREATE TABLE webhook_jobs (
    name text PRIMARY KEY,
    cursor uuid NOT NULL
);
