//! The `users` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub name: String,
    /// The name lower-cased, for sorting and search (byte order on both backends).
    pub sort_name: String,
    /// Normalised (trimmed, lower-cased); unique.
    pub email: String,
    pub telephone: Option<String>,
    pub data_protection_officer: bool,
    pub key_contact: bool,
    pub active: bool,
    /// Bumped by every change, for optimistic locking.
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
