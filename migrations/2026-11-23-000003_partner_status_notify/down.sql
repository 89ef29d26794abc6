DROP TRIGGER partners_status_changed ON partners;
DROP FUNCTION hub_notify_partner_status;
