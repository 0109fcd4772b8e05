//! The schema, as sea-orm-migration migrations (portable across SQLite, PostgreSQL, MariaDB).

use sea_orm_migration::prelude::*;

#[cfg(test)]
mod tests {
    #[test]
    fn migration_names_are_unique_and_ordered() {
        let names: Vec<String> = super::super::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert!(names.iter().all(|n| n.contains("mortar_auth")));
    }
}

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
pub(crate) struct CreateUsers;

// Named explicitly: `DeriveMigrationName` uses the file name, which both migrations share, and the
// crate prefix keeps the names apart from the application's own migrations.
impl MigrationName for CreateUsers {
    fn name(&self) -> &'static str {
        "m20261124_000001_mortar_auth_create_users"
    }
}

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

#[derive(DeriveIden)]
enum MortarCodes {
    Table,
    Hash,
    Purpose,
    UserId,
    ExpiresAt,
    CreatedAt,
}

/// `mortar_codes`: hashes of single-use codes, by hash, with an index per user and purpose.
pub(crate) struct CreateCodes;

impl MigrationName for CreateCodes {
    fn name(&self) -> &'static str {
        "m20261124_000002_mortar_auth_create_codes"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateCodes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MortarCodes::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarCodes::Hash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarCodes::Purpose)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MortarCodes::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(MortarCodes::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarCodes::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mortar_codes_user_purpose_idx")
                    .table(MortarCodes::Table)
                    .col(MortarCodes::UserId)
                    .col(MortarCodes::Purpose)
                    .to_owned(),
            )
            .await?;
        // Expired codes are pruned by time.
        manager
            .create_index(
                Index::create()
                    .name("mortar_codes_expires_idx")
                    .table(MortarCodes::Table)
                    .col(MortarCodes::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MortarCodes::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MortarSessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    Ip,
    UserAgent,
    Methods,
    RevokedAt,
    TokenHash,
    PreviousHash,
    Generation,
    Kind,
}

/// `mortar_sessions`: sessions with unique current refresh-token hashes.
pub(crate) struct CreateSessions;

impl MigrationName for CreateSessions {
    fn name(&self) -> &'static str {
        "m20261124_000003_mortar_auth_create_sessions"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateSessions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MortarSessions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarSessions::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(MortarSessions::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(MortarSessions::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarSessions::LastSeenAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarSessions::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(MortarSessions::Ip).string_len(64).null())
                    .col(
                        ColumnDef::new(MortarSessions::UserAgent)
                            .string_len(512)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarSessions::Methods)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarSessions::RevokedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarSessions::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarSessions::PreviousHash)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarSessions::Generation)
                            .integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column, unique) in [
            (
                "mortar_sessions_token_hash_key",
                MortarSessions::TokenHash,
                true,
            ),
            (
                "mortar_sessions_previous_hash_idx",
                MortarSessions::PreviousHash,
                false,
            ),
            ("mortar_sessions_user_idx", MortarSessions::UserId, false),
        ] {
            let mut index = Index::create();
            index.name(name).table(MortarSessions::Table).col(column);
            if unique {
                index.unique();
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MortarSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MortarApiKeys {
    Table,
    Id,
    Owner,
    Tenant,
    Name,
    SecretHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}

/// `mortar_api_keys`: API keys by public id, with an index per owner.
pub(crate) struct CreateApiKeys;

impl MigrationName for CreateApiKeys {
    fn name(&self) -> &'static str {
        "m20261124_000004_mortar_auth_create_api_keys"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateApiKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MortarApiKeys::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarApiKeys::Id)
                            .string_len(16)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarApiKeys::Owner)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MortarApiKeys::Tenant).string_len(255).null())
                    .col(
                        ColumnDef::new(MortarApiKeys::Name)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarApiKeys::SecretHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MortarApiKeys::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(MortarApiKeys::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarApiKeys::ExpiresAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarApiKeys::RevokedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarApiKeys::LastUsedAt)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mortar_api_keys_owner_idx")
                    .table(MortarApiKeys::Table)
                    .col(MortarApiKeys::Owner)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MortarApiKeys::Table).to_owned())
            .await
    }
}

/// `mortar_sessions.kind`: refresh-token or cookie session (every earlier row is `tokens`).
pub(crate) struct AddSessionKind;

