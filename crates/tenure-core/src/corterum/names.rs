//! Names for Corterum's screens: the companies an administrator may link records to,
//! and the people who saved an instance's versions, read through the service so that
//! screens never reach a port.

use std::collections::BTreeMap;

use tenure_domain::{Action, Feature, Name, OrgId, Resource, UserId};

use crate::corterum::{Corterum, InstanceView};
use crate::ports::Page;
use crate::query::OrganisationQuery;
use crate::usecase::ManageError;

impl Corterum {
    /// The companies the actor may link records to with an administration feature (the
    /// engine's `company_scope`), with their names: for a scope of every company, every
    /// organisation the actor may view (one page of [`Page::MAX_LIMIT`], by name); else
    /// the scope's companies in its order, `None` for one no longer in the directory.
    ///
    /// # Errors
    /// [`ManageError::Backend`] when storage fails.
    pub async fn linkable_companies(
        &self,
        actor: UserId,
        feature: Feature,
    ) -> Result<Vec<(OrgId, Option<Name>)>, ManageError> {
        let world = self.world(actor, Resource::Service).await?;
        let companies = world.company_scope(actor, feature);
        if companies.everything {
            let scope = world.scope(actor, Action::OrganisationView);
            if scope.is_nothing() {
                return Ok(Vec::new());
            }
            let all = self
                .ports
                .directory
                .organisations(
                    &scope,
                    &OrganisationQuery::default(),
                    Page::numbered(1, Page::MAX_LIMIT),
                )
                .await?;
            return Ok(all.into_iter().map(|o| (o.id, Some(o.name))).collect());
        }
        let mine = companies.organisations;
        let mut names = self.ports.directory.names(&[], &mine).await?;
        Ok(mine.iter().map(|o| (*o, names.organisations.remove(o))).collect())
    }

    /// The names of the people who saved the versions of an instance the actor read
    /// through [`Corterum::instance`]; a deleted user is absent (screens call them "a
    /// deleted user").
    ///
    /// # Errors
    /// [`ManageError::Backend`] when storage fails.
    pub async fn authors(
        &self,
        view: &InstanceView,
    ) -> Result<BTreeMap<UserId, Name>, ManageError> {
        let mut people: Vec<UserId> = view.history.versions().iter().filter_map(|v| v.by).collect();
        people.sort_unstable();
        people.dedup();
        let names = self.ports.directory.names(&people, &[]).await?;
        Ok(names.users.into_iter().collect())
    }
}
