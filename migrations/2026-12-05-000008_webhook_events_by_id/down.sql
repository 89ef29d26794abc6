CREATE INDEX webhook_events_created ON webhook_events USING brin (created_at);
