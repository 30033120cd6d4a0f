//! The `datasets` table: the dataset catalogue (forms, and tables embedded in them).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "datasets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique.
    pub key: String,
    pub name: String,
    /// `form` or `table`.
    pub kind: String,
    pub embedded_in: Option<Uuid>,
    /// The fields as a JSON array of `[key, label]` pairs.
    #[sea_orm(column_type = "Text")]
    pub fields: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
