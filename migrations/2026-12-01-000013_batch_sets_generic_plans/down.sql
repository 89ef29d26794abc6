ALTER FUNCTION hub_batch_sets(jsonb) RESET plan_cache_mode;
