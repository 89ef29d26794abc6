-- The hub's tables, as the fourteen migrations up to 2026-12-01 left them, in one place.
--
-- This migration holds data structures only: tables, indexes, identity sequences,
-- composite types, constraints and seed rows. Every SQL function and every trigger lives in
-- exactly one file under sql/ and is applied by `hub migrate` after the migrations
-- (src/db/sql_files.rs), so a function has one current source and is changed by editing
-- its file, not by a new migration.
--
-- The only functions defined here are the two immutable kind lists that CHECK constraints
-- call (see "Checks" below): a table cannot be created before the functions its
-- constraints use, and these never change without the table changing too.

---------------------------------------------------------------------------------------------
-- Checks
---------------------------------------------------------------------------------------------

-- PostgreSQL reads and prepares every CHECK constraint of a table again for each statement
-- that writes it; a profile of the ledger bench put a seventh of PostgreSQL's time there,
-- most of it on long `kind IN (...)` lists. So each hot table has one CHECK, and the two
-- longest kind lists are immutable functions (one call to read instead of an array of
-- strings). They stay in this migration, not in sql/: the tables depend on them.
CREATE FUNCTION hub_is_entry_kind(p_kind text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN p_kind IN ('ISSUE', 'REDEEM', 'HOLD', 'CAPTURE', 'VOID', 'HOLD_EXPIRY',
                      'REVERSE_ISSUE', 'REVERSE_REDEEM', 'EXPIRY', 'TRANSFER_OUT', 'TRANSFER_IN');
END $$;

CREATE FUNCTION hub_is_settlement_kind(p_kind text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN p_kind IN ('REDEMPTION', 'REDEMPTION_REVERSAL', 'ISSUE', 'ISSUE_REVERSAL', 'EXPIRY',
                      'DEBT_REPAYMENT');
END $$;

---------------------------------------------------------------------------------------------
-- Partners and members
---------------------------------------------------------------------------------------------

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
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- what a referral is worth to the partner where it converts
    referral_score bigint NOT NULL DEFAULT 10
        CHECK (referral_score BETWEEN 1 AND 1000000),
    referral_reward_points bigint NOT NULL DEFAULT 0
        CHECK (referral_reward_points BETWEEN 0 AND 1000000),
    -- whether the partner's earns are multiplied by the member's tier
    applies_tier_multiplier boolean NOT NULL DEFAULT false
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

-- A member asks to link another (`linkFamilyMember`); the link is active once both have
-- asked. Links are not ledger: unlinking deletes both rows.
CREATE TABLE family_links (
    member_id uuid NOT NULL REFERENCES members (id),
    linked_member_id uuid NOT NULL REFERENCES members (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, linked_member_id),
    CONSTRAINT family_links_check CHECK (member_id <> linked_member_id)
);
CREATE INDEX family_links_linked ON family_links (linked_member_id);

-- Coalition tiers: levels by points earned in a rolling 12 months, with an earn multiplier
-- that opted-in partners apply. Set as a whole by the operator (`setTiers`); the lowest
-- starts at 0 points.
CREATE TABLE tiers (
    name text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 40),
    min_points bigint NOT NULL UNIQUE CHECK (min_points >= 0),
    earn_multiplier numeric(6, 3) NOT NULL CHECK (earn_multiplier >= 1 AND earn_multiplier <= 10)
);
INSERT INTO tiers (name, min_points, earn_multiplier) VALUES
    ('Member', 0, 1.000),
    ('Silver', 2500, 1.250),
    ('Gold', 10000, 1.500);

---------------------------------------------------------------------------------------------
-- Ledger: accounts and balances
---------------------------------------------------------------------------------------------

-- Accounts carry no balance: member balances live in member_balances (checked, locked),
-- partner and coalition balances are sums of postings (never a hot row to update). Members
-- and partners get their accounts from triggers (sql/ledger/accounts.sql).
CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    member_id uuid REFERENCES members (id),
    partner_id uuid REFERENCES partners (id),
    CONSTRAINT accounts_check CHECK ((kind IN ('MEMBER_AVAILABLE', 'MEMBER_HELD')) = (member_id IS NOT NULL)),
    CONSTRAINT accounts_check1 CHECK ((kind IN ('PARTNER_ISSUANCE', 'PARTNER_REDEMPTION')) = (partner_id IS NOT NULL)),
    CONSTRAINT accounts_kind_check CHECK (kind IN (
        'MEMBER_AVAILABLE', 'MEMBER_HELD', 'PARTNER_ISSUANCE', 'PARTNER_REDEMPTION',
        -- expired points (breakage); the clearing account of family transfers
        'COALITION_BREAKAGE', 'COALITION_TRANSFERS'))
);
CREATE UNIQUE INDEX accounts_member_kind ON accounts (member_id, kind) WHERE member_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_partner_kind ON accounts (partner_id, kind) WHERE partner_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_one_breakage ON accounts (kind) WHERE kind = 'COALITION_BREAKAGE';
CREATE UNIQUE INDEX accounts_one_transfers ON accounts (kind) WHERE kind = 'COALITION_TRANSFERS';
-- The coalition's two accounts (ids 1 and 2, in this order, as before).
INSERT INTO accounts (kind) VALUES ('COALITION_BREAKAGE');
INSERT INTO accounts (kind) VALUES ('COALITION_TRANSFERS');

