-- Back to the SQL-language helpers of migration 2 (same behaviour).
CREATE OR REPLACE FUNCTION hub_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

CREATE OR REPLACE FUNCTION hub_result_for(p_entry_id uuid, p_replayed boolean) RETURNS hub_result
LANGUAGE sql STABLE AS $$
    SELECT e.id, e.hold_id, e.member_id, b.available, b.held, b.debt, b.lifetime_earned, p_replayed
    FROM journal_entries e JOIN member_balances b ON b.member_id = e.member_id
    WHERE e.id = p_entry_id
$$;

CREATE OR REPLACE FUNCTION hub_open_member_accounts_for(p_member_id uuid) RETURNS void LANGUAGE sql AS $$
    WITH a AS (INSERT INTO accounts (kind, member_id) VALUES ('MEMBER_AVAILABLE', p_member_id) RETURNING id),
         h AS (INSERT INTO accounts (kind, member_id) VALUES ('MEMBER_HELD', p_member_id) RETURNING id)
    INSERT INTO member_balances (member_id, available_account, held_account)
    SELECT p_member_id, a.id, h.id FROM a, h
$$;
