//! Roles built from the role form: the list and saving one, decided on the role
//! (`role.edit`).

use tenure_domain::role::builtin;
use tenure_domain::{
    Action, DatasetId, Feature, GroupId, OrgId, OrganisationKind, Request, Resource, Role,
    RoleForm, RoleId, Scope, UserId,
};

use crate::audit::{AuditDetail, AuditName, RoleSave};
use crate::changes::Write;
use crate::corterum::{Corterum, Listed, invalid};
use crate::ports::Page;
use crate::query::Search;
use crate::usecase::{FieldError, ManageError};

impl Corterum {
    /// Every role: the out-of-the-box ones, then those customers built.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without `roles_administration` or
    /// `user_administration`.
    pub async fn roles(&self, actor: UserId) -> Result<Vec<Role>, ManageError> {
        let world = self.world(actor, Resource::Feature(Feature::RolesAdministration)).await?;
        let may = |f| {
            world
                .decide(&Request::new(actor, Action::FeatureUse, Resource::Feature(f)))
                .is_allowed()
        };
        if !may(Feature::RolesAdministration) && !may(Feature::UserAdministration) {
            return Err(ManageError::NotFound);
        }
        let mut roles = builtin::assignable_corterum_roles();
        let mut custom = self.ports.store.custom_roles().await?;
        custom.sort_by_key(|r| r.name.to_lowercase());
        roles.extend(custom);
        Ok(roles)
    }

    /// One page of the roles whose name contains `search`: the out-of-the-box ones first
    /// (four, filtered here), then those customers built, paged by the store, with how
    /// many match in all. For `roles_administration` or `user_administration`, as
    /// [`Corterum::roles`].
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without either feature.
    pub async fn role_list(
        &self,
        actor: UserId,
        search: Option<&Search>,
        page: Page,
    ) -> Result<Listed<Role>, ManageError> {
        let world = self.world(actor, Resource::Feature(Feature::RolesAdministration)).await?;
        let may = |f| {
            world
                .decide(&Request::new(actor, Action::FeatureUse, Resource::Feature(f)))
                .is_allowed()
        };
        if !may(Feature::RolesAdministration) && !may(Feature::UserAdministration) {
            return Err(ManageError::NotFound);
        }
        let builtin: Vec<Role> = builtin::assignable_corterum_roles()
            .into_iter()
            .filter(|r| search.is_none_or(|s| s.found_in(&r.name)))
            .collect();
        let before = builtin.len();
        let mut items: Vec<Role> = builtin.into_iter().skip(page.offset).take(page.limit).collect();
        let stored =
            Page { offset: page.offset.saturating_sub(before), limit: page.limit - items.len() };
        let custom = self
            .ports
            .store
            .custom_role_list(search, Page { limit: stored.limit.max(1), ..stored })
            .await?;
        if stored.limit > 0 {
            items.extend(custom.items);
        }
        Ok(Listed { items, total: before as u64 + custom.total })
    }

    /// Creates (`id` none) or changes a role from its form (`roles_administration`;
    /// `role.edit` on the role changed). Built-in roles, and roles the actor holds, cannot
    /// be changed.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a blank name or description, unknown groups or
    /// datasets, or a name another role has; [`ManageError::Forbidden`] for built-ins and
    /// the actor's own roles.
    pub async fn save_role(
        &self,
        actor: UserId,
        id: Option<RoleId>,
        form: RoleForm,
    ) -> Result<RoleId, ManageError> {
        match id {
            Some(r) => {
                // The engine lets only an actor whose companies cover every holder of the
                // role change it: the snapshot notes the holders' companies.
                let target = Resource::Role(r);
                let mut world = self.world(actor, target).await?;
                let holders = self.holder_companies(r).await?;
                world.note_dependant_companies(target, holders);
                let feature = Resource::Feature(Feature::RolesAdministration);
                self.base.require(&world, Request::new(actor, Action::FeatureUse, feature)).await?;
                self.base.require(&world, Request::new(actor, Action::RoleEdit, target)).await?;
            }
            None => {
                self.feature(actor, Feature::RolesAdministration).await?;
            }
        }
        let custom = self.ports.store.custom_roles().await?;
        let existing = match id {
            Some(r) => {
                Some(custom.iter().find(|x| x.id == r).ok_or(ManageError::NotFound)?.clone())
            }
            None => None,
        };
        let mut errors = Vec::new();
        let groups: Vec<GroupId> = self.all_groups().await?.into_iter().map(|g| g.id).collect();
        if form.groups.iter().any(|g| !groups.contains(g)) {
            errors.push(FieldError {
                field: "groups",
                message: "choose groups from the list".to_owned(),
            });
        }
        let datasets: Vec<DatasetId> =
            self.ports.store.datasets().await?.into_iter().map(|d| d.id).collect();
        if form.datasets.keys().any(|d| !datasets.contains(d)) {
            errors.push(FieldError {
                field: "datasets",
                message: "choose datasets from the catalogue".to_owned(),
            });
        }
        let name = form.name.trim().to_lowercase();
        let taken = builtin::corterum_roles()
            .iter()
            .chain(custom.iter())
            .any(|r| r.name.to_lowercase() == name && Some(r.id) != id);
        if taken && !name.is_empty() {
            errors.push(FieldError {
                field: "name",
                message: "another role has this name; choose another".to_owned(),
            });
        }
        if !errors.is_empty() {
            return Err(ManageError::Invalid(errors));
        }
        let rid = id.unwrap_or_else(|| RoleId::from_uuid(self.ports.ids.next_id()));
        let key = existing.map_or_else(|| slug(&form.name, rid), |r| r.key);
        let role = form.into_role(rid, key).map_err(|e| {
            let field = if matches!(e, tenure_domain::RoleFormError::DescriptionMissing) {
                "description"
            } else {
                "name"
            };
            invalid(field, e.to_string())
        })?;
        let audit = self.event(
            AuditName::RoleSave,
            actor,
            None,
            AuditDetail::RoleSave(RoleSave {
                role: rid.to_string(),
                name: role.name.to_string(),
                grants: role.grants.len(),
            }),
        );
        self.ports.changes.apply(vec![Write::UpsertRole(role)], vec![audit]).await?;
        Ok(rid)
    }
}

impl Corterum {
    /// The companies of every user holding a role (their linked companies, or their
    /// organisation without any), read page by page.
    async fn holder_companies(&self, role: RoleId) -> Result<Vec<OrgId>, ManageError> {
        let everyone = Scope {
            everything: true,
            kind: OrganisationKind::Company,
            ..Scope::nothing(UserId::from_uuid(uuid::Uuid::nil()))
        };
        let mut companies = Vec::new();
        let mut offset = 0;
        loop {
            let page = Page { offset, limit: Page::MAX_LIMIT };
            let users = self.ports.store.accounts(&everyone, page).await?;
            let len = users.len();
            for (_, user) in users.into_iter().filter(|(_, u)| u.roles.contains(&role)) {
                match self.ports.store.user_links(user.id).await? {
                    Some((_, links)) if !links.companies.is_empty() => {
                        companies.extend_from_slice(&links.companies);
                    }
                    _ => companies.push(user.organisation),
                }
            }
            if len < Page::MAX_LIMIT {
                break;
            }
            offset += len;
        }
        companies.sort_unstable();
        companies.dedup();
        Ok(companies)
    }
}

/// A role key from its name: `Line manager` -> `line-manager-1a2b3c4d`.
fn slug(name: &str, id: RoleId) -> String {
    let mut s: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    let tail = id.as_uuid().simple().to_string();
    format!("{}-{}", &s[..s.len().min(40)], &tail[tail.len() - 8..])
}
