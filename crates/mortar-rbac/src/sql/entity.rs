//! sea-orm entities of mortar-rbac's tables, for applications that query them directly.
//! Times are milliseconds since the Unix epoch.

/// The `mortar_rbac_roles` table.
pub mod role {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_rbac_roles`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_rbac_roles")]
    pub struct Model {
        /// The role's name.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        /// Its description (also inside `definition`), for SQL readers.
        pub description: Option<String>,
        /// The [`crate::Role`] as JSON.
        pub definition: String,
        /// Last change (ms).
        pub updated_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_rbac_assignments` table.
pub mod assignment {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_rbac_assignments`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_rbac_assignments")]
    pub struct Model {
        /// Insertion order.
        #[sea_orm(primary_key)]
        pub seq: i64,
        /// SHA-256 (hex) of the whole assignment: its identity.
        pub key: String,
        /// The subject.
        pub subject: String,
        /// The role.
        pub role: String,
        /// The tenant, or every tenant.
        pub tenant: Option<String>,
        /// The resource (`kind:id`), or every resource.
        pub resource: Option<String>,
        /// The CEL condition.
        pub condition: Option<String>,
        /// Creation time (ms).
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `mortar_rbac_parents` table.
pub mod parent {
    use sea_orm::entity::prelude::*;

    /// A row of `mortar_rbac_parents`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_rbac_parents")]
    pub struct Model {
        /// Insertion order.
        #[sea_orm(primary_key)]
        pub seq: i64,
        /// SHA-256 (hex) of the edge: its identity.
        pub key: String,
        /// The contained resource (`kind:id`).
        pub child: String,
        /// Its container (`kind:id`).
        pub parent: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The one-row `mortar_rbac_version` table.
pub mod version {
    use sea_orm::entity::prelude::*;

    /// Its row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mortar_rbac_version")]
    pub struct Model {
        /// Always 1.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// Bumped by every write.
        pub version: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