-- The only rows locked on the hot path. fillfactor leaves room on each page so that
-- balance updates are HOT (no index work).
CREATE TABLE member_balances (
    member_id uuid PRIMARY KEY REFERENCES members (id),
    available_account bigint NOT NULL,
    held_account bigint NOT NULL,
    available bigint NOT NULL DEFAULT 0,
    held bigint NOT NULL DEFAULT 0,
    -- points owed after a refund clawback took back points already spent
    debt bigint NOT NULL DEFAULT 0,
    lifetime_earned bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- one CHECK for the whole row (see "Checks")
    CONSTRAINT member_balances_valid CHECK (
        available >= 0 AND held >= 0 AND debt >= 0 AND lifetime_earned >= 0
        AND (available = 0 OR debt = 0))
) WITH (fillfactor = 85);

CREATE TABLE partner_accounts (
    partner_id uuid PRIMARY KEY REFERENCES partners (id),
    issuance_account bigint NOT NULL,
    redemption_account bigint NOT NULL
);

---------------------------------------------------------------------------------------------
-- Ledger: the journal
---------------------------------------------------------------------------------------------

-- The hot-path tables (journal_entries, postings, lots, lot_consumptions) have no foreign
-- keys on purpose: each key check takes a row lock that writes WAL, and on partner rows a
-- lock per entry would make every partner a hot row (DESIGN.md). Only the ledger functions
-- (sql/ledger/) write these tables, with ids they have just read or written, and
-- `hub verify` checks every reference. They are append-only and double-entry, enforced by
-- triggers (sql/ledger/append_only.sql, sql/ledger/double_entry.sql).
CREATE TABLE journal_entries (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    member_id uuid NOT NULL,
    partner_id uuid,
    points bigint NOT NULL,
    reverses_entry_id uuid,
    hold_id uuid,
    reference text,
    -- ISSUE by purchase: what was bought and the earn rate that turned it into points
    purchase_amount numeric(20, 4),
    purchase_currency text,
    earn_rate numeric(12, 4),
    -- part of an ISSUE or REVERSE_REDEEM that repaid a points debt instead of becoming a lot
    debt_repaid bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- the multiplier an ISSUE applied (NULL: none, or 1)
    tier_multiplier numeric(6, 3),
    -- the other half of a family transfer (TRANSFER_OUT <-> TRANSFER_IN)
    related_entry_id uuid,
    -- one CHECK for the whole row (see "Checks")
    CONSTRAINT journal_entries_valid CHECK (
        hub_is_entry_kind(kind)
        AND points > 0
        AND char_length(reference) <= 200
        AND debt_repaid >= 0 AND debt_repaid <= points
        AND tier_multiplier > 1)
);
-- Ids are UUIDv7, so id order is time order: listings page by id, and the primary key
-- serves the whole journal in time order.
CREATE INDEX journal_entries_member ON journal_entries (member_id, id);
CREATE INDEX journal_entries_partner ON journal_entries (partner_id, id);
CREATE INDEX journal_entries_reverses ON journal_entries (reverses_entry_id) WHERE reverses_entry_id IS NOT NULL;

