DROP TABLE outstanding_snapshots;
