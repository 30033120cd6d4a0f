//! The `audit_events` table: append-only (database triggers refuse updates and deletes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub at: i64,
    pub actor_id: Option<Uuid>,
    pub event: String,
    pub outcome: String,
    pub target_user_id: Option<Uuid>,
    pub organisation_id: Option<Uuid>,
    pub detail: String,
    /// The request's id (added by m0009; `NULL` outside a request and in older rows).
    pub request_id: Option<String>,
    /// The client's address, as text.
    pub client_ip: Option<String>,
    /// The client's user agent, as the web app kept it.
    pub user_agent: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