-- Balances by account are sums over this table (`hub verify`, settlement's own records);
-- no index by account, so that a partner's account is never a hot index page.
CREATE TABLE postings (
    entry_id uuid NOT NULL,
    account_id bigint NOT NULL,
    amount bigint NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (entry_id, account_id)
);

-- A lot is what one earn left in the member's wallet. Lots are state, not ledger: their
-- remaining points change, and every change is a lot_consumptions row of some entry.
CREATE TABLE lots (
    id uuid PRIMARY KEY,  -- the ISSUE (or TRANSFER_IN) entry that made it
    member_id uuid NOT NULL,
    issuer_partner_id uuid NOT NULL,
    points bigint NOT NULL,
    -- not yet redeemed, expired or clawed back (reserved points included)
    remaining bigint NOT NULL,
    -- held by pending holds
    reserved bigint NOT NULL DEFAULT 0,
    earned_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    -- a lot made by a family transfer: a slice of the sender's lot (same issuer, earn and
    -- expiry dates), written by the TRANSFER_IN entry
    source_lot_id uuid,
    transfer_entry_id uuid,
    CONSTRAINT lots_valid CHECK (
        points > 0
        AND remaining >= 0 AND remaining <= points
        AND reserved >= 0 AND reserved <= remaining
        AND (source_lot_id IS NULL) = (transfer_entry_id IS NULL))
) WITH (fillfactor = 90);
-- First-expiring-first consumption of a member's lots with free points. (The predicate must
-- be the queries' own, `remaining > reserved`, or the planner cannot use this index.)
CREATE INDEX lots_open ON lots (member_id, expires_at, earned_at, id) WHERE remaining > reserved;
-- The expiry job's scan: lots are written in time order and mostly with the default
-- lifetime, so a BRIN index finds due ones for almost no cost per insert.
CREATE INDEX lots_due ON lots USING brin (expires_at);

CREATE TABLE lot_consumptions (
    entry_id uuid NOT NULL,
    lot_id uuid NOT NULL,
    -- positive: taken from the lot; negative: given back (a refunded redemption)
    points bigint NOT NULL,
    kind text NOT NULL,
    -- where the points were spent (REDEEM, CAPTURE, RESTORE): the settlement counterparty
    redeeming_partner_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- one entry may both give points back to a lot and take some again (a refund that
    -- repays a debt), so the kind is part of the key
    PRIMARY KEY (entry_id, lot_id, kind),
    CONSTRAINT lot_consumptions_valid CHECK (
        kind IN ('REDEEM', 'CAPTURE', 'EXPIRY', 'CLAWBACK', 'RESTORE', 'TRANSFER')
        AND points <> 0)
);
CREATE INDEX lot_consumptions_lot ON lot_consumptions (lot_id);

