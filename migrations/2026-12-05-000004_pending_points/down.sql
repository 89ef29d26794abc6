-- Development databases are recreated, not downgraded; this undoes the tables only.
DROP TABLE IF EXISTS pending_lots;
ALTER TYPE hub_result DROP ATTRIBUTE IF EXISTS pending;
ALTER TYPE hub_expired DROP ATTRIBUTE IF EXISTS pending;
ALTER TABLE member_balances DROP COLUMN IF EXISTS pending, DROP COLUMN IF EXISTS pending_account,
    DROP COLUMN IF EXISTS next_available_at;
ALTER TABLE journal_entries DROP COLUMN IF EXISTS available_at;
ALTER TABLE partners DROP COLUMN IF EXISTS return_window_days;
