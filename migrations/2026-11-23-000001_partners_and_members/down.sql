DROP TABLE member_links;
DROP TABLE members;
DROP TABLE partner_credentials;
DROP TABLE partners;
