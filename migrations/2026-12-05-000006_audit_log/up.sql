-- The audit trail (issue 24): every administrative change made by the operator or a
-- partner (partners, rate cards, credentials, tiers, campaigns, settlement closes,
-- suspensions): who, what, when, in which request, and the values before and after.
-- Append-only (sql/common/append_only.sql), written in the change's own transaction.
CREATE TABLE audit_log (
    id uuid PRIMARY KEY,  -- UUIDv7: in time order
    at timestamptz NOT NULL,
    -- the principal's subject: "operator:<sub>" or "partner:<id>"
    actor text NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 200),
    -- the partner whose business it is (who may read the entry); NULL: the coalition's
    partner_id uuid,
    -- dotted lower case: partner.created, campaign.ended, ...
    action text NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    -- what changed: its id
    target text NOT NULL,
    request_id text,
    before jsonb,
    after jsonb
);
CREATE INDEX audit_log_partner ON audit_log (partner_id, id) WHERE partner_id IS NOT NULL;
CREATE INDEX audit_log_action ON audit_log (action, id);
