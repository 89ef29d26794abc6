-- Settlement attribution, written by the ledger in the transaction of the entry.

-- Issues and campaign bonuses, the part of either that repaid a debt (the hub's fee), and
-- issue reversals: per statement, so that a set's earns are attributed by one INSERT.
-- Pending points (ledger/pending.sql) count when released: an earn or bonus booked pending
-- is attributed by its RELEASE entry, and a reversal that cancelled pending points is not
-- attributed at all (nothing had been).
CREATE OR REPLACE FUNCTION hub_attribute_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO settlement_records (kind, entry_id, issuer_partner_id, points, occurred_at)
    SELECT CASE e.kind WHEN 'BONUS' THEN 'BONUS_ISSUE' ELSE 'ISSUE' END,
           e.id, e.partner_id, e.points, e.created_at
    FROM new_entries e WHERE e.kind IN ('ISSUE', 'BONUS') AND e.available_at IS NULL
    UNION ALL
    SELECT 'DEBT_REPAYMENT', e.id, e.partner_id, e.debt_repaid, e.created_at FROM new_entries e
    WHERE e.kind IN ('ISSUE', 'BONUS', 'RELEASE') AND e.debt_repaid > 0
    UNION ALL
    SELECT 'ISSUE_REVERSAL', e.id, e.partner_id, -e.points, e.created_at FROM new_entries e
    WHERE e.kind = 'REVERSE_ISSUE' AND e.available_at IS NULL
    UNION ALL
    -- a released earn or bonus (a bonus's sponsor issued it: campaigns/award.sql)
    SELECT CASE o.kind WHEN 'BONUS' THEN 'BONUS_ISSUE' ELSE 'ISSUE' END,
           e.id, e.partner_id, e.points, e.created_at
    FROM new_entries e JOIN journal_entries o ON o.id = e.related_entry_id
    WHERE e.kind = 'RELEASE';
    RETURN NULL;
END $$;

-- Lot slices are attributed to settlement per statement, not per row: a set's redemptions
-- insert all their slices in one statement, and one INSERT then attributes them all.
-- A transferred slice is not a settlement event (the points keep their issuer and are
-- attributed when redeemed or expired), nor is the clawback of an issue reversal (the
-- ISSUE_REVERSAL record above counts it).
CREATE OR REPLACE FUNCTION hub_attribute_consumptions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO settlement_records (kind, entry_id, issuer_partner_id, redeeming_partner_id, points, occurred_at)
    SELECT CASE c.kind
               WHEN 'REDEEM' THEN 'REDEMPTION'
               WHEN 'CAPTURE' THEN 'REDEMPTION'
               WHEN 'RESTORE' THEN 'REDEMPTION_REVERSAL'
               WHEN 'EXPIRY' THEN 'EXPIRY'
               ELSE 'DEBT_REPAYMENT'
           END,
           c.entry_id, l.issuer_partner_id,
           CASE WHEN c.kind IN ('REDEEM', 'CAPTURE', 'RESTORE') THEN c.redeeming_partner_id END,
           c.points, c.created_at
    FROM new_consumptions c JOIN lots l ON l.id = c.lot_id
    WHERE c.kind <> 'TRANSFER'
      AND NOT (c.kind = 'CLAWBACK'
               AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = c.entry_id AND e.kind = 'REVERSE_ISSUE'));
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER journal_entries_attribute AFTER INSERT ON journal_entries
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT
    EXECUTE FUNCTION hub_attribute_entries();
CREATE OR REPLACE TRIGGER lot_consumptions_attribute AFTER INSERT ON lot_consumptions
    REFERENCING NEW TABLE AS new_consumptions FOR EACH STATEMENT
    EXECUTE FUNCTION hub_attribute_consumptions();
