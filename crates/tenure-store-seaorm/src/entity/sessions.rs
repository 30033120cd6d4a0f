//! The `sessions` table: signed-in sessions by token digest.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub digest: String,
    pub user_id: Uuid,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// `SessionStage::code`: 0 signed in, 1 awaiting a code, 2 must set one up.
    pub stage: i16,
    /// When its holder last proved who they are; `NULL` for sessions from before second
    /// factors, which proved it when they started.
    pub proved_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
