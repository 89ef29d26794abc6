-- A family link asked for by a card number that no member has: kept and listed like any
-- other request (and counted against the limit), so that linkFamilyMember answers the same
-- whether the number exists or not and cannot be used to find card numbers (issue 22).
-- Member numbers are drawn at random from 10^15, so a later member having one of these
-- numbers is not a case worth handling: such a request simply stays unanswered.
CREATE TABLE family_requests_unmatched (
    member_id uuid NOT NULL REFERENCES members (id),
    member_number text NOT NULL CHECK (member_number ~ '^[0-9]{16}$'),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (member_id, member_number)
);
