-- Points outstanding (issued, still held by members) per issuing partner at the start of
-- each UTC day, recorded by `serve` once a day: the pages' liability charts. The nil
-- partner id holds the coalition's total, and marks the day as recorded.
CREATE TABLE outstanding_snapshots (
    day date NOT NULL,
    partner_id uuid NOT NULL,
    points bigint NOT NULL CHECK (points >= 0),
    taken_at timestamptz NOT NULL,
    PRIMARY KEY (partner_id, day)
);
