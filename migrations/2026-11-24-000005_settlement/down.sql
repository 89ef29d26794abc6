DROP TABLE settlement_periods;
DROP TRIGGER lot_consumptions_attribute ON lot_consumptions;
DROP FUNCTION hub_attribute_consumption();
DROP TRIGGER journal_entries_attribute ON journal_entries;
DROP FUNCTION hub_attribute_entry();
DROP TABLE settlement_records;
DROP TABLE partner_rates;
