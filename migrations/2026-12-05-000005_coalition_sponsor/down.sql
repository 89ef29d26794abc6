-- Development databases are recreated, not downgraded; this undoes the column only.
ALTER TABLE partners DROP COLUMN IF EXISTS is_coalition;
