//! Groups of entities: the list and saving one, decided on the group (`group.edit`).

use tenure_domain::{
    Action, EntityId, EntityKind, Feature, Group, GroupId, Name, Resource, UserId,
};

use crate::audit::{AuditDetail, AuditName, GroupSave};
use crate::changes::Write;
use crate::corterum::{Corterum, GroupInput, covers_entity};
use crate::usecase::{FieldError, ManageError};

impl Corterum {
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
                self.target(
                    actor,
                    Feature::GroupAdministration,
                    Action::GroupEdit,
                    Resource::Group(g),
                )
                .await?
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
