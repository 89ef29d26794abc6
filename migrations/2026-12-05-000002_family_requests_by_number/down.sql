DROP TABLE IF EXISTS family_requests_unmatched;
