-- The coalition as a campaign sponsor (issue 23): its bonuses need an issuer like any
-- other, so the coalition's campaign budget is a party of its own, shaped as a partner (its
-- issuance account issues the bonus lots; settlement attributes their redemptions to it).
-- It is not a merchant: it has no credentials, takes no redemptions, earns nobody points,
-- and is left out of partner lists (domain::partner::COALITION_PARTNER_ID).
ALTER TABLE partners ADD COLUMN is_coalition boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX partners_one_coalition ON partners (is_coalition) WHERE is_coalition;
INSERT INTO partners (id, slug, name, category, currency, earn_rate, accepts_redemptions, is_coalition)
VALUES ('00000000-0000-0000-0000-00000000c0a1', 'coalition-campaigns', 'Coalition campaigns',
        'OTHER', 'XXX', 0, false, true);
-- Its two accounts: on a new database the trigger that opens them (sql/members/accounts.sql)
-- is applied after the migrations; on an older one it has already opened them.
INSERT INTO accounts (kind, partner_id)
SELECT k.kind, '00000000-0000-0000-0000-00000000c0a1'
FROM (VALUES ('PARTNER_ISSUANCE'), ('PARTNER_REDEMPTION')) k (kind)
WHERE NOT EXISTS (SELECT 1 FROM accounts a
                  WHERE a.partner_id = '00000000-0000-0000-0000-00000000c0a1' AND a.kind = k.kind);
INSERT INTO partner_accounts (partner_id, issuance_account, redemption_account)
SELECT '00000000-0000-0000-0000-00000000c0a1',
       (SELECT id FROM accounts WHERE partner_id = '00000000-0000-0000-0000-00000000c0a1' AND kind = 'PARTNER_ISSUANCE'),
       (SELECT id FROM accounts WHERE partner_id = '00000000-0000-0000-0000-00000000c0a1' AND kind = 'PARTNER_REDEMPTION')
WHERE NOT EXISTS (SELECT 1 FROM partner_accounts WHERE partner_id = '00000000-0000-0000-0000-00000000c0a1');
