//! [`SeaOrmIdentityStore`] and [`SeaOrmSsoDirectory`]: linked identities and tenants' SSO
//! connections in the application's SQL database.

use std::time::SystemTime;

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue, ColumnTrait as _, DatabaseConnection, EntityTrait as _, IntoActiveModel as _,
    QueryFilter as _, QueryOrder as _, TransactionTrait as _,
};
use secrecy::ExposeSecret as _;

use super::entity::{identity, sso_connection, sso_domain};
use super::{from_millis, map_err, to_millis};
use crate::error::Error;
use crate::oauth::{Identity, IdentityStore, SsoConnection, SsoDirectory};
use crate::seal::Sealer;
use crate::user::UserId;

/// Linked identities in `mortar_identities` (SQLite, PostgreSQL or MariaDB); the primary key
/// `(provider, subject)` makes a pair linkable once, under any concurrency.
#[derive(Clone, Debug)]
pub struct SeaOrmIdentityStore {
    db: DatabaseConnection,
}

impl SeaOrmIdentityStore {
    /// A store on this connection (pool). Run [`super::migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_identity(row: identity::Model) -> Identity {
    let mut identity = Identity::new(
        &crate::oauth::FederatedIdentity::new(row.provider, row.subject),
        UserId::from(row.user_id),
        from_millis(row.linked_at),
    );
    identity.email = row.email;
    identity.last_used_at = row.last_used_at.map(from_millis);
    identity
}

#[async_trait]
impl IdentityStore for SeaOrmIdentityStore {
    async fn find(&self, provider: &str, subject: &str) -> Result<Option<Identity>, Error> {
        Ok(
            identity::Entity::find_by_id((provider.to_owned(), subject.to_owned()))
                .one(&self.db)
                .await
                .map_err(Error::store)?
                .map(to_identity),
        )
    }

    async fn insert(&self, identity: Identity) -> Result<(), Error> {
        let model = identity::Model {
            provider: identity.provider,
            subject: identity.subject,
            user_id: identity.user_id.as_uuid(),
            email: identity.email,
            linked_at: to_millis(identity.linked_at),
            last_used_at: identity.last_used_at.map(to_millis),
        };
        identity::Entity::insert(model.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| match map_err(e, &["identity"]) {
                Error::Conflict(_) => Error::Conflict("identity"),
                other => other,
            })?;
        Ok(())
    }

    async fn for_user(&self, user_id: UserId) -> Result<Vec<Identity>, Error> {
        Ok(identity::Entity::find()
            .filter(identity::Column::UserId.eq(user_id.as_uuid()))
            .order_by_asc(identity::Column::LinkedAt)
            .order_by_asc(identity::Column::Provider)
            .order_by_asc(identity::Column::Subject)
            .all(&self.db)
            .await
            .map_err(Error::store)?
            .into_iter()
            .map(to_identity)
            .collect())
    }

