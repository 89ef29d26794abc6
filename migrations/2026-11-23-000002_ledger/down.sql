DROP FUNCTION ledger_expire_holds, ledger_expire_lots, ledger_reverse, ledger_settle_hold,
    ledger_authorize, ledger_redeem, ledger_issue, hub_release_hold, hub_credit_member,
    hub_take_from_lots, hub_expire_member_lots, hub_lock_member, hub_find_member,
    hub_enroll_member, hub_active_partner, hub_claim_key, hub_result_for, hub_uuid_v7;
DROP TYPE hub_result;
DROP TABLE idempotency_keys, hold_lots, holds, lot_consumptions, lots;
DROP TRIGGER postings_balanced ON postings;
DROP TRIGGER journal_entries_balanced ON journal_entries;
DROP FUNCTION hub_check_postings_balanced, hub_check_entry_balanced;
DROP TABLE postings, journal_entries;
DROP FUNCTION hub_append_only;
DROP TRIGGER partners_open_accounts ON partners;
DROP TRIGGER members_open_accounts ON members;
DROP FUNCTION hub_open_partner_accounts, hub_open_member_accounts,
    hub_open_partner_accounts_for, hub_open_member_accounts_for;
DROP TABLE partner_accounts, member_balances, accounts;
