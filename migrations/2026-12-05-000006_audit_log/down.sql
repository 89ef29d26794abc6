-- Development databases are recreated, not downgraded.
DROP TABLE IF EXISTS audit_log;
