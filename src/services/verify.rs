//! `hub verify`: every ledger invariant of DESIGN.md checked over the whole database, in
//! one consistent snapshot.

use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::RunQueryDsl;

use crate::{db::DbPool, error::AppResult};

/// (what is checked, SQL counting the rows that break it)
const CHECKS: &[(&str, &str)] = &[
    (
        "every entry has two or more postings summing to zero",
        "SELECT count(*) FROM (SELECT e.id FROM journal_entries e LEFT JOIN postings p ON p.entry_id = e.id
          GROUP BY e.id HAVING count(p.entry_id) < 2 OR coalesce(sum(p.amount), 0) <> 0) x",
    ),
    (
        "all postings together sum to zero",
        "SELECT count(*) FROM (SELECT coalesce(sum(amount), 0) AS s FROM postings) x WHERE s <> 0",
    ),
    (
        "every posting names an existing account",
        "SELECT count(*) FROM postings p WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = p.account_id)",
    ),
    (
        "every reference of the journal resolves (entries, postings, lots, consumptions)",
        "SELECT (SELECT count(*) FROM journal_entries e WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.id = e.member_id))
              + (SELECT count(*) FROM journal_entries e WHERE e.reverses_entry_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM journal_entries o WHERE o.id = e.reverses_entry_id))
              + (SELECT count(*) FROM postings p WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = p.entry_id))
              + (SELECT count(*) FROM lots l WHERE l.source_lot_id IS NULL AND NOT EXISTS (SELECT 1 FROM journal_entries e
                   WHERE e.id = l.id AND e.kind IN ('ISSUE', 'BONUS') AND e.member_id = l.member_id AND e.partner_id = l.issuer_partner_id))
              + (SELECT count(*) FROM lots l WHERE l.source_lot_id IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM journal_entries e JOIN lots s ON s.id = l.source_lot_id
                   WHERE e.id = l.transfer_entry_id AND e.kind = 'TRANSFER_IN' AND e.member_id = l.member_id
                     AND s.issuer_partner_id = l.issuer_partner_id AND s.expires_at = l.expires_at))
              + (SELECT count(*) FROM lot_consumptions c WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = c.entry_id)
                   OR NOT EXISTS (SELECT 1 FROM lots l WHERE l.id = c.lot_id))",
    ),
    (
        "every entry's partner exists",
        "SELECT count(*) FROM journal_entries e
          WHERE e.partner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM partners p WHERE p.id = e.partner_id)",
    ),
    (
        "member available balance = sum of its account's postings (available - debt)",
        "SELECT count(*) FROM member_balances b
          LEFT JOIN (SELECT account_id, sum(amount) AS s FROM postings GROUP BY account_id) p ON p.account_id = b.available_account
          WHERE coalesce(p.s, 0) <> b.available - b.debt",
    ),
    (
        "member held balance = sum of its hold account's postings",
        "SELECT count(*) FROM member_balances b
          LEFT JOIN (SELECT account_id, sum(amount) AS s FROM postings GROUP BY account_id) p ON p.account_id = b.held_account
          WHERE coalesce(p.s, 0) <> b.held",
    ),
    (
        "remaining lot points = available + held (free = available, reserved = held)",
        "SELECT count(*) FROM member_balances b
          LEFT JOIN (SELECT member_id, sum(remaining - reserved) AS free, sum(reserved) AS reserved
                     FROM lots GROUP BY member_id) l ON l.member_id = b.member_id
          WHERE coalesce(l.free, 0) <> b.available OR coalesce(l.reserved, 0) <> b.held",
    ),
    (
        "pending points = the pending account's postings = the open pending lots (and the earliest window's end)",
        "SELECT count(*) FROM member_balances b
          LEFT JOIN (SELECT account_id, sum(amount) AS s FROM postings GROUP BY account_id) p ON p.account_id = b.pending_account
          LEFT JOIN (SELECT member_id, sum(remaining) AS s, min(available_at) AS next FROM pending_lots
                     WHERE closed_at IS NULL GROUP BY member_id) l ON l.member_id = b.member_id
          WHERE coalesce(p.s, 0) <> b.pending OR coalesce(l.s, 0) <> b.pending
             OR b.next_available_at IS DISTINCT FROM l.next",
    ),
    (
        "every pending lot is its entry's (an earn or bonus booked pending), and every release is its lot's",
        "SELECT (SELECT count(*) FROM pending_lots l WHERE NOT EXISTS (SELECT 1 FROM journal_entries e
                   WHERE e.id = l.id AND e.kind IN ('ISSUE', 'BONUS') AND e.member_id = l.member_id
                     AND e.partner_id = l.issuer_partner_id AND e.points = l.points AND e.available_at = l.available_at))
              + (SELECT count(*) FROM pending_lots l WHERE l.released_entry_id IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM journal_entries r WHERE r.id = l.released_entry_id AND r.kind = 'RELEASE'
                     AND r.related_entry_id = l.id AND r.points = l.remaining))
              + (SELECT count(*) FROM journal_entries r WHERE r.kind = 'RELEASE' AND NOT EXISTS (
                   SELECT 1 FROM pending_lots l WHERE l.released_entry_id = r.id))",
    ),
    (
        "a member in debt has no free lot points",
        "SELECT count(*) FROM member_balances b
          WHERE b.debt > 0 AND EXISTS (SELECT 1 FROM lots l WHERE l.member_id = b.member_id AND l.remaining > l.reserved)",
    ),
    (
        "no overdraft (balances and lots never negative)",
        "SELECT (SELECT count(*) FROM member_balances WHERE available < 0 OR held < 0 OR debt < 0 OR (available > 0 AND debt > 0))
              + (SELECT count(*) FROM lots WHERE remaining < 0 OR reserved < 0 OR reserved > remaining OR remaining > points)",
    ),
    (
        "each lot's consumptions add up to what left it",
        "SELECT count(*) FROM lots l
          LEFT JOIN (SELECT lot_id, sum(points) AS s FROM lot_consumptions GROUP BY lot_id) c ON c.lot_id = l.id
          WHERE l.points - l.remaining <> coalesce(c.s, 0)",
    ),
    (
        "pending holds add up to the member's held points",
        "SELECT count(*) FROM member_balances b
          LEFT JOIN (SELECT member_id, sum(points) AS s FROM holds WHERE status = 'PENDING' GROUP BY member_id) h
            ON h.member_id = b.member_id
          WHERE coalesce(h.s, 0) <> b.held",
    ),
    (
        "lot reservations match the pending holds",
        "SELECT count(*) FROM lots l
          LEFT JOIN (SELECT hl.lot_id, sum(hl.points) AS s FROM hold_lots hl JOIN holds h ON h.id = hl.hold_id
                     WHERE h.status = 'PENDING' GROUP BY hl.lot_id) r ON r.lot_id = l.id
          WHERE l.reserved <> coalesce(r.s, 0)",
    ),
    (
        "one entry per idempotency key, and each key's entry exists",
        "SELECT (SELECT count(*) FROM idempotency_keys k WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = k.entry_id))
              + (SELECT count(*) FROM (SELECT entry_id FROM idempotency_keys GROUP BY entry_id HAVING count(*) > 1) x)",
    ),
    (
        "every transfer out has its transfer in, and its lot slices became the recipient's lots (same issuer)",
        "SELECT (SELECT count(*) FROM journal_entries o LEFT JOIN journal_entries i ON i.id = o.related_entry_id
                   WHERE o.kind = 'TRANSFER_OUT'
                     AND (i.id IS NULL OR i.kind <> 'TRANSFER_IN' OR i.points <> o.points OR i.related_entry_id <> o.id))
              + (SELECT count(*) FROM journal_entries i WHERE i.kind = 'TRANSFER_IN' AND NOT EXISTS (
                   SELECT 1 FROM journal_entries o WHERE o.id = i.related_entry_id AND o.kind = 'TRANSFER_OUT'))
              + (SELECT count(*) FROM journal_entries o WHERE o.kind = 'TRANSFER_OUT' AND o.points <> coalesce(
                   (SELECT sum(c.points) FROM lot_consumptions c WHERE c.entry_id = o.id AND c.kind = 'TRANSFER'), 0))
              + (SELECT count(*) FROM journal_entries i WHERE i.kind = 'TRANSFER_IN' AND i.points <> coalesce(
                   (SELECT sum(l.points) FROM lots l WHERE l.transfer_entry_id = i.id), 0))
              + (SELECT count(*) FROM lots l JOIN journal_entries i ON i.id = l.transfer_entry_id
                   WHERE NOT EXISTS (SELECT 1 FROM lot_consumptions c WHERE c.entry_id = i.related_entry_id
                     AND c.lot_id = l.source_lot_id AND c.kind = 'TRANSFER' AND c.points = l.points))
              + (SELECT count(*) FROM (SELECT sum(p.amount) AS s FROM postings p JOIN accounts a ON a.id = p.account_id
                   WHERE a.kind = 'COALITION_TRANSFERS') x WHERE s <> 0)",
    ),
    (
        "reversals never exceed the entry they reverse",
        "SELECT count(*) FROM journal_entries o
          JOIN (SELECT reverses_entry_id, sum(points) AS s FROM journal_entries
                WHERE reverses_entry_id IS NOT NULL GROUP BY reverses_entry_id) r ON r.reverses_entry_id = o.id
          LEFT JOIN holds h ON h.id = o.hold_id
          WHERE r.s > CASE WHEN o.kind = 'CAPTURE' THEN h.captured_points ELSE o.points END",
    ),
    (
        "lifetime earned = earns made available - clawbacks",
        "SELECT count(*) FROM member_balances b
          LEFT JOIN (SELECT member_id, sum(CASE kind WHEN 'REVERSE_ISSUE' THEN -points ELSE points END) AS s
                     FROM journal_entries e
                     WHERE e.available_at IS NULL
                       AND (kind = 'ISSUE' OR (kind IN ('REVERSE_ISSUE', 'RELEASE') AND EXISTS
                         (SELECT 1 FROM journal_entries o
                          WHERE o.id = coalesce(e.reverses_entry_id, e.related_entry_id) AND o.kind = 'ISSUE')))
                     GROUP BY member_id) e
            ON e.member_id = b.member_id
          WHERE b.lifetime_earned <> coalesce(e.s, 0)",
    ),
    (
        "settlement records match the journal (every slice, issue, bonus, release and reversal attributed once)",
        "SELECT count(*) FROM (
            SELECT entry_id, sum(points) AS s FROM lot_consumptions c
            WHERE kind IN ('REDEEM', 'CAPTURE', 'RESTORE', 'EXPIRY')
               OR (kind = 'CLAWBACK' AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = c.entry_id AND e.kind = 'REVERSE_ISSUE'))
            GROUP BY entry_id
            UNION ALL
            SELECT id, points + debt_repaid FROM journal_entries
            WHERE (kind IN ('ISSUE', 'BONUS') AND available_at IS NULL) OR kind = 'RELEASE'
            UNION ALL
            SELECT id, -points FROM journal_entries WHERE kind = 'REVERSE_ISSUE' AND available_at IS NULL
          ) j
          FULL JOIN (SELECT entry_id, sum(points) AS s FROM settlement_records GROUP BY entry_id) r USING (entry_id)
          WHERE j.s IS DISTINCT FROM r.s",
    ),
    (
        "every ambassador reward was issued once, by the recording partner, to the ambassador",
        "SELECT count(*) FROM ambassador_activities a
          JOIN ambassadors m ON m.id = a.ambassador_id
          FULL JOIN (SELECT k.key, e.* FROM idempotency_keys k JOIN journal_entries e ON e.id = k.entry_id
                     WHERE k.caller = 'ambassador-reward') r ON r.key = a.id::text
          WHERE (a.reward_points > 0 OR r.id IS NOT NULL)
            AND (r.id IS NULL OR a.id IS NULL OR r.kind <> 'ISSUE' OR r.points <> a.reward_points
                 OR r.partner_id <> a.partner_id OR r.member_id <> m.member_id)",
    ),
    (
        "every converted referral scored one REFERRAL activity, and only those",
        "SELECT count(*) FROM referrals r
          FULL JOIN (SELECT * FROM ambassador_activities WHERE caller = 'referral') a ON a.key = r.id::text
          WHERE (r.converted_at IS NOT NULL OR a.id IS NOT NULL)
            AND (r.id IS NULL OR a.id IS NULL OR r.activity_id IS DISTINCT FROM a.id OR a.kind <> 'REFERRAL'
                 OR a.ambassador_id <> r.ambassador_id OR a.partner_id <> r.partner_id)",
    ),
];

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

pub struct Check {
    pub name: &'static str,
    pub violations: i64,
}

pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.checks.iter().all(|c| c.violations == 0)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for check in &self.checks {
            let verdict = if check.violations == 0 {
                "ok".to_owned()
            } else {
                format!("VIOLATED by {}", check.violations)
            };
            writeln!(f, "{verdict:>16}  {}", check.name)?;
        }
        Ok(())
    }
}

/// Runs every check in one repeatable-read, read-only transaction (one snapshot, so a live
/// hub's traffic cannot make a check see half an operation).
pub async fn run(db: &DbPool) -> AppResult<Report> {
    let mut conn = db.get().await?;
    let checks = conn
        .build_transaction()
        .repeatable_read()
        .read_only()
        .run(async |conn| {
            let mut checks = Vec::with_capacity(CHECKS.len());
            for (name, sql) in CHECKS {
                let row: Count = diesel::sql_query(format!("SELECT ({sql}) AS count"))
                    .get_result(conn)
                    .await?;
                checks.push(Check {
                    name,
                    violations: row.count,
                });
            }
            Ok::<_, diesel::result::Error>(checks)
        })
        .await?;
    Ok(Report { checks })
}
