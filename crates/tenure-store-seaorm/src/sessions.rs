//! The `SessionStore` port over SQL.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tenure_core::{AuditEvent, BackendError, SessionRecord, SessionStage, SessionStore, Timestamp};
use tenure_domain::{UserId, World};

use crate::SeaOrmStore;
use crate::accounts::audit_row;
use crate::entity::{audit_events, sessions};

#[async_trait]
impl SessionStore for SeaOrmStore {
    async fn create_session(
        &self,
        digest: &str,
        record: SessionRecord,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        let txn = self.write_transaction().await?;
        sessions::Entity::insert(sessions::ActiveModel {
            digest: Set(digest.to_owned()),
            user_id: Set(*record.user.as_uuid()),
            csrf: Set(record.csrf),
            created_at: Set(record.created.0),
            last_seen_at: Set(record.last_seen.0),
            stage: Set(record.stage.code()),
            proved_at: Set(Some(record.proved_at.0)),
        })
        .exec(&txn)
        .await
        .map_err(BackendError::new)?;
        audit_events::Entity::insert(audit_row(&audit))
            .exec(&txn)
            .await
            .map_err(BackendError::new)?;
        txn.commit().await.map_err(BackendError::new)
    }

    async fn session(&self, digest: &str) -> Result<Option<SessionRecord>, BackendError> {
        let row = sessions::Entity::find_by_id(digest.to_owned())
            .one(self.db())
            .await
            .map_err(BackendError::new)?;
        Ok(row.map(record))
    }

    async fn session_with_snapshot(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, World)>, BackendError> {
        self.session_snapshot(digest).await
    }

    async fn touch_session(&self, digest: &str, now: Timestamp) -> Result<(), BackendError> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::LastSeenAt, Expr::value(now.0))
            .filter(sessions::Column::Digest.eq(digest))
            .exec(self.db())
            .await
            .map_err(BackendError::new)?;
        Ok(())
    }

    async fn end_session(&self, digest: &str) -> Result<(), BackendError> {
        sessions::Entity::delete_by_id(digest.to_owned())
            .exec(self.db())
            .await
            .map_err(BackendError::new)?;
        Ok(())
    }

    async fn end_sessions(
        &self,
        user: UserId,
        except: Option<&str>,
        audit: AuditEvent,
    ) -> Result<u64, BackendError> {
        let txn = self.write_transaction().await?;
        let mut delete =
            sessions::Entity::delete_many().filter(sessions::Column::UserId.eq(*user.as_uuid()));
        if let Some(keep) = except {
            delete = delete.filter(sessions::Column::Digest.ne(keep));
        }
        let ended = delete.exec(&txn).await.map_err(BackendError::new)?.rows_affected;
        audit_events::Entity::insert(audit_row(&audit))
            .exec(&txn)
            .await
            .map_err(BackendError::new)?;
        txn.commit().await.map_err(BackendError::new)?;
        Ok(ended)
    }
}

/// A row as a session record.
pub(crate) fn record(r: sessions::Model) -> SessionRecord {
    SessionRecord {
        user: UserId::from_uuid(r.user_id),
        csrf: r.csrf,
        created: Timestamp(r.created_at),
        last_seen: Timestamp(r.last_seen_at),
        stage: SessionStage::from_code(r.stage),
        proved_at: Timestamp(r.proved_at.unwrap_or(r.created_at)),
    }
}
