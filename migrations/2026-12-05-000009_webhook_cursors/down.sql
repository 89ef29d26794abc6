CREATE TABLE webhook_event_parties (
    partner_id uuid NOT NULL,
    txid xid8 NOT NULL,
    event_id uuid NOT NULL,
    PRIMARY KEY (partner_id, txid, event_id)
);
INSERT INTO webhook_event_parties (partner_id, txid, event_id)
SELECT DISTINCT p.partner_id, e.txid, e.id
FROM webhook_events e CROSS JOIN LATERAL unnest(e.partner_ids) p (partner_id);
ALTER TABLE webhook_subscriptions
    ADD COLUMN cursor_txid xid8 NOT NULL DEFAULT '0',
    ADD COLUMN cursor_event_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    ADD COLUMN lease_owner uuid,
    ADD COLUMN lease_until timestamptz;
UPDATE webhook_subscriptions s
SET cursor_txid = c.cursor_txid, cursor_event_id = c.cursor_event_id,
    lease_owner = c.lease_owner, lease_until = c.lease_until
FROM webhook_cursors c WHERE c.subscription_id = s.id;
DROP TABLE webhook_cursors;
