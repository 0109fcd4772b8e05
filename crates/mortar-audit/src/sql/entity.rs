//! sea-orm entities of mortar-audit's tables, for applications that query them directly.
//! Times are microseconds since the Unix epoch.

/// The `mortar_audit_events` table: one row per [`crate::AuditRecord`].
pub mod event {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_audit_events`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_audit_events")]
    pub struct Model {
        /// Insertion order across streams (pagination key).
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The chain.
        pub stream: String,
        /// Position in the chain, from 1.
        pub seq: i64,
        /// What was done.
        pub action: String,
        /// `success`, `failure`, `denied` or `error`.
        pub outcome: String,
        /// The actor's subject.
        pub actor_subject: Option<String>,
        /// The actor's kind (`user`, `service_account`, `api_key`, `anonymous`).
        pub actor_kind: Option<String>,
        /// The actor's session.
        pub actor_session: Option<String>,
        /// The tenant.
        pub tenant: Option<String>,
        /// The target's kind.
        pub target_kind: Option<String>,
        /// The target's id.
        pub target_id: Option<String>,
        /// When it happened (µs).
        pub occurred_at: i64,
        /// The client address.
        pub ip: Option<String>,
        /// The client's user agent.
        pub user_agent: Option<String>,
        /// The request id.
        pub request_id: Option<String>,
        /// The metadata as canonical JSON.
        pub metadata: String,
        /// The previous record's hash (hex).
        pub prev_hash: String,
        /// This record's hash (hex).
        pub hash: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_audit_heads` table: each stream's last `seq` and `hash` (the row writers lock).
pub mod head {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_audit_heads`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_audit_heads")]
    pub struct Model {
        /// The stream.
        #[sea_orm(primary_key, auto_increment = false)]
        pub stream: String,
        /// Its last `seq` (0 before the first record).
        pub seq: i64,
        /// Its last hash (hex).
        pub hash: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_audit_anchors` table: where each stream's kept chain starts after retention
/// purges (append-only; the newest row per stream counts).
pub mod anchor {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_audit_anchors`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_audit_anchors")]
    pub struct Model {
        /// The stream.
        #[sea_orm(primary_key, auto_increment = false)]
        pub stream: String,
        /// The first kept `seq`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        /// The `prev_hash` that record carries (hex).
        pub prev_hash: String,
        /// When the purge happened (µs).
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_audit_last_seen` table: when each user was last active.
pub mod last_seen {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_audit_last_seen`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_audit_last_seen")]
    pub struct Model {
        /// The subject.
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        /// The tenant of the last activity.
        pub tenant: Option<String>,
        /// When (µs).
        pub seen_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
