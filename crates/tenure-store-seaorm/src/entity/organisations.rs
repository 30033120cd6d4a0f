//! The `organisations` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// The name lower-cased, for sorting and search (byte order on both backends).
    pub sort_name: String,
    pub address: Option<String>,
    pub telephone: Option<String>,
    pub provider_type: String,
    pub registration_number: Option<String>,
    pub holds_stock: bool,
    /// `housing` or `company` (`OrganisationKind::as_str`); never changes.
    pub kind: String,
    pub active: bool,
    /// Bumped by every change, for optimistic locking.
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
