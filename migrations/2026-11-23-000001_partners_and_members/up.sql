-- Partners, their API credentials, coalition members and the partner <-> member links.
-- Rules that protect data are enforced here too, not only in code.

CREATE TABLE partners (
    id uuid PRIMARY KEY,
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$'),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
    category text NOT NULL CHECK (category IN (
        'GROCERY', 'FUEL', 'RETAIL', 'TRAVEL', 'DINING', 'PHARMACY',
        'ENTERTAINMENT', 'ONLINE', 'SERVICES', 'CHARITY', 'OTHER')),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- points earned per one unit of currency spent
    earn_rate numeric(12, 4) NOT NULL CHECK (earn_rate >= 0 AND earn_rate <= 10000),
    accepts_redemptions boolean NOT NULL DEFAULT true,
    status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'SUSPENDED')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE partner_credentials (
    client_id text PRIMARY KEY,
    partner_id uuid NOT NULL REFERENCES partners (id),
    -- argon2id PHC string; the secret itself is shown once and never stored
    secret_hash text NOT NULL CHECK (secret_hash LIKE '$argon2%'),
    -- space-separated OAuth2 scopes this client may request
    scope text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX partner_credentials_partner_idx ON partner_credentials (partner_id);

CREATE TABLE members (
    id uuid PRIMARY KEY,
    -- 16 digits, the last a Luhn check digit (printed on cards, typed at tills)
    member_number text NOT NULL UNIQUE CHECK (member_number ~ '^[0-9]{16}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE member_links (
    partner_id uuid NOT NULL REFERENCES partners (id),
    partner_customer_id text NOT NULL CHECK (char_length(partner_customer_id) BETWEEN 1 AND 128),
    member_id uuid NOT NULL REFERENCES members (id),
    linked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, partner_customer_id),
    -- one customer id per member and partner
    UNIQUE (member_id, partner_id)
);
