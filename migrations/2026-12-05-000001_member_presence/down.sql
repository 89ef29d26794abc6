-- Development databases are recreated, not downgraded; this undoes the tables only.
DROP TABLE IF EXISTS presence_codes, member_consents;
ALTER TYPE hub_batch_row RENAME ATTRIBUTE with_presence_code TO linked;