impl MigrationName for AddSessionKind {
    fn name(&self) -> &'static str {
        "m20261124_000005_mortar_auth_add_session_kind"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddSessionKind {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MortarSessions::Table)
                    .add_column(
                        ColumnDef::new(MortarSessions::Kind)
                            .string_len(16)
                            .not_null()
                            .default("tokens"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MortarSessions::Table)
                    .drop_column(MortarSessions::Kind)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum MortarTotp {
    Table,
    UserId,
    SealedSecret,
    Algorithm,
    Digits,
    Step,
    Active,
    LastStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MortarRecoveryCodes {
    Table,
    Hash,
    UserId,
    UsedAt,
    CreatedAt,
}

/// `mortar_totp` and `mortar_recovery_codes`: second factors (used with feature `totp`).
pub(crate) struct CreateSecondFactors;

impl MigrationName for CreateSecondFactors {
    fn name(&self) -> &'static str {
        "m20261125_000006_mortar_auth_create_second_factors"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateSecondFactors {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MortarTotp::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarTotp::UserId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarTotp::SealedSecret)
                            .string_len(512)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarTotp::Algorithm)
                            .string_len(8)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MortarTotp::Digits).integer().not_null())
                    .col(ColumnDef::new(MortarTotp::Step).big_integer().not_null())
                    .col(ColumnDef::new(MortarTotp::Active).boolean().not_null())
                    .col(ColumnDef::new(MortarTotp::LastStep).big_integer().null())
                    .col(
                        ColumnDef::new(MortarTotp::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MortarRecoveryCodes::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarRecoveryCodes::Hash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarRecoveryCodes::UserId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarRecoveryCodes::UsedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarRecoveryCodes::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("mortar_recovery_codes_user_idx")
                    .table(MortarRecoveryCodes::Table)
                    .col(MortarRecoveryCodes::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MortarRecoveryCodes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(MortarTotp::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MortarIdentities {
    Table,
    Provider,
    Subject,
    UserId,
    Email,
    LinkedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum MortarSsoConnections {
    Table,
    Tenant,
    Issuer,
    ClientId,
    SealedClientSecret,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MortarSsoDomains {
    Table,
    Domain,
    Tenant,
}

/// `mortar_identities` (linked provider identities) and `mortar_sso_connections` /
/// `mortar_sso_domains` (tenants' SSO), used with feature `oauth`.
pub(crate) struct CreateIdentities;

impl MigrationName for CreateIdentities {
    fn name(&self) -> &'static str {
        "m20261125_000007_mortar_auth_create_identities"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[allow(
    clippy::too_many_lines,
    reason = "three tables and their indexes, column by column"
)]
#[async_trait::async_trait]
impl MigrationTrait for CreateIdentities {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MortarIdentities::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarIdentities::Provider)
                            .string_len(40)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarIdentities::Subject)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MortarIdentities::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(MortarIdentities::Email)
                            .string_len(320)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarIdentities::LinkedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarIdentities::LastUsedAt)
                            .big_integer()
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("mortar_identities_pkey")
                            .col(MortarIdentities::Provider)
                            .col(MortarIdentities::Subject),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("mortar_identities_user_idx")
                    .table(MortarIdentities::Table)
                    .col(MortarIdentities::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MortarSsoConnections::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarSsoConnections::Tenant)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarSsoConnections::Issuer)
                            .string_len(512)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarSsoConnections::ClientId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarSsoConnections::SealedClientSecret)
                            .string_len(1024)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MortarSsoConnections::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MortarSsoDomains::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarSsoDomains::Domain)
                            .string_len(253)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MortarSsoDomains::Tenant)
                            .string_len(36)
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("mortar_sso_domains_tenant_idx")
                    .table(MortarSsoDomains::Table)
                    .col(MortarSsoDomains::Tenant)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MortarSsoDomains::Table.into_iden(),
            MortarSsoConnections::Table.into_iden(),
            MortarIdentities::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum MortarPasskeys {
    Table,
    IdHash,
    Id,
    UserId,
    Name,
    Passkey,
    CreatedAt,
    LastUsedAt,
}

/// `mortar_passkeys`: WebAuthn credentials (used with feature `webauthn`). Credential ids run
/// to 1023 bytes, too long for a portable key: the primary key is their SHA-256.
pub(crate) struct CreatePasskeys;

impl MigrationName for CreatePasskeys {
    fn name(&self) -> &'static str {
        "m20261125_000008_mortar_auth_create_passkeys"
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreatePasskeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MortarPasskeys::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MortarPasskeys::IdHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(MortarPasskeys::Id).text().not_null())
                    .col(ColumnDef::new(MortarPasskeys::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(MortarPasskeys::Name)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MortarPasskeys::Passkey).text().not_null())
                    .col(
                        ColumnDef::new(MortarPasskeys::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MortarPasskeys::LastUsedAt)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("mortar_passkeys_user_idx")
                    .table(MortarPasskeys::Table)
                    .col(MortarPasskeys::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MortarPasskeys::Table).to_owned())
            .await
    }
}
