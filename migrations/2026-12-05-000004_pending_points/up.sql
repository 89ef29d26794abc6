-- Pending points (issue 23): a partner's return window keeps the points of its earns (and
-- of their campaign bonuses) pending, not spendable, until the window ends. Pending points
-- sit in a member's own MEMBER_PENDING account and in pending_lots; at the window's end a
-- RELEASE entry moves each pending lot's points to the available account and makes the lot
-- (same id: the earn's or bonus's entry), so that every spending path, which reads only
-- `lots` and `available`, is unchanged.

-- 0-90 days; 0: points are available at once (as before).
ALTER TABLE partners ADD COLUMN return_window_days integer NOT NULL DEFAULT 0
    CHECK (return_window_days BETWEEN 0 AND 90);

-- ISSUE and BONUS: booked pending, available from then on. REVERSE_ISSUE: took back
-- pending points (the original's), so nothing had been counted for settlement or tiers.
ALTER TABLE journal_entries ADD COLUMN available_at timestamptz;

CREATE OR REPLACE FUNCTION hub_is_entry_kind(p_kind text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN p_kind IN ('ISSUE', 'REDEEM', 'HOLD', 'CAPTURE', 'VOID', 'HOLD_EXPIRY',
                      'REVERSE_ISSUE', 'REVERSE_REDEEM', 'EXPIRY', 'TRANSFER_OUT', 'TRANSFER_IN',
                      'BONUS', 'RELEASE');
END $$;

ALTER TABLE accounts DROP CONSTRAINT accounts_check, DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts
    ADD CONSTRAINT accounts_check
        CHECK ((kind IN ('MEMBER_AVAILABLE', 'MEMBER_HELD', 'MEMBER_PENDING')) = (member_id IS NOT NULL)),
    ADD CONSTRAINT accounts_kind_check CHECK (kind IN (
        'MEMBER_AVAILABLE', 'MEMBER_HELD', 'MEMBER_PENDING', 'PARTNER_ISSUANCE', 'PARTNER_REDEMPTION',
        'COALITION_BREAKAGE', 'COALITION_TRANSFERS'));

-- pending_account: opened with the member's first pending points (most members never have
-- any). next_available_at: the earliest end of a window among its open pending lots, so
-- that reads and spends learn from the row they already read whether anything is due.
ALTER TABLE member_balances
    ADD COLUMN pending bigint NOT NULL DEFAULT 0,
    ADD COLUMN pending_account bigint,
    ADD COLUMN next_available_at timestamptz,
    DROP CONSTRAINT member_balances_valid,
    ADD CONSTRAINT member_balances_valid CHECK (
        available >= 0 AND held >= 0 AND debt >= 0 AND lifetime_earned >= 0 AND pending >= 0
        AND (available = 0 OR debt = 0)
        AND (pending = 0 OR pending_account IS NOT NULL));

-- A pending earn's (or bonus's) points until its window ends. Open while closed_at is NULL;
-- closed by its release (released_entry_id) or when reversals took all of it back.
CREATE TABLE pending_lots (
    id uuid PRIMARY KEY,  -- the ISSUE or BONUS entry, and later the lot it becomes
    member_id uuid NOT NULL,
    issuer_partner_id uuid NOT NULL,
    points bigint NOT NULL,
    -- not yet reversed
    remaining bigint NOT NULL,
    earned_at timestamptz NOT NULL,
    available_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    closed_at timestamptz,
    released_entry_id uuid,
    CONSTRAINT pending_lots_valid CHECK (
        points > 0 AND remaining >= 0 AND remaining <= points AND expires_at > available_at
        AND (released_entry_id IS NULL OR closed_at IS NOT NULL))
);
CREATE INDEX pending_lots_open ON pending_lots (member_id, available_at) WHERE closed_at IS NULL;
CREATE INDEX pending_lots_due ON pending_lots (available_at) WHERE closed_at IS NULL;

-- What the ledger functions answer now carries the pending points too.
ALTER TYPE hub_result ADD ATTRIBUTE pending bigint;
ALTER TYPE hub_expired ADD ATTRIBUTE pending bigint;
