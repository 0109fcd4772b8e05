//! The schema, as a sea-orm-migration migration (portable across SQLite, PostgreSQL, MariaDB).

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum MortarFlags {
    Table,
    Key,
    Definition,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MortarFlagsVersion {
    Table,
    Id,
    Version,
}

/// `mortar_flags` and the one-row `mortar_flags_version`.
pub(crate) struct CreateFlags;

// Named explicitly: `DeriveMigrationName` uses the file name, and the crate prefix keeps the
// name apart from the application's own migrations.
impl MigrationName for CreateFlags {
    fn name(&self) -> &'static str {
        "m20261124_000201_mortar_flags_create_tables"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateFlags {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MortarFlags::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarFlags::Key)
                            .string_len(256)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(MortarFlags::Definition).text().not_null())
                    .col(
                        ColumnDef::new(MortarFlags::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MortarFlagsVersion::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarFlagsVersion::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarFlagsVersion::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // The one version row (checked first: `ON CONFLICT` has no portable spelling).
        let db = manager.get_connection();
        let select = Query::select()
            .column(MortarFlagsVersion::Id)
            .from(MortarFlagsVersion::Table)
            .and_where(Expr::col(MortarFlagsVersion::Id).eq(1))
            .to_owned();
        let found = db
            .query_one_raw(db.get_database_backend().build(&select))
            .await?;
        if found.is_none() {
            manager
                .exec_stmt(
                    Query::insert()
                        .into_table(MortarFlagsVersion::Table)
                        .columns([MortarFlagsVersion::Id, MortarFlagsVersion::Version])
                        .values_panic([1.into(), 1.into()])
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MortarFlagsVersion::Table.into_iden(),
            MortarFlags::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum MortarFlagsAssignments {
    Table,
    Flag,
    Subject,
    Variant,
    AssignedAt,
}

/// `mortar_flags_assignments`: sticky experiment assignments.
pub(crate) struct CreateAssignments;

impl MigrationName for CreateAssignments {
    fn name(&self) -> &'static str {
        "m20261124_000202_mortar_flags_create_assignments"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateAssignments {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MortarFlagsAssignments::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarFlagsAssignments::Flag)
                            .string_len(256)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarFlagsAssignments::Subject)
                            .string_len(256)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarFlagsAssignments::Variant)
                            .string_len(256)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarFlagsAssignments::AssignedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(MortarFlagsAssignments::Flag)
                            .col(MortarFlagsAssignments::Subject),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(MortarFlagsAssignments::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
