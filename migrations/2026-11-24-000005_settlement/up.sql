-- Settlement between partners: rate cards, attribution records written by the ledger, and
-- closed periods with their statements.

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
CREATE TRIGGER partner_rates_append_only BEFORE UPDATE OR DELETE ON partner_rates
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();

-- What settlement counts, written by the ledger in the transaction of the entry (triggers
-- below), one row per redemption slice, reversal slice, issue, issue reversal, expiry and
-- debt repayment. Points are signed: reversals are negative.
--
-- A record belongs to the first closed period whose cut-off is after occurred_at and whose
-- snapshot saw the record's transaction committed (txid): a record that commits while a
-- close runs goes to the next period. Nothing is stamped row by row, so a close of a
-- million records writes one row.
CREATE TABLE settlement_records (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN (
        'REDEMPTION', 'REDEMPTION_REVERSAL', 'ISSUE', 'ISSUE_REVERSAL', 'EXPIRY', 'DEBT_REPAYMENT')),
    entry_id uuid NOT NULL,
    issuer_partner_id uuid NOT NULL,
    -- REDEMPTION and REDEMPTION_REVERSAL: where the points were spent
    redeeming_partner_id uuid,
    points bigint NOT NULL CHECK (points <> 0),
    occurred_at timestamptz NOT NULL,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CHECK ((kind IN ('REDEMPTION', 'REDEMPTION_REVERSAL')) = (redeeming_partner_id IS NOT NULL))
);
CREATE INDEX settlement_records_time ON settlement_records (occurred_at);
CREATE INDEX settlement_records_txid ON settlement_records (txid);
CREATE TRIGGER settlement_records_append_only BEFORE UPDATE OR DELETE ON settlement_records
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE TRIGGER settlement_records_no_truncate BEFORE TRUNCATE ON settlement_records
    FOR EACH STATEMENT EXECUTE FUNCTION hub_append_only();

-- Issues and issue reversals (the hub's fee), and the part of an issue that repaid a debt.
CREATE FUNCTION hub_attribute_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO settlement_records (kind, entry_id, issuer_partner_id, points, occurred_at)
    SELECT 'ISSUE', NEW.id, NEW.partner_id, NEW.points, NEW.created_at WHERE NEW.kind = 'ISSUE'
    UNION ALL
    SELECT 'DEBT_REPAYMENT', NEW.id, NEW.partner_id, NEW.debt_repaid, NEW.created_at
    WHERE NEW.kind = 'ISSUE' AND NEW.debt_repaid > 0
    UNION ALL
    SELECT 'ISSUE_REVERSAL', NEW.id, NEW.partner_id, -NEW.points, NEW.created_at
    WHERE NEW.kind = 'REVERSE_ISSUE';
    RETURN NULL;
END $$;
CREATE TRIGGER journal_entries_attribute AFTER INSERT ON journal_entries
    FOR EACH ROW WHEN (NEW.kind IN ('ISSUE', 'REVERSE_ISSUE'))
    EXECUTE FUNCTION hub_attribute_entry();

-- Every lot slice: redeemed (issuer -> redeeming partner), given back by a refunded
-- redemption (the opposite), expired (breakage), or taken to repay a debt. A clawback by
-- the issuer's own reversal is already counted by its ISSUE_REVERSAL record.
CREATE FUNCTION hub_attribute_consumption() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO settlement_records (kind, entry_id, issuer_partner_id, redeeming_partner_id, points, occurred_at)
    SELECT CASE NEW.kind
               WHEN 'REDEEM' THEN 'REDEMPTION'
               WHEN 'CAPTURE' THEN 'REDEMPTION'
               WHEN 'RESTORE' THEN 'REDEMPTION_REVERSAL'
               WHEN 'EXPIRY' THEN 'EXPIRY'
               ELSE 'DEBT_REPAYMENT'
           END,
           NEW.entry_id, l.issuer_partner_id,
           CASE WHEN NEW.kind IN ('REDEEM', 'CAPTURE', 'RESTORE') THEN NEW.redeeming_partner_id END,
           NEW.points, NEW.created_at
    FROM lots l
    WHERE l.id = NEW.lot_id
      AND NOT (NEW.kind = 'CLAWBACK'
               AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = NEW.entry_id AND e.kind = 'REVERSE_ISSUE'));
    RETURN NULL;
END $$;
CREATE TRIGGER lot_consumptions_attribute AFTER INSERT ON lot_consumptions
    FOR EACH ROW EXECUTE FUNCTION hub_attribute_consumption();

-- The ledger so far, attributed once, as if the triggers had always been there.
INSERT INTO settlement_records (kind, entry_id, issuer_partner_id, points, occurred_at)
SELECT 'ISSUE', id, partner_id, points, created_at FROM journal_entries WHERE kind = 'ISSUE'
UNION ALL
SELECT 'DEBT_REPAYMENT', id, partner_id, debt_repaid, created_at FROM journal_entries
WHERE kind = 'ISSUE' AND debt_repaid > 0
UNION ALL
SELECT 'ISSUE_REVERSAL', id, partner_id, -points, created_at FROM journal_entries WHERE kind = 'REVERSE_ISSUE';
INSERT INTO settlement_records (kind, entry_id, issuer_partner_id, redeeming_partner_id, points, occurred_at)
SELECT CASE c.kind WHEN 'REDEEM' THEN 'REDEMPTION' WHEN 'CAPTURE' THEN 'REDEMPTION'
                   WHEN 'RESTORE' THEN 'REDEMPTION_REVERSAL' WHEN 'EXPIRY' THEN 'EXPIRY'
                   ELSE 'DEBT_REPAYMENT' END,
       c.entry_id, l.issuer_partner_id,
       CASE WHEN c.kind IN ('REDEEM', 'CAPTURE', 'RESTORE') THEN c.redeeming_partner_id END,
       c.points, c.created_at
FROM lot_consumptions c JOIN lots l ON l.id = c.lot_id JOIN journal_entries e ON e.id = c.entry_id
WHERE NOT (c.kind = 'CLAWBACK' AND e.kind = 'REVERSE_ISSUE');

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
    CHECK (period_start <= cutoff)
);
CREATE TRIGGER settlement_periods_append_only BEFORE UPDATE OR DELETE ON settlement_periods
    FOR EACH ROW EXECUTE FUNCTION hub_append_only();
CREATE TRIGGER settlement_periods_no_truncate BEFORE TRUNCATE ON settlement_periods
    FOR EACH STATEMENT EXECUTE FUNCTION hub_append_only();
