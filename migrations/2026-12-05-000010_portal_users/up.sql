-- People who sign in to the pages: the operator's staff (no partner) and partners' staff.
-- Passwords are kept as Argon2id hashes only.
CREATE TABLE portal_users (
    id uuid PRIMARY KEY,
    email text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    -- null: the coalition operator's staff
    partner_id uuid REFERENCES partners (id),
    role text NOT NULL CHECK (role IN ('admin', 'staff')),
    password_hash text NOT NULL,
    -- failed sign-ins since the last good one; at the limit the account locks for a while
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    disabled_at timestamptz
);
CREATE UNIQUE INDEX portal_users_email ON portal_users (email);
CREATE INDEX portal_users_partner ON portal_users (partner_id);

-- Signed-in browsers: a portal user's or a member's (through the wallet link). The cookie
-- holds a random token; only its SHA-256 is kept, so a copy of this table opens nothing.
CREATE TABLE web_sessions (
    token_hash bytea PRIMARY KEY,
    user_id uuid REFERENCES portal_users (id) ON DELETE CASCADE,
    member_id uuid REFERENCES members (id),
    -- sent back by the page in `x-csrf-token` with every request it makes
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CHECK ((user_id IS NULL) <> (member_id IS NULL))
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
