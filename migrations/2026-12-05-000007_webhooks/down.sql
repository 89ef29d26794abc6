DROP TRIGGER IF EXISTS journal_entries_webhooks ON journal_entries;
DROP TRIGGER IF EXISTS member_links_webhooks ON member_links;
DROP TABLE webhook_jobs, member_tier_marks, lot_expiry_notices, webhook_attempts,
    webhook_redeliveries, webhook_dispatch, webhook_event_parties, webhook_events,
    webhook_subscriptions;
