DROP FUNCTION ledger_batch;
