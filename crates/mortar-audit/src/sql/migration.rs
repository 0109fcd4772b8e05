//! The schema, as sea-orm-migration migrations (portable across SQLite, PostgreSQL, MariaDB),
//! with the database triggers that make the trail append-only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveIden)]
enum MortarAuditEvents {
    Table,
    Id,
    Stream,
    Seq,
    Action,
    Outcome,
    ActorSubject,
    ActorKind,
    ActorSession,
    Tenant,
    TargetKind,
    TargetId,
    OccurredAt,
    Ip,
    UserAgent,
    RequestId,
    Metadata,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum MortarAuditHeads {
    Table,
    Stream,
    Seq,
    Hash,
}

#[derive(DeriveIden)]
enum MortarAuditAnchors {
    Table,
    Stream,
    Seq,
    PrevHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MortarAuditLastSeen {
    Table,
    Subject,
    Tenant,
    SeenAt,
}

/// The tables, their indexes and the append-only triggers.
pub(crate) struct CreateAudit;

// Named explicitly: `DeriveMigrationName` uses the file name, and the crate prefix keeps the
// name apart from the application's own migrations.
impl MigrationName for CreateAudit {
    fn name(&self) -> &'static str {
        "m20261124_000201_mortar_audit_create_tables"
    }
}

/// Identifiers compare byte for byte on every database: MariaDB's default collation is
/// case-insensitive, which would merge the streams (and query results) of tenants `Acme` and
/// `acme`. The `COLLATE` clause is MariaDB / MySQL syntax; the others compare bytes already.
fn id_col(name: impl IntoIden, backend: DbBackend) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.string_len(255).not_null();
    if backend == DbBackend::MySql {
        col.extra("COLLATE utf8mb4_bin");
    }
    col
}

fn opt_id_col(name: impl IntoIden, backend: DbBackend) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.string_len(255).null();
    if backend == DbBackend::MySql {
        col.extra("COLLATE utf8mb4_bin");
    }
    col
}

