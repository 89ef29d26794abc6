// @generated automatically by Diesel CLI.

diesel::table! {
    member_links (partner_id, partner_customer_id) {
        partner_id -> Uuid,
        partner_customer_id -> Text,
        member_id -> Uuid,
        linked_at -> Timestamptz,
    }
}

diesel::table! {
    members (id) {
        id -> Uuid,
        member_number -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    partner_credentials (client_id) {
        client_id -> Text,
        partner_id -> Uuid,
        secret_hash -> Text,
        scope -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    partners (id) {
        id -> Uuid,
        slug -> Text,
        name -> Text,
        category -> Text,
        currency -> Text,
        earn_rate -> Numeric,
        accepts_redemptions -> Bool,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(member_links -> members (member_id));
diesel::joinable!(member_links -> partners (partner_id));
diesel::joinable!(partner_credentials -> partners (partner_id));

diesel::allow_tables_to_appear_in_same_query!(member_links, members, partner_credentials, partners,);
