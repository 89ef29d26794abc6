// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "pg_snapshot", schema = "pg_catalog"))]
    pub struct PgSnapshot;

    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "xid8", schema = "pg_catalog"))]
    pub struct Xid8;
}

diesel::table! {
    accounts (id) {
        id -> Int8,
        kind -> Text,
        member_id -> Nullable<Uuid>,
        partner_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    ambassador_activities (id) {
        id -> Uuid,
        ambassador_id -> Uuid,
        partner_id -> Uuid,
        kind -> Text,
        score -> Int8,
        reward_points -> Int8,
        reference -> Nullable<Text>,
        occurred_at -> Timestamptz,
        recorded_at -> Timestamptz,
        caller -> Text,
        key -> Text,
        fingerprint -> Bytea,
    }
}

diesel::table! {
    ambassador_enrollments (id) {
        id -> Int8,
        ambassador_id -> Uuid,
        partner_id -> Nullable<Uuid>,
        enrolled_at -> Timestamptz,
    }
}

diesel::table! {
    ambassadors (id) {
        id -> Uuid,
        member_id -> Uuid,
        handle -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Uuid,
        at -> Timestamptz,
        actor -> Text,
        partner_id -> Nullable<Uuid>,
        action -> Text,
        target -> Text,
        request_id -> Nullable<Text>,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
    }
}

diesel::table! {
    campaign_member_awards (campaign_id, member_id) {
        campaign_id -> Uuid,
        member_id -> Uuid,
        points -> Int8,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Uuid,
        name -> Text,
        partner_id -> Nullable<Uuid>,
        sponsor_partner_id -> Uuid,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        schedule -> Jsonb,
        time_zone -> Text,
        audience -> Text,
        audience_tier_level -> Nullable<Int4>,
        min_purchase -> Nullable<Numeric>,
        category -> Nullable<Text>,
        sku -> Nullable<Text>,
        nth_purchase_in_month -> Nullable<Int4>,
        reward_kind -> Text,
        reward_multiplier -> Nullable<Numeric>,
        reward_points -> Nullable<Int8>,
        reward_sku -> Nullable<Text>,
        member_cap -> Nullable<Int8>,
        budget -> Nullable<Int8>,
        awarded -> Int8,
        stacking_group -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    family_links (member_id, linked_member_id) {
        member_id -> Uuid,
        linked_member_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    family_requests_unmatched (member_id, member_number) {
        member_id -> Uuid,
        member_number -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    hold_lots (hold_id, lot_id) {
        hold_id -> Uuid,
        lot_id -> Uuid,
        points -> Int8,
        seq -> Int4,
    }
}

diesel::table! {
    holds (id) {
        id -> Uuid,
        member_id -> Uuid,
        partner_id -> Uuid,
        points -> Int8,
        status -> Text,
        captured_points -> Int8,
        reference -> Nullable<Text>,
        expires_at -> Timestamptz,
        authorize_entry_id -> Uuid,
        final_entry_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        finalized_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    hub_sql_files (path) {
        path -> Text,
        sha256 -> Bytea,
        applied_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (caller, key) {
        caller -> Text,
        key -> Text,
        fingerprint -> Bytea,
        entry_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    journal_entries (id) {
        id -> Uuid,
        kind -> Text,
        member_id -> Uuid,
        partner_id -> Nullable<Uuid>,
        points -> Int8,
        reverses_entry_id -> Nullable<Uuid>,
        hold_id -> Nullable<Uuid>,
        reference -> Nullable<Text>,
        purchase_amount -> Nullable<Numeric>,
        purchase_currency -> Nullable<Text>,
        earn_rate -> Nullable<Numeric>,
        debt_repaid -> Int8,
        created_at -> Timestamptz,
        tier_multiplier -> Nullable<Numeric>,
        related_entry_id -> Nullable<Uuid>,
        campaign_id -> Nullable<Uuid>,
        available_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    leaderboard_outbox (id) {
        id -> Int8,
        activity_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    leaderboard_projection (id) {
        id -> Int4,
        version -> Int8,
    }
}

diesel::table! {
    lot_consumptions (entry_id, lot_id, kind) {
        entry_id -> Uuid,
        lot_id -> Uuid,
        points -> Int8,
        kind -> Text,
        redeeming_partner_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    lot_expiry_notices (lot_id) {
        lot_id -> Uuid,
        noticed_at -> Timestamptz,
    }
}

diesel::table! {
    lots (id) {
        id -> Uuid,
        member_id -> Uuid,
        issuer_partner_id -> Uuid,
        points -> Int8,
        remaining -> Int8,
        reserved -> Int8,
        earned_at -> Timestamptz,
        expires_at -> Timestamptz,
        source_lot_id -> Nullable<Uuid>,
        transfer_entry_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    member_balances (member_id) {
        member_id -> Uuid,
        available_account -> Int8,
        held_account -> Int8,
        available -> Int8,
        held -> Int8,
        debt -> Int8,
        lifetime_earned -> Int8,
        updated_at -> Timestamptz,
        pending -> Int8,
        pending_account -> Nullable<Int8>,
        next_available_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    member_consents (member_id, partner_id) {
        member_id -> Uuid,
        partner_id -> Uuid,
        source -> Text,
        granted_at -> Timestamptz,
    }
}

diesel::table! {
    member_links (partner_id, partner_customer_id) {
        partner_id -> Uuid,
        partner_customer_id -> Text,
        member_id -> Uuid,
        linked_at -> Timestamptz,
    }
}

diesel::table! {
    member_tier_marks (member_id) {
        member_id -> Uuid,
        tier -> Text,
        marked_at -> Timestamptz,
    }
}

diesel::table! {
    members (id) {
        id -> Uuid,
        member_number -> Text,
        created_at -> Timestamptz,
        birth_date -> Nullable<Date>,
    }
}

diesel::table! {
    offer_activations (member_id, campaign_id) {
        campaign_id -> Uuid,
        member_id -> Uuid,
        activated_at -> Timestamptz,
    }
}

diesel::table! {
    outstanding_snapshots (partner_id, day) {
        day -> Date,
        partner_id -> Uuid,
        points -> Int8,
        taken_at -> Timestamptz,
    }
}

diesel::table! {
    partner_accounts (partner_id) {
        partner_id -> Uuid,
        issuance_account -> Int8,
        redemption_account -> Int8,
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
    partner_rates (id) {
        id -> Uuid,
        partner_id -> Uuid,
        redemption_value -> Numeric,
        issuance_fee -> Numeric,
        effective_from -> Timestamptz,
        set_by -> Text,
        created_at -> Timestamptz,
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
        referral_score -> Int8,
        referral_reward_points -> Int8,
        applies_tier_multiplier -> Bool,
        return_window_days -> Int4,
        is_coalition -> Bool,
    }
}

diesel::table! {
    pending_lots (id) {
        id -> Uuid,
        member_id -> Uuid,
        issuer_partner_id -> Uuid,
        points -> Int8,
        remaining -> Int8,
        earned_at -> Timestamptz,
        available_at -> Timestamptz,
        expires_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
        released_entry_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    portal_users (id) {
        id -> Uuid,
        email -> Text,
        partner_id -> Nullable<Uuid>,
        role -> Text,
        password_hash -> Text,
        failed_logins -> Int4,
        locked_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        created_by -> Text,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    postings (entry_id, account_id) {
        entry_id -> Uuid,
        account_id -> Int8,
        amount -> Int8,
    }
}

diesel::table! {
    presence_codes (member_id) {
        member_id -> Uuid,
        code_hash -> Bytea,
        expires_at -> Timestamptz,
        failed_attempts -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    referral_codes (code) {
        code -> Text,
        ambassador_id -> Uuid,
        partner_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    referrals (id) {
        id -> Uuid,
        code -> Text,
        ambassador_id -> Uuid,
        referred_member_id -> Uuid,
        partner_id -> Uuid,
        created_at -> Timestamptz,
        converted_at -> Nullable<Timestamptz>,
        activity_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::PgSnapshot;

    settlement_periods (id) {
        id -> Uuid,
        period_start -> Timestamptz,
        cutoff -> Timestamptz,
        closed_at -> Timestamptz,
        closed_by -> Text,
        snapshot -> PgSnapshot,
        record_count -> Int8,
        statement -> Jsonb,
        content_hash -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    settlement_records (id) {
        id -> Int8,
        kind -> Text,
        entry_id -> Uuid,
        issuer_partner_id -> Uuid,
        redeeming_partner_id -> Nullable<Uuid>,
        points -> Int8,
        occurred_at -> Timestamptz,
        txid -> Xid8,
    }
}

diesel::table! {
    tiers (name) {
        name -> Text,
        min_points -> Int8,
        earn_multiplier -> Numeric,
    }
}

diesel::table! {
    web_sessions (token_hash) {
        token_hash -> Bytea,
        user_id -> Nullable<Uuid>,
        member_id -> Nullable<Uuid>,
        csrf_token -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Uuid,
        subscription_id -> Uuid,
        event_ids -> Array<Nullable<Uuid>>,
        redelivery -> Bool,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int4>,
        latency_ms -> Int4,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
        succeeded -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    webhook_cursors (subscription_id) {
        subscription_id -> Uuid,
        cursor_txid -> Xid8,
        cursor_event_id -> Uuid,
        lease_owner -> Nullable<Uuid>,
        lease_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    webhook_dispatch (id) {
        id -> Int4,
        txid -> Xid8,
        event_id -> Uuid,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    webhook_events (id) {
        id -> Uuid,
        #[sql_name = "type"]
        type_ -> Text,
        partner_ids -> Array<Nullable<Uuid>>,
        body -> Text,
        created_at -> Timestamptz,
        txid -> Xid8,
    }
}

diesel::table! {
    webhook_jobs (name) {
        name -> Text,
        cursor -> Uuid,
    }
}

diesel::table! {
    webhook_redeliveries (id) {
        id -> Uuid,
        subscription_id -> Uuid,
        event_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Uuid,
        partner_id -> Nullable<Uuid>,
        url -> Text,
        event_types -> Array<Nullable<Text>>,
        secret -> Text,
        status -> Text,
        disabled_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        failing_since -> Nullable<Timestamptz>,
        failed_attempts -> Int4,
        next_attempt_at -> Timestamptz,
    }
}

diesel::joinable!(accounts -> members (member_id));
diesel::joinable!(accounts -> partners (partner_id));
diesel::joinable!(ambassador_activities -> ambassadors (ambassador_id));
diesel::joinable!(ambassador_activities -> partners (partner_id));
diesel::joinable!(ambassador_enrollments -> ambassadors (ambassador_id));
diesel::joinable!(ambassador_enrollments -> partners (partner_id));
diesel::joinable!(ambassadors -> members (member_id));
diesel::joinable!(campaign_member_awards -> campaigns (campaign_id));
diesel::joinable!(campaign_member_awards -> members (member_id));
diesel::joinable!(family_requests_unmatched -> members (member_id));
diesel::joinable!(hold_lots -> holds (hold_id));
diesel::joinable!(hold_lots -> lots (lot_id));
diesel::joinable!(holds -> members (member_id));
diesel::joinable!(member_balances -> members (member_id));
diesel::joinable!(member_consents -> members (member_id));
diesel::joinable!(member_consents -> partners (partner_id));
diesel::joinable!(member_links -> members (member_id));
diesel::joinable!(member_links -> partners (partner_id));
diesel::joinable!(member_tier_marks -> members (member_id));
diesel::joinable!(offer_activations -> campaigns (campaign_id));
diesel::joinable!(offer_activations -> members (member_id));
diesel::joinable!(partner_accounts -> partners (partner_id));
diesel::joinable!(partner_credentials -> partners (partner_id));
diesel::joinable!(partner_rates -> partners (partner_id));
diesel::joinable!(portal_users -> partners (partner_id));
diesel::joinable!(presence_codes -> members (member_id));
diesel::joinable!(referral_codes -> ambassadors (ambassador_id));
diesel::joinable!(referral_codes -> partners (partner_id));
diesel::joinable!(referrals -> ambassador_activities (activity_id));
diesel::joinable!(referrals -> ambassadors (ambassador_id));
diesel::joinable!(referrals -> members (referred_member_id));
diesel::joinable!(referrals -> partners (partner_id));
diesel::joinable!(referrals -> referral_codes (code));
diesel::joinable!(web_sessions -> members (member_id));
diesel::joinable!(web_sessions -> portal_users (user_id));
diesel::joinable!(webhook_attempts -> webhook_subscriptions (subscription_id));
diesel::joinable!(webhook_cursors -> webhook_subscriptions (subscription_id));
diesel::joinable!(webhook_redeliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(webhook_subscriptions -> partners (partner_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    ambassador_activities,
    ambassador_enrollments,
    ambassadors,
    audit_log,
    campaign_member_awards,
    campaigns,
    family_links,
    family_requests_unmatched,
    hold_lots,
    holds,
    hub_sql_files,
    idempotency_keys,
    journal_entries,
    leaderboard_outbox,
    leaderboard_projection,
    lot_consumptions,
    lot_expiry_notices,
    lots,
    member_balances,
    member_consents,
    member_links,
    member_tier_marks,
    members,
    offer_activations,
    outstanding_snapshots,
    partner_accounts,
    partner_credentials,
    partner_rates,
    partners,
    pending_lots,
    portal_users,
    postings,
    presence_codes,
    referral_codes,
    referrals,
    settlement_periods,
    settlement_records,
    tiers,
    web_sessions,
    webhook_attempts,
    webhook_cursors,
    webhook_dispatch,
    webhook_events,
    webhook_jobs,
    webhook_redeliveries,
    webhook_subscriptions,
);
