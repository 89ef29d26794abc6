-- A partner acts on a member's points or identity only when the member is there or agreed
-- (issue 22): standing consents and presence codes.

-- A member's standing consent for a partner to redeem, hold, link and log in for it
-- without a presence code. ENROLMENT: the member signed up at the partner; MEMBER: granted
-- in the member's app. Revoking deletes the row.
CREATE TABLE member_consents (
    member_id uuid NOT NULL REFERENCES members (id),
    partner_id uuid NOT NULL REFERENCES partners (id),
    source text NOT NULL CHECK (source IN ('ENROLMENT', 'MEMBER')),
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (member_id, partner_id)
);

-- The member's current presence code (one at most: a new one replaces it), as a hash bound
-- to the member (sql/members/presence.sql). Used up by the operation that presents it;
-- five wrong codes for the member void it.
CREATE TABLE presence_codes (
    member_id uuid PRIMARY KEY REFERENCES members (id),
    code_hash bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    created_at timestamptz NOT NULL
);

-- Until now every link carried the power that consent now gives; nothing is deployed, so
-- links made so far keep it.
INSERT INTO member_consents (member_id, partner_id, source, granted_at)
SELECT member_id, partner_id, 'ENROLMENT', linked_at FROM member_links
ON CONFLICT DO NOTHING;

-- The set path now tells whether a redemption brings a presence code (those go one by one).
ALTER TYPE hub_batch_row RENAME ATTRIBUTE linked TO with_presence_code;

-- Functions whose arguments changed (their files create the new ones).
DROP FUNCTION IF EXISTS hub_find_member(uuid, uuid, text, text, boolean);
DROP FUNCTION IF EXISTS ledger_redeem(text, text, bytea, uuid, uuid, text, text, bigint, text, timestamptz);
DROP FUNCTION IF EXISTS ledger_authorize(text, text, bytea, uuid, uuid, text, text, bigint, text, timestamptz, timestamptz);
