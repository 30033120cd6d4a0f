//! The `relationship_requests` table: pending requests for a relationship, with the end
//! that asked.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "relationship_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub stock_owner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub managing_agent_id: Uuid,
    pub requested_by_id: Uuid,
    pub requested_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
