//! The schema, as a sea-orm-migration migration (portable across SQLite, PostgreSQL, MariaDB).

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum MortarRbacRoles {
    Table,
    Name,
    Description,
    Definition,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MortarRbacAssignments {
    Table,
    Key,
    Seq,
    Subject,
    Role,
    Tenant,
    Resource,
    Condition,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MortarRbacParents {
    Table,
    Key,
    Seq,
    Child,
    Parent,
}

#[derive(DeriveIden)]
enum MortarRbacVersion {
    Table,
    Id,
    Version,
}

/// `mortar_rbac_roles`, `mortar_rbac_assignments`, `mortar_rbac_parents` and the one-row
/// `mortar_rbac_version` every write bumps.
pub(crate) struct CreateRbac;

// Named explicitly: `DeriveMigrationName` uses the file name, and the crate prefix keeps the
// name apart from the application's own migrations.
impl MigrationName for CreateRbac {
    fn name(&self) -> &'static str {
        "m20261124_000101_mortar_rbac_create_tables"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[allow(
    clippy::too_many_lines,
    reason = "one table after another, read top to bottom"
)]
#[async_trait::async_trait]
impl MigrationTrait for CreateRbac {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MortarRbacRoles::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarRbacRoles::Name)
                            .string_len(256)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(MortarRbacRoles::Description).text().null())
                    .col(
                        ColumnDef::new(MortarRbacRoles::Definition)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacRoles::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // `seq` keeps insertion order; `key` (SHA-256 of the whole assignment) makes an
        // assignment unique although its nullable columns could not be (NULLs are distinct in
        // unique indexes, and MariaDB limits an index to 3072 bytes).
        manager
            .create_table(
                Table::create()
                    .table(MortarRbacAssignments::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarRbacAssignments::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacAssignments::Key)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacAssignments::Subject)
                            .string_len(256)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacAssignments::Role)
                            .string_len(256)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacAssignments::Tenant)
                            .string_len(256)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacAssignments::Resource)
                            .string_len(520)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacAssignments::Condition)
                            .text()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacAssignments::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mortar_rbac_assignments_key")
                    .table(MortarRbacAssignments::Table)
                    .col(MortarRbacAssignments::Key)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mortar_rbac_assignments_subject")
                    .table(MortarRbacAssignments::Table)
                    .col(MortarRbacAssignments::Subject)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mortar_rbac_assignments_role")
                    .table(MortarRbacAssignments::Table)
                    .col(MortarRbacAssignments::Role)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MortarRbacParents::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarRbacParents::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacParents::Key)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacParents::Child)
                            .string_len(520)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacParents::Parent)
                            .string_len(520)
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mortar_rbac_parents_key")
                    .table(MortarRbacParents::Table)
                    .col(MortarRbacParents::Key)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MortarRbacVersion::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarRbacVersion::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarRbacVersion::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // The one version row (checked first: `ON CONFLICT` has no portable spelling).
        let db = manager.get_connection();
        let select = Query::select()
            .column(MortarRbacVersion::Id)
            .from(MortarRbacVersion::Table)
            .and_where(Expr::col(MortarRbacVersion::Id).eq(1))
            .to_owned();
        let found = db
            .query_one_raw(db.get_database_backend().build(&select))
            .await?;
        if found.is_none() {
            manager
                .exec_stmt(
                    Query::insert()
                        .into_table(MortarRbacVersion::Table)
                        .columns([MortarRbacVersion::Id, MortarRbacVersion::Version])
                        .values_panic([1.into(), 1.into()])
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MortarRbacVersion::Table.into_iden(),
            MortarRbacParents::Table.into_iden(),
            MortarRbacAssignments::Table.into_iden(),
            MortarRbacRoles::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
