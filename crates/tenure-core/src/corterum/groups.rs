//! Groups of entities: the lists (every group, and a searched page with the members each
//! actor sees counted) and saving one, decided on the group (`group.edit`).

use tenure_domain::{
    Action, EntityId, EntityKind, EntityScope, Feature, Group, GroupId, Name, Request, Resource,
    UserId,
};

use crate::audit::{AuditDetail, AuditName, GroupSave};
use crate::changes::Write;
use crate::corterum::{Corterum, EntityQuery, GroupInput, Listed, covers_entity};
use crate::ports::Page;
use crate::query::Search;
use crate::usecase::{FieldError, ManageError};

/// What a group list is narrowed to.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct GroupQuery {
    /// Part of the name, any case.
    pub search: Option<Search>,
    /// Groups of one type of entity only.
    pub kind: Option<EntityKind>,
}

impl GroupQuery {
    /// Whether a group passes the query (the reference for stores).
    pub fn matches(&self, g: &Group) -> bool {
        self.search.as_ref().is_none_or(|s| s.found_in(g.name.as_str()))
            && self.kind.is_none_or(|k| k == g.kind)
    }

    /// The list order: lower-cased name, then id.
    pub fn sort_key(g: &Group) -> (String, GroupId) {
        (g.name.as_str().to_lowercase(), g.id)
    }
}

impl Corterum {
    /// One page of the groups for `group_administration`, searched and filtered by the
    /// store ("All People" first on the first page, when it matches), each with how many
    /// of its members are entities of the actor's companies (every member for the root
    /// administrator): a group is account-wide, its members are not.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature.
    pub async fn group_list(
        &self,
        actor: UserId,
        query: &GroupQuery,
        page: Page,
    ) -> Result<Listed<(Group, u64)>, ManageError> {
        let world = self.feature(actor, Feature::GroupAdministration).await?;
        let companies = world.company_scope(actor, Feature::GroupAdministration);
        let visible = |groups: Vec<GroupId>| EntityScope {
            everything: companies.everything,
            companies: if companies.everything {
                Vec::new()
            } else {
                companies.organisations.clone()
            },
            company_wide: groups.is_empty(),
            groups,
            ..EntityScope::nothing(actor)
        };
        let all_people = Group::all_people();
        let first = usize::from(query.matches(&all_people));
        // "All People" takes the first place of the first page.
        let stored_page = Page {
            offset: page.offset.saturating_sub(first),
            limit: if page.offset == 0 { page.limit.saturating_sub(first) } else { page.limit },
        };
        let listed = if stored_page.limit == 0 {
            let one = Page { offset: 0, limit: 1 };
            Listed {
                items: Vec::new(),
                total: self.ports.store.group_list(query, one).await?.total,
            }
        } else {
            self.ports.store.group_list(query, stored_page).await?
        };
        let mut items = Vec::new();
        if first == 1 && page.offset == 0 {
            let people = EntityQuery { search: None, kind: Some(EntityKind::Person) };
            let count = self.ports.store.entity_count(&visible(Vec::new()), &people).await?;
            items.push((all_people, count));
        }
        for g in listed.items {
            let count = if companies.everything {
                g.members.len() as u64
            } else {
                let scope = visible(vec![g.id]);
                self.ports.store.entity_count(&scope, &EntityQuery::default()).await?
            };
            items.push((g, count));
        }
        Ok(Listed { items, total: listed.total + first as u64 })
    }

    /// Every group ("All People" first), for `group_administration`.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature.
    pub async fn groups(&self, actor: UserId) -> Result<Vec<Group>, ManageError> {
        self.feature(actor, Feature::GroupAdministration).await?;
        self.all_groups().await
    }

    pub(super) async fn all_groups(&self) -> Result<Vec<Group>, ManageError> {
        let mut groups = vec![Group::all_people()];
        let mut stored = self.ports.store.groups().await?;
        stored.sort_by_key(|g| g.name.as_str().to_lowercase());
        groups.extend(stored);
        Ok(groups)
    }

