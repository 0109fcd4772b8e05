//! The schema, as sea-orm-migration migrations (portable across SQLite, PostgreSQL, MariaDB).

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum MortarUsers {
    Table,
    Id,
    Email,
    EmailNormalized,
    Username,
    UsernameNormalized,
    Phone,
    PasswordHash,
    EmailVerifiedAt,
    PhoneVerifiedAt,
    DisabledAt,
    TokensValidAfter,
    CreatedAt,
    UpdatedAt,
}

/// `mortar_users`, with unique normalized e-mail and user name.
#[derive(DeriveMigrationName)]
pub(crate) struct CreateUsers;

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateUsers {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MortarUsers::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarUsers::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarUsers::Email)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarUsers::EmailNormalized)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MortarUsers::Username).string_len(64).null())
                    .col(
                        ColumnDef::new(MortarUsers::UsernameNormalized)
                            .string_len(64)
                            .null(),
                    )
                    .col(ColumnDef::new(MortarUsers::Phone).string_len(32).null())
                    .col(
                        ColumnDef::new(MortarUsers::PasswordHash)
                            .string_len(512)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarUsers::EmailVerifiedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarUsers::PhoneVerifiedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(MortarUsers::DisabledAt).big_integer().null())
                    .col(
                        ColumnDef::new(MortarUsers::TokensValidAfter)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarUsers::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarUsers::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Named so a violation can be traced to its field on every backend.
        manager
            .create_index(
                Index::create()
                    .name("mortar_users_email_normalized_key")
                    .table(MortarUsers::Table)
                    .col(MortarUsers::EmailNormalized)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mortar_users_username_normalized_key")
                    .table(MortarUsers::Table)
                    .col(MortarUsers::UsernameNormalized)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MortarUsers::Table).to_owned())
            .await
    }
}
