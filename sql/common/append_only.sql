-- Append-only tables: the journal, settlement, the activity log and the audit trail refuse UPDATE,
-- DELETE and TRUNCATE.

-- Append-only: the journal is never updated or deleted.
CREATE OR REPLACE FUNCTION hub_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'HUB:APPEND_ONLY:% is append-only', TG_TABLE_NAME;
END $$;
-- (CREATE OR REPLACE TRIGGER: this file may be applied again.)
CREATE OR REPLACE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER partner_rates_append_only BEFORE UPDATE OR DELETE ON partner_rates
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER settlement_records_append_only BEFORE UPDATE OR DELETE ON settlement_records
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER settlement_records_no_truncate BEFORE TRUNCATE ON settlement_records
    FOR EACH STATEMENT EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER settlement_periods_append_only BEFORE UPDATE OR DELETE ON settlement_periods
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER settlement_periods_no_truncate BEFORE TRUNCATE ON settlement_periods
    FOR EACH STATEMENT EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER ambassador_activities_append_only BEFORE UPDATE OR DELETE ON ambassador_activities
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION hub_append_only();
