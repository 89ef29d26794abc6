-- Idempotency keys, claimed in the transaction of the operation.

-- Claims an idempotency key for a new entry. Returns NULL when claimed now, or the entry of
-- an earlier call with the same input; raises when the key came with another input. A
-- concurrent duplicate waits on the primary key until the first commits (then replays) or
-- rolls back (then claims).
CREATE OR REPLACE FUNCTION hub_claim_key(p_caller text, p_key text, p_fingerprint bytea, p_entry_id uuid)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_existing idempotency_keys%ROWTYPE;
BEGIN
    INSERT INTO idempotency_keys (caller, key, fingerprint, entry_id)
    VALUES (p_caller, p_key, p_fingerprint, p_entry_id)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_existing FROM idempotency_keys WHERE caller = p_caller AND key = p_key;
    IF v_existing.fingerprint <> p_fingerprint THEN
        PERFORM hub_refuse('IDEMPOTENCY_KEY_REUSED');
    END IF;
    RETURN v_existing.entry_id;
END $$;
