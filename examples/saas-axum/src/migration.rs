//! The starter's migrator: every Mortar crate's migrations, in order, plus the application's own.
//!
//! Each Mortar crate with tables exposes `migrations()`; add them here as you adopt the crate,
//! then your own below them. `App::build` runs pending migrations at start-up.

use sea_orm_migration::prelude::*;

/// The application's migrator.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        // Mortar's crates first (each names its migrations after itself), then the app's own.
        let mut all = mortar::auth::sql::migrations();
        all.extend(mortar::rbac::sql::migrations());
        all.extend(mortar::audit::sql::migrations());
        all.extend(mortar::flags::sql::migrations());
        all.extend(mortar::jobs::sql::migrations());
        all.push(Box::new(CreateOrganizations));
        all.push(Box::new(CreateInvitations));
        all
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    CreatedBy,
    CreatedAt,
}

/// The app's own table: `organizations` (memberships are mortar-rbac assignments).
struct CreateOrganizations;

impl MigrationName for CreateOrganizations {
    fn name(&self) -> &'static str {
        "m20261124_100001_create_organizations"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateOrganizations {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Organizations::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Organizations::Name)
                            .string_len(400)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Organizations::CreatedBy)
                            .string_len(256)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Organizations::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Organizations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    OrgId,
    Email,
    Role,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
}

/// The app's `invitations` table: one pending invitation per organization and address.
struct CreateInvitations;

impl MigrationName for CreateInvitations {
    fn name(&self) -> &'static str {
        "m20261206_100001_create_invitations"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateInvitations {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let text = |column: Invitations, len: u32| {
            ColumnDef::new(column).string_len(len).not_null().to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .if_not_exists()
                    .col(text(Invitations::Id, 36).primary_key())
                    .col(text(Invitations::OrgId, 36))
                    .col(text(Invitations::Email, 254))
                    .col(text(Invitations::Role, 16))
                    .col(text(Invitations::InvitedBy, 256))
                    .col(
                        ColumnDef::new(Invitations::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Invitations::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_org_email")
                    .table(Invitations::Table)
                    .col(Invitations::OrgId)
                    .col(Invitations::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_email")
                    .table(Invitations::Table)
                    .col(Invitations::Email)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Invitations::Table).to_owned())
            .await
    }
}
