-- Delivery state that changes with every POST (the cursor) and every poll (the lease) moves
-- to a table of its own: webhook_subscriptions, which every ledger statement reads to learn
-- who listens, then changes only when a subscription does (or fails).
CREATE TABLE webhook_cursors (
    subscription_id uuid PRIMARY KEY REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    -- the last event delivered, in the events' (txid, id) order
    cursor_txid xid8 NOT NULL,
    cursor_event_id uuid NOT NULL,
    -- the hub process delivering to the subscription, and until when
    lease_owner uuid,
    lease_until timestamptz
);
INSERT INTO webhook_cursors (subscription_id, cursor_txid, cursor_event_id, lease_owner, lease_until)
SELECT id, cursor_txid, cursor_event_id, lease_owner, lease_until FROM webhook_subscriptions;
ALTER TABLE webhook_subscriptions
    DROP COLUMN cursor_txid, DROP COLUMN cursor_event_id,
    DROP COLUMN lease_owner, DROP COLUMN lease_until;

-- Each process knows from its tail which partners have new events; a subscription behind
-- the tail reads the events themselves. The per-partner index of events goes.
DROP TABLE webhook_event_parties;
