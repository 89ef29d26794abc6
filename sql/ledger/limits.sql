-- The most points one entry may book, on every path that derives points (a purchase at the
-- partner's earn rate, the tier multiplier). Points given as such are checked against the
-- same number in Rust (domain::ledger::MAX_POINTS_PER_ENTRY; the test
-- no_earn_books_more_than_the_per_entry_cap holds them equal). With it, no balance or
-- settlement sum can come near bigint's limit: that takes nine billion entries at the cap.
CREATE OR REPLACE FUNCTION hub_max_points_per_entry() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 1000000000::bigint $$;

-- Points earned by a purchase, or, for a purchase that earns nothing or more than the cap,
-- a refusal (BAD_USER_INPUT). Computed in numeric, so that no cast can overflow.
CREATE OR REPLACE FUNCTION hub_capped_points(p_points numeric, p_what text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_points <= 0 THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', format('this %s earns no points', p_what)));
    END IF;
    IF p_points > hub_max_points_per_entry() THEN
        PERFORM hub_refuse('BAD_USER_INPUT', jsonb_build_object(
            'message', format('this %s earns %s points, more than the %s one entry may book',
                              p_what, p_points, hub_max_points_per_entry())));
    END IF;
    RETURN p_points::bigint;
END $$;