    async fn remove(&self, user_id: UserId, provider: &str, subject: &str) -> Result<bool, Error> {
        let deleted = identity::Entity::delete_many()
            .filter(identity::Column::Provider.eq(provider))
            .filter(identity::Column::Subject.eq(subject))
            .filter(identity::Column::UserId.eq(user_id.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(deleted.rows_affected > 0)
    }

    async fn touch(&self, provider: &str, subject: &str, at: SystemTime) -> Result<(), Error> {
        identity::Entity::update_many()
            .col_expr(
                identity::Column::LastUsedAt,
                Expr::value(Some(to_millis(at))),
            )
            .filter(identity::Column::Provider.eq(provider))
            .filter(identity::Column::Subject.eq(subject))
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(())
    }
}

/// Tenants' SSO connections in `mortar_sso_connections` and `mortar_sso_domains` (SQLite,
/// PostgreSQL or MariaDB). Client secrets are sealed with the [`Sealer`], bound to the tenant.
/// A `put` is one transaction, and the domain is the second table's primary key, so of two
/// tenants claiming a domain at once exactly one gets it.
#[derive(Clone, Debug)]
pub struct SeaOrmSsoDirectory {
    db: DatabaseConnection,
    sealer: Sealer,
}

impl SeaOrmSsoDirectory {
    /// A directory on this connection (pool), sealing client secrets with `sealer`. Run
    /// [`super::migrations`] first.
    pub fn new(db: DatabaseConnection, sealer: Sealer) -> Self {
        Self { db, sealer }
    }

    fn context(tenant: &str) -> Vec<u8> {
        format!("mortar-auth/sso-client-secret/{tenant}").into_bytes()
    }

    async fn load(
        &self,
        row: Option<sso_connection::Model>,
    ) -> Result<Option<SsoConnection>, Error> {
        let Some(row) = row else { return Ok(None) };
        let domains: Vec<String> = sso_domain::Entity::find()
            .filter(sso_domain::Column::Tenant.eq(row.tenant.as_str()))
            .order_by_asc(sso_domain::Column::Domain)
            .all(&self.db)
            .await
            .map_err(Error::store)?
            .into_iter()
            .map(|d| d.domain)
            .collect();
        let mut connection = SsoConnection::new(&row.tenant, &row.issuer, &row.client_id, &domains)
            .map_err(|e| Error::Store(format!("SSO connection {:?}: {e}", row.tenant).into()))?;
        if let Some(sealed) = &row.sealed_client_secret {
            let secret = self.sealer.open(sealed, &Self::context(&row.tenant))?;
            let secret = String::from_utf8(secret.expose_secret().to_vec())
                .map_err(|_| Error::Store("a sealed client secret is not UTF-8".into()))?;
            connection = connection.client_secret(secret);
        }
        Ok(Some(connection))
    }
}

#[async_trait]
impl SsoDirectory for SeaOrmSsoDirectory {
    async fn by_tenant(&self, tenant: &str) -> Result<Option<SsoConnection>, Error> {
        let row = sso_connection::Entity::find_by_id(tenant.to_owned())
            .one(&self.db)
            .await
            .map_err(Error::store)?;
        self.load(row).await
    }

    async fn by_domain(&self, domain: &str) -> Result<Option<SsoConnection>, Error> {
        let Some(held) = sso_domain::Entity::find_by_id(domain.to_ascii_lowercase())
            .one(&self.db)
            .await
            .map_err(Error::store)?
        else {
            return Ok(None);
        };
        self.by_tenant(&held.tenant).await
    }

    async fn put(&self, connection: SsoConnection) -> Result<(), Error> {
        let sealed = connection
            .client_secret
            .as_ref()
            .map(|s| {
                self.sealer.seal(
                    s.expose_secret().as_bytes(),
                    &Self::context(&connection.tenant),
                )
            })
            .transpose()?;
        let tx = self.db.begin().await.map_err(Error::store)?;
        // Write first: on SQLite a transaction that reads before writing cannot upgrade its lock
        // while another connection writes (SQLITE_BUSY without waiting); a first write waits.
        sso_connection::Entity::delete_by_id(connection.tenant.clone())
            .exec(&tx)
            .await
            .map_err(Error::store)?;
        let taken = sso_domain::Entity::find()
            .filter(sso_domain::Column::Domain.is_in(connection.domains.iter().cloned()))
            .filter(sso_domain::Column::Tenant.ne(connection.tenant.as_str()))
            .one(&tx)
            .await
            .map_err(Error::store)?;
        if taken.is_some() {
            // Dropping the transaction rolls the delete back.
            return Err(Error::Conflict("domain"));
        }
        let model = sso_connection::ActiveModel {
            tenant: ActiveValue::Set(connection.tenant.clone()),
            issuer: ActiveValue::Set(connection.issuer.clone()),
            client_id: ActiveValue::Set(connection.client_id.clone()),
            sealed_client_secret: ActiveValue::Set(sealed),
            updated_at: ActiveValue::Set(to_millis(SystemTime::now())),
        };
        sso_connection::Entity::insert(model)
            .exec_without_returning(&tx)
            .await
            .map_err(|e| map_err(e, &["tenant"]))?;
        sso_domain::Entity::delete_many()
            .filter(sso_domain::Column::Tenant.eq(connection.tenant.as_str()))
            .exec(&tx)
            .await
            .map_err(Error::store)?;
        sso_domain::Entity::insert_many(connection.domains.iter().map(|domain| {
            sso_domain::ActiveModel {
                domain: ActiveValue::Set(domain.clone()),
                tenant: ActiveValue::Set(connection.tenant.clone()),
            }
        }))
        .exec_without_returning(&tx)
        .await
        // Another tenant claimed a domain since the check.
        .map_err(|e| match map_err(e, &["domain"]) {
            Error::Conflict(_) => Error::Conflict("domain"),
            other => other,
        })?;
        tx.commit().await.map_err(Error::store)
    }

    async fn remove(&self, tenant: &str) -> Result<bool, Error> {
        let tx = self.db.begin().await.map_err(Error::store)?;
        sso_domain::Entity::delete_many()
            .filter(sso_domain::Column::Tenant.eq(tenant))
            .exec(&tx)
            .await
            .map_err(Error::store)?;
        let deleted = sso_connection::Entity::delete_by_id(tenant.to_owned())
            .exec(&tx)
            .await
            .map_err(Error::store)?;
        tx.commit().await.map_err(Error::store)?;
        Ok(deleted.rows_affected > 0)
    }

    async fn list(&self) -> Result<Vec<SsoConnection>, Error> {
        let rows = sso_connection::Entity::find()
            .order_by_asc(sso_connection::Column::Tenant)
            .all(&self.db)
            .await
            .map_err(Error::store)?;
        let mut connections = Vec::with_capacity(rows.len());
        for row in rows {
            connections.extend(self.load(Some(row)).await?);
        }
        Ok(connections)
    }
}
