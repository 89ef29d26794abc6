-- Everything the baseline made, and everything the sql/ files added to it (functions and
-- triggers go with their tables; the rest by CASCADE). Development databases are
-- recreated, not downgraded.
DROP TABLE IF EXISTS
    hub_sql_files, leaderboard_projection, leaderboard_outbox, referrals, referral_codes,
    ambassador_activities, ambassador_enrollments, ambassadors, settlement_periods,
    settlement_records, partner_rates, idempotency_keys, hold_lots, holds, lot_consumptions,
    lots, postings, journal_entries, partner_accounts, member_balances, accounts, tiers,
    family_links, member_links, members, partner_credentials, partners
    CASCADE;
DROP TYPE IF EXISTS hub_batch_row, hub_expired, hub_result CASCADE;
DROP FUNCTION IF EXISTS hub_is_entry_kind(text), hub_is_settlement_kind(text) CASCADE;
-- The functions of the sql/ files (none of them is from an extension).
DO $$
DECLARE
    v regprocedure;
BEGIN
    FOR v IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', v);
    END LOOP;
END $$;
