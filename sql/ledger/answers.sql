-- The one shape every money function answers in (decoded by domain::ledger::LedgerAnswer):
--
--   {"ok": {"entry_id", "hold_id", "member_id", "available", "held", "debt",
--           "lifetime_earned", "replayed", ...}}
--   {"refused": {"code": "INSUFFICIENT_POINTS", "available": 5, "debt": 0, "requested": 10}}
--
-- Inside, a refusal is raised by hub_refuse with its own SQLSTATE (HR001) and the refusal
-- as JSON in the error's DETAIL, so that it rolls back whatever the operation wrote; the
-- function the hub calls catches exactly that SQLSTATE and answers {"refused": DETAIL}.
-- (ledger_batch catches it per operation, in the subtransaction each operation already
-- has.) Codes are data: nothing reads the message text. Errors that are not refusals (a
-- broken invariant: HUB:UNBALANCED, HUB:APPEND_ONLY, HUB:INTERNAL) stay plain exceptions;
-- the hub reports them as INTERNAL and their text is for the logs only.
--
-- Refusals and their fields:
--   INSUFFICIENT_POINTS     available, debt, requested
--   IDEMPOTENCY_KEY_REUSED
--   HOLD_NOT_PENDING        status (captured, voided, expired)
--   PARTNER_SUSPENDED
--   FORBIDDEN               message (the member is not there and did not consent:
--                           members/presence.sql)
--   NOT_FOUND               what (member, partner, hold, entry, ambassador)
--   BAD_USER_INPUT          message

CREATE OR REPLACE FUNCTION hub_refuse(p_code text, p_detail jsonb DEFAULT '{}'::jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'HR001',
        MESSAGE = 'refused: ' || p_code || coalesce(': ' || (p_detail ->> 'message'), ''),
        DETAIL = (jsonb_build_object('code', p_code) || p_detail)::text;
END $$;

-- The answer for an entry written (or replayed): the entry, its hold, the member and the
-- member's balance now.
CREATE OR REPLACE FUNCTION hub_answer(p_entry_id uuid, p_replayed boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('ok', to_jsonb(hub_result_for(p_entry_id, p_replayed)))
$$;
