-- hub_batch_sets' statements were planned anew on every call: their parameters are whole
-- arrays, so PostgreSQL kept choosing custom plans. Planning them took more CPU than running
-- them (about 1 ms of the 2.5 ms a call of one operation took; a tenth of a call of ten).
-- Their best plans do not depend on what the arrays hold (every table is reached by its key),
-- so each connection plans them once.
ALTER FUNCTION hub_batch_sets(jsonb) SET plan_cache_mode = force_generic_plan;