-- Two-phase redemptions: points reserved by an authorization until captured, voided or
-- timed out.
CREATE TABLE holds (
    id uuid PRIMARY KEY,
    member_id uuid NOT NULL REFERENCES members (id),
    partner_id uuid NOT NULL,
    points bigint NOT NULL CHECK (points > 0),
    status text NOT NULL CHECK (status IN ('PENDING', 'CAPTURED', 'VOIDED', 'EXPIRED')),
    captured_points bigint NOT NULL DEFAULT 0,
    reference text,
    expires_at timestamptz NOT NULL,
    authorize_entry_id uuid NOT NULL REFERENCES journal_entries (id),
    final_entry_id uuid REFERENCES journal_entries (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    finalized_at timestamptz,
    CONSTRAINT holds_check CHECK (captured_points >= 0 AND captured_points <= points),
    CONSTRAINT holds_check1 CHECK ((status = 'PENDING') = (final_entry_id IS NULL))
);
CREATE INDEX holds_pending_due ON holds (expires_at) WHERE status = 'PENDING';
CREATE INDEX holds_member ON holds (member_id, created_at);

-- Which lot points a hold reserved, in the order they were taken.
CREATE TABLE hold_lots (
    hold_id uuid NOT NULL REFERENCES holds (id),
    lot_id uuid NOT NULL REFERENCES lots (id),
    points bigint NOT NULL CHECK (points > 0),
    seq int NOT NULL,
    PRIMARY KEY (hold_id, lot_id)
);

-- Claimed in the same transaction as the postings; scoped to the caller.
CREATE TABLE idempotency_keys (
    caller text NOT NULL,
    key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    -- sha256 of the operation and its normalized input
    fingerprint bytea NOT NULL,
    entry_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);

---------------------------------------------------------------------------------------------
-- Ledger: composite types of the ledger functions
---------------------------------------------------------------------------------------------

-- What a ledger function answers for one member: the entry, the hold it concerns, the
-- member's balance after it, and whether this was a replay of an earlier call.
CREATE TYPE hub_result AS (
    entry_id uuid,
    hold_id uuid,
    member_id uuid,
    available bigint,
    held bigint,
    debt bigint,
    lifetime_earned bigint,
    replayed boolean
);

-- What the expiry jobs did to one member, for its `balanceChanged` event.
CREATE TYPE hub_expired AS (
    entry_id uuid,
    member_id uuid,
    points bigint,
    available bigint,
    held bigint,
    debt bigint,
    lifetime_earned bigint
);

-- One operation of a group-commit batch as the set path (hub_batch_sets) carries it.
CREATE TYPE hub_batch_row AS (
    ord bigint,
    op text,
    caller text,
    key text,
    fingerprint bytea,
    partner_id uuid,
    member_id uuid,
    points bigint,
    entry_id uuid,
    reference text,
    expires_at timestamptz,
    purchase_amount numeric,
    purchase_currency text,
    earn_rate numeric,
    now timestamptz,
    partner_account bigint,
    member_account bigint,
    referral_code text,
    linked boolean,
    -- a redemption's first open lot (first to expire) and its free points
    lot_id uuid,
    lot_free bigint
);

---------------------------------------------------------------------------------------------
-- Settlement
---------------------------------------------------------------------------------------------

-- Rate cards, effective-dated. The rate in force at time t is the row with the latest
-- effective_from <= t (the later setting wins a tie). Rows are never changed: a new rate is
-- a new row, so the history stays.
CREATE TABLE partner_rates (
    id uuid PRIMARY KEY,
    partner_id uuid NOT NULL REFERENCES partners (id),
    -- money per point the partner is owed when points are redeemed at it
    redemption_value numeric(18, 6) NOT NULL CHECK (redemption_value >= 0),
    -- money per point the partner pays the hub when it issues
    issuance_fee numeric(18, 6) NOT NULL CHECK (issuance_fee >= 0),
    effective_from timestamptz NOT NULL,
    set_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_rates_partner ON partner_rates (partner_id, effective_from, created_at);

-- What settlement counts, written by the ledger in the transaction of the entry (triggers
-- in sql/settlement/attribution.sql), one row per redemption slice, reversal slice, issue,
-- issue reversal, expiry and debt repayment. Points are signed: reversals are negative.
--
-- A record belongs to the first closed period whose cut-off is after occurred_at and whose
-- snapshot saw the record's transaction committed (txid): a record that commits while a
-- close runs goes to the next period. Nothing is stamped row by row, so a close of a
-- million records writes one row.
CREATE TABLE settlement_records (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    entry_id uuid NOT NULL,
    issuer_partner_id uuid NOT NULL,
    -- REDEMPTION and REDEMPTION_REVERSAL: where the points were spent
    redeeming_partner_id uuid,
    points bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    -- one CHECK for the whole row (see "Checks")
    CONSTRAINT settlement_records_valid CHECK (
        hub_is_settlement_kind(kind)
        AND points <> 0
        AND (kind IN ('REDEMPTION', 'REDEMPTION_REVERSAL')) = (redeeming_partner_id IS NOT NULL))
);
CREATE INDEX settlement_records_time ON settlement_records (occurred_at);
CREATE INDEX settlement_records_txid ON settlement_records (txid);

-- Closed periods. A close takes this table's lock, then its snapshot: closes are serial and
-- each one sees every earlier close.
CREATE TABLE settlement_periods (
    id uuid PRIMARY KEY,
    -- the previous cut-off, or the first record's time for the first period
    period_start timestamptz NOT NULL,
    cutoff timestamptz NOT NULL UNIQUE,
    closed_at timestamptz NOT NULL,
    closed_by text NOT NULL,
    -- the close's own snapshot: which transactions had committed when it ran
    snapshot pg_snapshot NOT NULL,
    record_count bigint NOT NULL,
    -- the statement as closed (canonical JSON) and the sha256 of that text
    statement jsonb NOT NULL,
    content_hash text NOT NULL,
    CONSTRAINT settlement_periods_check CHECK (period_start <= cutoff)
);

---------------------------------------------------------------------------------------------
-- Ambassadors and leaderboards
---------------------------------------------------------------------------------------------

-- PostgreSQL holds the truth (ambassadors, their activity, referrals); Redis holds the
-- boards, projected through leaderboard_outbox by the relay in `hub serve`
-- (services::leaderboards). Everything here is written in the transaction of the activity
-- it records, so an activity, its reward points and its outbox row commit together or not
-- at all.

-- One public profile per member; boards show the handle, never who the member is.
CREATE TABLE ambassadors (
    id uuid PRIMARY KEY,
    member_id uuid NOT NULL UNIQUE REFERENCES members (id),
    handle text NOT NULL CHECK (handle ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$'),
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX ambassadors_handle ON ambassadors (lower(handle));

-- Who may record activity for an ambassador: the partner it is enrolled for, or any partner
-- when it is enrolled for the whole coalition (partner_id NULL).
CREATE TABLE ambassador_enrollments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ambassador_id uuid NOT NULL REFERENCES ambassadors (id),
    partner_id uuid REFERENCES partners (id),
    enrolled_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX ambassador_enrollments_scope
    ON ambassador_enrollments (ambassador_id, coalesce(partner_id, '00000000-0000-0000-0000-000000000000'));

-- The activity log: append-only, one row per scored event. Each counts on the recording
-- partner's boards and on the coalition's, in the period of occurred_at.
CREATE TABLE ambassador_activities (
    id uuid PRIMARY KEY,
    ambassador_id uuid NOT NULL REFERENCES ambassadors (id),
    partner_id uuid NOT NULL REFERENCES partners (id),
    kind text NOT NULL CHECK (kind IN ('REFERRAL', 'REVIEW', 'SOCIAL_SHARE', 'CONTENT', 'CUSTOM')),
    score bigint NOT NULL CHECK (score BETWEEN 1 AND 1000000),
    -- issued by partner_id in the same transaction; the entry is the one of idempotency key
    -- ('ambassador-reward', id)
    reward_points bigint NOT NULL DEFAULT 0 CHECK (reward_points >= 0),
    reference text CHECK (char_length(reference) <= 200),
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    -- idempotency, scoped to the caller as for the ledger
    caller text NOT NULL,
    key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    fingerprint bytea NOT NULL,
    UNIQUE (caller, key)
);
CREATE INDEX ambassador_activities_ambassador ON ambassador_activities (ambassador_id, occurred_at);

CREATE TABLE referral_codes (
    code text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{6,16}$'),
    ambassador_id uuid NOT NULL REFERENCES ambassadors (id),
    -- the partner where the code may be used; NULL: at any partner
    partner_id uuid REFERENCES partners (id),
    created_at timestamptz NOT NULL
);
CREATE INDEX referral_codes_ambassador ON referral_codes (ambassador_id);

-- A member referred to a partner. It converts (once) on the member's first earn there.
CREATE TABLE referrals (
    id uuid PRIMARY KEY,
    code text NOT NULL REFERENCES referral_codes (code),
    ambassador_id uuid NOT NULL REFERENCES ambassadors (id),
    referred_member_id uuid NOT NULL REFERENCES members (id),
    partner_id uuid NOT NULL REFERENCES partners (id),
    created_at timestamptz NOT NULL,
    converted_at timestamptz,
    activity_id uuid REFERENCES ambassador_activities (id),
    UNIQUE (referred_member_id, partner_id)
);

-- Activities not yet projected into Redis. The relay deletes what it has applied.
CREATE TABLE leaderboard_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- How many relay batches have been applied to Redis. Redis keeps the same number; when its
-- number is missing or behind (flushed, or restarted from an older snapshot) the boards are
-- rebuilt from PostgreSQL.
CREATE TABLE leaderboard_projection (
    id int PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO leaderboard_projection VALUES (1, 0);

---------------------------------------------------------------------------------------------
-- The sql/ files applied (src/db/sql_files.rs)
---------------------------------------------------------------------------------------------

-- One row per file under sql/ with the SHA-256 of the text last applied: `hub migrate`
-- applies a file again when its hash changed and skips it otherwise.
CREATE TABLE hub_sql_files (
    path text PRIMARY KEY,
    sha256 bytea NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
