//! sea-orm entities of mortar-flags' tables, for applications that query them directly.
//! Times are milliseconds since the Unix epoch.

/// The `mortar_flags` table.
pub mod flag {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_flags`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_flags")]
    pub struct Model {
        /// The flag's key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// The [`crate::FlagDefinition`] as flagd JSON.
        pub definition: String,
        /// Last change (ms).
        pub updated_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The one-row `mortar_flags_version` table every write bumps.
pub mod version {
    use sea_orm::entity::prelude::*;

    /// The row of `mortar_flags_version`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_flags_version")]
    pub struct Model {
        /// Always 1.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// Incremented by every write.
        pub version: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_flags_assignments` table: each subject's first variant in each experiment.
pub mod assignment {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_flags_assignments`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_flags_assignments")]
    pub struct Model {
        /// The experiment's flag key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub flag: String,
        /// The subject (targeting key).
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        /// The variant assigned.
        pub variant: String,
        /// When (ms).
        pub assigned_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
