//! sea-orm entities of mortar-auth's tables, for applications that query them directly
//! (admin screens, reports). Times are milliseconds since the Unix epoch.

/// The `mortar_users` table.
pub mod user {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_users`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_users")]
    pub struct Model {
        /// The user id (UUID v7).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The e-mail address as entered.
        pub email: String,
        /// The e-mail address normalized (unique).
        pub email_normalized: String,
        /// The user name as entered.
        pub username: Option<String>,
        /// The user name normalized (unique).
        pub username_normalized: Option<String>,
        /// The phone number.
        pub phone: Option<String>,
        /// The password hash.
        pub password_hash: Option<String>,
        /// When the e-mail address was verified (ms).
        pub email_verified_at: Option<i64>,
        /// When the phone number was verified (ms).
        pub phone_verified_at: Option<i64>,
        /// When the account was disabled (ms).
        pub disabled_at: Option<i64>,
        /// Tokens issued before this are invalid (ms).
        pub tokens_valid_after: Option<i64>,
        /// Creation time (ms).
        pub created_at: i64,
        /// Last change (ms).
        pub updated_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_codes` table: hashes of single-use codes.
pub mod code {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_codes`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_codes")]
    pub struct Model {
        /// SHA-256 of the code, lower-case hex.
        #[sea_orm(primary_key, auto_increment = false)]
        pub hash: String,
        /// What the code is for.
        pub purpose: String,
        /// The user it belongs to.
        pub user_id: Uuid,
        /// When it stops working (ms).
        pub expires_at: i64,
        /// When it was issued (ms).
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_sessions` table: sessions and their refresh-token hashes.
pub mod session {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_sessions`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_sessions")]
    pub struct Model {
        /// Session id (128-bit hex).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Whose.
        pub user_id: Uuid,
        /// Start (ms).
        pub created_at: i64,
        /// Last refresh (ms).
        pub last_seen_at: i64,
        /// Absolute end (ms).
        pub expires_at: i64,
        /// Client address at the last use.
        pub ip: Option<String>,
        /// Client user agent at the last use.
        pub user_agent: Option<String>,
        /// Authentication methods, space-separated `amr` values.
        pub methods: String,
        /// Revocation time (ms).
        pub revoked_at: Option<i64>,
        /// SHA-256 of the current refresh token (unique).
        pub token_hash: String,
        /// SHA-256 of the replaced refresh token.
        pub previous_hash: Option<String>,
        /// Rotations so far.
        pub generation: i32,
        /// `"tokens"` or `"cookie"` (added by the fifth migration).
        pub kind: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_api_keys` table: API keys (their secrets only as hashes).
pub mod api_key {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_api_keys`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_api_keys")]
    pub struct Model {
        /// Public id (12 base62 characters).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Principal subject the key acts as.
        pub owner: String,
        /// Tenant.
        pub tenant: Option<String>,
        /// Name for people.
        pub name: String,
        /// SHA-256 of the secret, hex.
        pub secret_hash: String,
        /// Scopes, space-separated.
        pub scopes: String,
        /// Creation (ms).
        pub created_at: i64,
        /// Expiry (ms).
        pub expires_at: Option<i64>,
        /// Revocation (ms).
        pub revoked_at: Option<i64>,
        /// Last use as of the last flush (ms).
        pub last_used_at: Option<i64>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_totp` table: one TOTP factor per user, its secret sealed.
pub mod totp {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_totp`.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_totp")]
    pub struct Model {
        /// The user.
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        /// The secret, sealed (AES-256-GCM, `{key id}.{base64url}`).
        pub sealed_secret: String,
        /// `SHA1`, `SHA256` or `SHA512`.
        pub algorithm: String,
        /// Digits per code.
        pub digits: i32,
        /// Step length (s).
        pub step: i64,
        /// Confirmed by a first code.
        pub active: bool,
        /// The last step a code was accepted for.
        pub last_step: Option<i64>,
        /// Enrollment (ms).
        pub created_at: i64,
    }

    // The sealed secret stays out of logs.
    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Model")
                .field("user_id", &self.user_id)
                .field("active", &self.active)
                .field("last_step", &self.last_step)
                .finish_non_exhaustive()
        }
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_recovery_codes` table: recovery-code hashes, each usable once.
pub mod recovery_code {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_recovery_codes`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_recovery_codes")]
    pub struct Model {
        /// SHA-256 of the user id and the code, hex.
        #[sea_orm(primary_key, auto_increment = false)]
        pub hash: String,
        /// The user.
        pub user_id: Uuid,
        /// When it was used (ms); unused while null.
        pub used_at: Option<i64>,
        /// When the set was made (ms).
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_identities` table: provider identities linked to users.
pub mod identity {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_identities`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_identities")]
    pub struct Model {
        /// The provider's id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub provider: String,
        /// The provider's id of the account.
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        /// The user.
        pub user_id: Uuid,
        /// The address the provider gave.
        pub email: Option<String>,
        /// When it was linked (ms).
        pub linked_at: i64,
        /// The last sign-in with it (ms).
        pub last_used_at: Option<i64>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_sso_connections` table: tenants' OpenID Connect connections.
pub mod sso_connection {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_sso_connections`.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_sso_connections")]
    pub struct Model {
        /// The tenant.
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        /// The issuer URL.
        pub issuer: String,
        /// The client id there.
        pub client_id: String,
        /// The client secret, sealed (AES-256-GCM).
        pub sealed_client_secret: Option<String>,
        /// Last change (ms).
        pub updated_at: i64,
    }

    // The sealed secret stays out of logs.
    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Model")
                .field("tenant", &self.tenant)
                .field("issuer", &self.issuer)
                .field("client_id", &self.client_id)
                .finish_non_exhaustive()
        }
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_sso_domains` table: which tenant holds an e-mail domain.
pub mod sso_domain {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_sso_domains`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_sso_domains")]
    pub struct Model {
        /// The domain, lower case.
        #[sea_orm(primary_key, auto_increment = false)]
        pub domain: String,
        /// The tenant holding it.
        pub tenant: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_passkeys` table: WebAuthn credentials.
pub mod passkey {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_passkeys`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_passkeys")]
    pub struct Model {
        /// SHA-256 of the credential id, hex.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        /// The credential id, base64url.
        pub id: String,
        /// The user.
        pub user_id: Uuid,
        /// The name the user gave it.
        pub name: String,
        /// webauthn-rs's `Passkey` (public key, counter), JSON.
        pub passkey: String,
        /// Registration (ms).
        pub created_at: i64,
        /// Last use (ms).
        pub last_used_at: Option<i64>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