fn hash_col(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string_len(64).not_null().to_owned()
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[allow(
    clippy::too_many_lines,
    reason = "one table after another, read top to bottom"
)]
#[async_trait::async_trait]
impl MigrationTrait for CreateAudit {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use MortarAuditEvents as E;
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(E::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(id_col(E::Stream, backend))
                    .col(ColumnDef::new(E::Seq).big_integer().not_null())
                    .col(id_col(E::Action, backend))
                    .col(ColumnDef::new(E::Outcome).string_len(16).not_null())
                    .col(opt_id_col(E::ActorSubject, backend))
                    .col(ColumnDef::new(E::ActorKind).string_len(32).null())
                    .col(opt_id_col(E::ActorSession, backend))
                    .col(opt_id_col(E::Tenant, backend))
                    .col(opt_id_col(E::TargetKind, backend))
                    .col(opt_id_col(E::TargetId, backend))
                    .col(ColumnDef::new(E::OccurredAt).big_integer().not_null())
                    .col(ColumnDef::new(E::Ip).string_len(64).null())
                    .col(ColumnDef::new(E::UserAgent).text().null())
                    .col(opt_id_col(E::RequestId, backend))
                    .col(ColumnDef::new(E::Metadata).text().not_null())
                    .col(hash_col(E::PrevHash))
                    .col(hash_col(E::Hash))
                    .to_owned(),
            )
            .await?;
        // Every query is newest-first by id under one filter, so each index ends in `id`; each
        // index costs every insert, so there is none for time alone (time ranges come with a
        // tenant, actor or action filter in practice) and verification reads by (stream, seq).
        let indexes: [(&str, Vec<E>, bool); 5] = [
            (
                "mortar_audit_events_stream_seq",
                vec![E::Stream, E::Seq],
                true,
            ),
            (
                "mortar_audit_events_tenant_id",
                vec![E::Tenant, E::Id],
                false,
            ),
            (
                "mortar_audit_events_actor_id",
                vec![E::ActorSubject, E::Id],
                false,
            ),
            (
                "mortar_audit_events_action_id",
                vec![E::Action, E::Id],
                false,
            ),
            (
                "mortar_audit_events_target_id",
                vec![E::TargetKind, E::TargetId, E::Id],
                false,
            ),
        ];
        for (name, cols, unique) in indexes {
            let mut index = Index::create();
            index.name(name).table(E::Table).if_not_exists();
            for col in cols {
                index.col(col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.clone()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(MortarAuditHeads::Table)
                    .if_not_exists()
                    .col(id_col(MortarAuditHeads::Stream, backend).primary_key())
                    .col(
                        ColumnDef::new(MortarAuditHeads::Seq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(hash_col(MortarAuditHeads::Hash))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MortarAuditAnchors::Table)
                    .if_not_exists()
                    .col(id_col(MortarAuditAnchors::Stream, backend))
                    .col(
                        ColumnDef::new(MortarAuditAnchors::Seq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(hash_col(MortarAuditAnchors::PrevHash))
                    .col(
                        ColumnDef::new(MortarAuditAnchors::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(MortarAuditAnchors::Stream)
                            .col(MortarAuditAnchors::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MortarAuditLastSeen::Table)
                    .if_not_exists()
                    .col(id_col(MortarAuditLastSeen::Subject, backend).primary_key())
                    .col(opt_id_col(MortarAuditLastSeen::Tenant, backend))
                    .col(
                        ColumnDef::new(MortarAuditLastSeen::SeenAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in append_only_triggers(manager.get_database_backend()) {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MortarAuditLastSeen::Table.into_iden(),
            MortarAuditAnchors::Table.into_iden(),
            MortarAuditHeads::Table.into_iden(),
            MortarAuditEvents::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS mortar_audit_append_only()")
                .await?;
        }
        Ok(())
    }
}

/// The triggers that refuse UPDATE (and TRUNCATE where the database has triggers for it) on
/// events and anchors, and DELETE of events except those a retention anchor has already
/// cut off (`seq` below the stream's newest anchor). Removing records therefore needs an anchor
/// row first, and anchors are append-only too.
fn append_only_triggers(backend: DbBackend) -> Vec<&'static str> {
    match backend {
        DbBackend::Postgres => vec![
            r"CREATE OR REPLACE FUNCTION mortar_audit_append_only() RETURNS trigger
              LANGUAGE plpgsql AS $$
              BEGIN
                IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'mortar_audit_events' THEN
                  IF EXISTS (SELECT 1 FROM mortar_audit_anchors a
                             WHERE a.stream = OLD.stream AND a.seq > OLD.seq) THEN
                    RETURN OLD;
                  END IF;
                END IF;
                RAISE EXCEPTION 'mortar_audit: % on % refused: the audit trail is append-only',
                  TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
              END $$",
            "DROP TRIGGER IF EXISTS mortar_audit_events_append_only ON mortar_audit_events",
            "CREATE TRIGGER mortar_audit_events_append_only BEFORE UPDATE OR DELETE \
             ON mortar_audit_events FOR EACH ROW EXECUTE FUNCTION mortar_audit_append_only()",
            "DROP TRIGGER IF EXISTS mortar_audit_events_no_truncate ON mortar_audit_events",
            "CREATE TRIGGER mortar_audit_events_no_truncate BEFORE TRUNCATE \
             ON mortar_audit_events FOR EACH STATEMENT EXECUTE FUNCTION mortar_audit_append_only()",
            "DROP TRIGGER IF EXISTS mortar_audit_anchors_append_only ON mortar_audit_anchors",
            "CREATE TRIGGER mortar_audit_anchors_append_only BEFORE UPDATE OR DELETE \
             ON mortar_audit_anchors FOR EACH ROW EXECUTE FUNCTION mortar_audit_append_only()",
            "DROP TRIGGER IF EXISTS mortar_audit_anchors_no_truncate ON mortar_audit_anchors",
            "CREATE TRIGGER mortar_audit_anchors_no_truncate BEFORE TRUNCATE \
             ON mortar_audit_anchors FOR EACH STATEMENT EXECUTE FUNCTION mortar_audit_append_only()",
        ],
        DbBackend::MySql => vec![
            "DROP TRIGGER IF EXISTS mortar_audit_events_no_update",
            "CREATE TRIGGER mortar_audit_events_no_update BEFORE UPDATE ON mortar_audit_events \
             FOR EACH ROW SIGNAL SQLSTATE '45000' \
             SET MESSAGE_TEXT = 'mortar_audit: UPDATE refused: the audit trail is append-only'",
            "DROP TRIGGER IF EXISTS mortar_audit_events_no_delete",
            "CREATE TRIGGER mortar_audit_events_no_delete BEFORE DELETE ON mortar_audit_events \
             FOR EACH ROW BEGIN \
               IF NOT EXISTS (SELECT 1 FROM mortar_audit_anchors a \
                              WHERE a.stream = OLD.stream AND a.seq > OLD.seq) THEN \
                 SIGNAL SQLSTATE '45000' \
                 SET MESSAGE_TEXT = 'mortar_audit: DELETE refused: the audit trail is append-only'; \
               END IF; \
             END",
            "DROP TRIGGER IF EXISTS mortar_audit_anchors_no_update",
            "CREATE TRIGGER mortar_audit_anchors_no_update BEFORE UPDATE ON mortar_audit_anchors \
             FOR EACH ROW SIGNAL SQLSTATE '45000' \
             SET MESSAGE_TEXT = 'mortar_audit: UPDATE refused: the audit trail is append-only'",
            "DROP TRIGGER IF EXISTS mortar_audit_anchors_no_delete",
            "CREATE TRIGGER mortar_audit_anchors_no_delete BEFORE DELETE ON mortar_audit_anchors \
             FOR EACH ROW SIGNAL SQLSTATE '45000' \
             SET MESSAGE_TEXT = 'mortar_audit: DELETE refused: the audit trail is append-only'",
        ],
        DbBackend::Sqlite => vec![
            "CREATE TRIGGER IF NOT EXISTS mortar_audit_events_no_update BEFORE UPDATE \
             ON mortar_audit_events BEGIN \
             SELECT RAISE(ABORT, 'mortar_audit: UPDATE refused: the audit trail is append-only'); END",
            "CREATE TRIGGER IF NOT EXISTS mortar_audit_events_no_delete BEFORE DELETE \
             ON mortar_audit_events WHEN NOT EXISTS (SELECT 1 FROM mortar_audit_anchors a \
             WHERE a.stream = OLD.stream AND a.seq > OLD.seq) BEGIN \
             SELECT RAISE(ABORT, 'mortar_audit: DELETE refused: the audit trail is append-only'); END",
            "CREATE TRIGGER IF NOT EXISTS mortar_audit_anchors_no_update BEFORE UPDATE \
             ON mortar_audit_anchors BEGIN \
             SELECT RAISE(ABORT, 'mortar_audit: UPDATE refused: the audit trail is append-only'); END",
            "CREATE TRIGGER IF NOT EXISTS mortar_audit_anchors_no_delete BEFORE DELETE \
             ON mortar_audit_anchors BEGIN \
             SELECT RAISE(ABORT, 'mortar_audit: DELETE refused: the audit trail is append-only'); END",
        ],
        _ => Vec::new(),
    }
}
