//! Corterum: entities and their companies and links, groups and their members, the
//! dataset catalogue, roles customers build (stored as their role form), users' usernames,
//! entities and companies, and instance versions (append-only: the primary key is the
//! version number, so two saves of the same next version cannot both land).

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

fn t(name: &str) -> Alias {
    Alias::new(name)
}

fn fk(name: &str, from: (&str, &str), to: (&str, &str)) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(t(from.0), t(from.1))
        .to(t(to.0), t(to.1))
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
#[allow(
    elided_lifetimes_in_paths,
    reason = "sea-orm-migration's trait signature elides the lifetime"
)]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(t("entities"))
                    .col(ColumnDef::new(t("id")).uuid().not_null().primary_key())
                    .col(ColumnDef::new(t("kind")).string().not_null())
                    .col(ColumnDef::new(t("name")).string().not_null())
                    .col(ColumnDef::new(t("sort_name")).string().not_null())
                    .col(ColumnDef::new(t("fields")).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("entities_by_sort_name")
                    .table(t("entities"))
                    .col(t("sort_name"))
                    .col(t("id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(t("entity_companies"))
                    .col(ColumnDef::new(t("entity_id")).uuid().not_null())
                    .col(ColumnDef::new(t("organisation_id")).uuid().not_null())
                    .primary_key(Index::create().col(t("entity_id")).col(t("organisation_id")))
                    .foreign_key(&mut fk(
                        "entity_companies_entity",
                        ("entity_companies", "entity_id"),
                        ("entities", "id"),
                    ))
                    .foreign_key(&mut fk(
                        "entity_companies_organisation",
                        ("entity_companies", "organisation_id"),
                        ("organisations", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("entity_companies_by_organisation")
                    .table(t("entity_companies"))
                    .col(t("organisation_id"))
                    .col(t("entity_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(t("entity_links"))
                    .col(ColumnDef::new(t("entity_id")).uuid().not_null())
                    .col(ColumnDef::new(t("kind")).string().not_null())
                    .col(ColumnDef::new(t("to_entity_id")).uuid().not_null())
                    .primary_key(
                        Index::create().col(t("entity_id")).col(t("kind")).col(t("to_entity_id")),
                    )
                    .foreign_key(&mut fk(
                        "entity_links_from",
                        ("entity_links", "entity_id"),
                        ("entities", "id"),
                    ))
                    .foreign_key(&mut fk(
                        "entity_links_to",
                        ("entity_links", "to_entity_id"),
                        ("entities", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(t("entity_groups"))
                    .col(ColumnDef::new(t("id")).uuid().not_null().primary_key())
                    .col(ColumnDef::new(t("name")).string().not_null())
                    .col(ColumnDef::new(t("description")).text().not_null())
                    .col(ColumnDef::new(t("kind")).string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(t("group_members"))
                    .col(ColumnDef::new(t("group_id")).uuid().not_null())
                    .col(ColumnDef::new(t("entity_id")).uuid().not_null())
                    .primary_key(Index::create().col(t("group_id")).col(t("entity_id")))
                    .foreign_key(&mut fk(
                        "group_members_group",
                        ("group_members", "group_id"),
                        ("entity_groups", "id"),
                    ))
                    .foreign_key(&mut fk(
                        "group_members_entity",
                        ("group_members", "entity_id"),
                        ("entities", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("group_members_by_entity")
                    .table(t("group_members"))
                    .col(t("entity_id"))
                    .col(t("group_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(t("datasets"))
                    .col(ColumnDef::new(t("id")).uuid().not_null().primary_key())
                    .col(ColumnDef::new(t("key")).string().not_null().unique_key())
                    .col(ColumnDef::new(t("name")).string().not_null())
                    .col(ColumnDef::new(t("kind")).string().not_null())
                    .col(ColumnDef::new(t("embedded_in")).uuid().null())
                    .col(ColumnDef::new(t("fields")).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(t("roles"))
                    .col(ColumnDef::new(t("id")).uuid().not_null().primary_key())
                    .col(ColumnDef::new(t("key")).string().not_null().unique_key())
                    .col(ColumnDef::new(t("name")).string().not_null())
                    .col(ColumnDef::new(t("description")).text().not_null())
                    .col(ColumnDef::new(t("definition")).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(t("user_links"))
                    .col(ColumnDef::new(t("user_id")).uuid().not_null().primary_key())
                    .col(ColumnDef::new(t("username")).string().not_null())
                    .col(ColumnDef::new(t("username_folded")).string().not_null().unique_key())
                    .col(ColumnDef::new(t("entity_id")).uuid().null())
                    .foreign_key(&mut fk(
                        "user_links_user",
                        ("user_links", "user_id"),
                        ("users", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(t("user_companies"))
                    .col(ColumnDef::new(t("user_id")).uuid().not_null())
                    .col(ColumnDef::new(t("organisation_id")).uuid().not_null())
                    .primary_key(Index::create().col(t("user_id")).col(t("organisation_id")))
                    .foreign_key(&mut fk(
                        "user_companies_user",
                        ("user_companies", "user_id"),
                        ("users", "id"),
                    ))
                    .foreign_key(&mut fk(
                        "user_companies_organisation",
                        ("user_companies", "organisation_id"),
                        ("organisations", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(t("instance_versions"))
                    .col(ColumnDef::new(t("dataset_id")).uuid().not_null())
                    .col(ColumnDef::new(t("entity_id")).uuid().not_null())
                    .col(ColumnDef::new(t("number")).integer().not_null())
                    .col(ColumnDef::new(t("at")).big_integer().not_null())
                    .col(ColumnDef::new(t("by_user")).uuid().null())
                    .col(ColumnDef::new(t("content")).text().not_null())
                    .primary_key(
                        Index::create().col(t("dataset_id")).col(t("entity_id")).col(t("number")),
                    )
                    .foreign_key(&mut fk(
                        "instance_versions_dataset",
                        ("instance_versions", "dataset_id"),
                        ("datasets", "id"),
                    ))
                    .foreign_key(&mut fk(
                        "instance_versions_entity",
                        ("instance_versions", "entity_id"),
                        ("entities", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
