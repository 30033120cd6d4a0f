//! The `links` table: digests of invitation, reactivation and email confirmation links.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub digest: String,
    pub purpose: String,
    pub user_id: Uuid,
    pub organisation_id: Uuid,
    pub role_id: Option<Uuid>,
    pub email: String,
    pub issued_by: Option<Uuid>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub state: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
