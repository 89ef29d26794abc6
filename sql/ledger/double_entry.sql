-- Double entry, enforced by the database: at commit every new entry has two or more
-- postings summing to zero, and no statement may add postings that unbalance an entry.
CREATE OR REPLACE FUNCTION hub_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_count int;
    v_sum numeric;
BEGIN
    SELECT count(*), coalesce(sum(amount), 0) INTO v_count, v_sum FROM postings WHERE entry_id = NEW.id;
    IF v_count < 2 OR v_sum <> 0 THEN
        RAISE EXCEPTION 'HUB:UNBALANCED:entry % has % postings summing to %', NEW.id, v_count, v_sum;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION hub_check_postings_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid;
BEGIN
    SELECT p.entry_id INTO v_entry
    FROM postings p
    WHERE p.entry_id IN (SELECT DISTINCT entry_id FROM new_postings)
    GROUP BY p.entry_id
    HAVING sum(p.amount) <> 0 OR count(*) < 2
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'HUB:UNBALANCED:postings leave entry % unbalanced', v_entry;
    END IF;
    RETURN NULL;
END $$;

-- (A constraint trigger cannot be created OR REPLACE: dropped and created again.)
DROP TRIGGER IF EXISTS journal_entries_balanced ON journal_entries;
CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hub_check_entry_balanced();
CREATE OR REPLACE TRIGGER postings_balanced AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT
    EXECUTE FUNCTION hub_check_postings_balanced();
