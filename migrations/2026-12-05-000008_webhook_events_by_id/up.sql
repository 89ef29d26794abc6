-- Events are forgotten by their ids (UUIDv7: in time order, as every event's is), so the
-- index on created_at is one write per event that nothing needs.
DROP INDEX webhook_events_created;