    /// Creates or changes a group (`group_administration`; `group.edit` on the group
    /// changed). Its members must be of its type, and within the actor's companies.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a blank name, no type, members of another type or
    /// out of reach; [`ManageError::Forbidden`] for "All People", which is built in.
    pub async fn save_group(
        &self,
        actor: UserId,
        id: Option<GroupId>,
        input: &GroupInput,
    ) -> Result<GroupId, ManageError> {
        let world = match id {
            Some(g) => {
                // The engine lets only an actor whose companies cover every member of the
                // group change it: the snapshot notes the members' companies (a member no
                // longer stored notes none).
                let target = Resource::Group(g);
                let mut world = self.world(actor, target).await?;
                let mut companies = Vec::new();
                if let Some(group) =
                    self.ports.store.groups().await?.into_iter().find(|x| x.id == g)
                {
                    for m in &group.members {
                        if let Some(e) = self.ports.store.entity(*m).await? {
                            companies.extend_from_slice(&e.companies);
                        }
                    }
                }
                world.note_dependant_companies(target, companies);
                let feature = Resource::Feature(Feature::GroupAdministration);
                self.base.require(&world, Request::new(actor, Action::FeatureUse, feature)).await?;
                self.base.require(&world, Request::new(actor, Action::GroupEdit, target)).await?;
                world
            }
            None => self.feature(actor, Feature::GroupAdministration).await?,
        };
        let mut errors = Vec::new();
        let name = Name::parse(&input.name)
            .map_err(|e| errors.push(FieldError { field: "name", message: e.to_string() }))
            .ok();
        let kind = input.kind.or_else(|| {
            errors.push(FieldError {
                field: "type",
                message: "choose the type of the group's entities".to_owned(),
            });
            None
        });
        let existing = match id {
            Some(g) => Some(
                self.ports
                    .store
                    .groups()
                    .await?
                    .into_iter()
                    .find(|x| x.id == g)
                    .ok_or(ManageError::NotFound)?,
            ),
            None => None,
        };
        let mine = world.company_scope(actor, Feature::GroupAdministration);
        for m in &input.members {
            // Reach first: an entity outside the actor's companies gets the same answer
            // as one that does not exist, never its name or type.
            match self.ports.store.entity(*m).await? {
                Some(e) if covers_entity(&mine, &e) => {
                    if kind.is_some_and(|k| k != e.kind) {
                        errors.push(FieldError {
                            field: "members",
                            message: format!(
                                "{} is a {}, but the group holds {} entities only",
                                e.name,
                                e.kind,
                                kind.map_or("", EntityKind::as_str)
                            ),
                        });
                    }
                }
                _ => errors.push(FieldError {
                    field: "members",
                    message: "choose members from your companies' entities".to_owned(),
                }),
            }
        }
        if input.description.chars().count() > 2_000 {
            errors.push(FieldError {
                field: "description",
                message: "the description must be 2,000 characters or fewer".to_owned(),
            });
        }
        let (Some(name), Some(kind), true) = (name, kind, errors.is_empty()) else {
            return Err(ManageError::Invalid(errors));
        };
        let gid = id.unwrap_or_else(|| GroupId::from_uuid(self.ports.ids.next_id()));
        // Members the actor cannot see stay.
        let mut members: Vec<EntityId> = Vec::new();
        if let Some(old) = &existing {
            for m in &old.members {
                if let Some(e) = self.ports.store.entity(*m).await? {
                    if !covers_entity(&mine, &e) {
                        members.push(*m);
                    }
                }
            }
        }
        members.extend_from_slice(&input.members);
        members.sort_unstable();
        members.dedup();
        let group = Group {
            id: gid,
            name,
            description: input.description.trim().to_owned(),
            kind,
            members,
        };
        let audit = self.event(
            AuditName::GroupSave,
            actor,
            None,
            AuditDetail::GroupSave(GroupSave {
                group: gid.to_string(),
                name: group.name.to_string(),
                members: group.members.len(),
            }),
        );
        self.ports.changes.apply(vec![Write::UpsertGroup(group)], vec![audit]).await?;
        Ok(gid)
    }
}
