//! Every service, built once from its ports: the one place an app (the web app, the
//! command line, a benchmark, a test) wires them, so no two apps wire them differently.

use std::sync::Arc;

use crate::accounts::{AccountStore, Accounts, LockoutPolicy, ResetPolicy};
use crate::authorizer::Authorizer;
use crate::changes::ChangeStore;
use crate::corterum::{Corterum, CorterumPorts, CorterumStore};
use crate::courier::{Courier, CourierPolicy, MailQueue};
use crate::limits::{LimitPolicy, LimitStore, Limits};
use crate::manage::{Manage, ManagePolicy, ManagePorts};
use crate::ports::{Clock, Directory, IdGen, Mailer, PasswordHasher, Secrets};
use crate::second_factor::{SecondFactorPorts, SecondFactorStore, SecondFactors, Vault};
use crate::sessions::{SessionPolicy, SessionStore, Sessions};
use crate::usecase::ManageError;

/// The ports the services stand on. The three that write audit entries (`changes`,
/// `accounts`, `sessions`) may be wrapped (the web app stamps each entry with its
/// request's origin); the others are read as they are.
#[derive(Clone)]
pub struct Ports {
    /// Snapshots for the engine, and the named list pages.
    pub directory: Arc<dyn Directory>,
    /// Writes, with their audit entries, in one transaction.
    pub changes: Arc<dyn ChangeStore>,
    /// Credentials, sign-in attempts and reset tokens.
    pub accounts: Arc<dyn AccountStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Rate limits shared by every instance.
    pub limits: Arc<dyn LimitStore>,
    /// Corterum's reads.
    pub corterum: Arc<dyn CorterumStore>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Tokens for links and sessions.
    pub secrets: Arc<dyn Secrets>,
    /// Mail: queued with each change, delivered by the courier through `mailer`.
    pub mail_queue: Arc<dyn MailQueue>,
    /// Sends mail (for the courier only: no service sends mail itself).
    pub mailer: Arc<dyn Mailer>,
    /// Authenticator-app secrets and recovery codes.
    pub second_factors: Arc<dyn SecondFactorStore>,
    /// Seals second-factor secrets under the configured key (never the database's).
    pub vault: Arc<dyn Vault>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Fresh ids.
    pub ids: Arc<dyn IdGen>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

/// The settings the services run under.
#[derive(Clone, Debug, Default)]
pub struct Policies {
    /// Invitations, links and credentials.
    pub manage: ManagePolicy,
    /// Sign-in lockout.
    pub lockout: LockoutPolicy,
    /// Password resets by email.
    pub resets: ResetPolicy,
    /// Session timeouts.
    pub sessions: SessionPolicy,
    /// Rate limits (sign-ins and resets per address, resets and invitations per account).
    pub limits: LimitPolicy,
    /// Mail delivery: batches, leases, retries.
    pub courier: CourierPolicy,
}

impl Policies {
    /// The defaults, with links in emails pointing at `base_url`.
    #[must_use]
    pub fn at(base_url: &str) -> Self {
        Self {
            manage: ManagePolicy { base_url: base_url.to_owned(), ..ManagePolicy::default() },
            resets: ResetPolicy { base_url: base_url.to_owned(), ..ResetPolicy::default() },
            ..Self::default()
        }
    }
}

/// Every service, sharing one set of ports.
#[derive(Clone)]
pub struct Services {
    /// Signing in, password changes and resets.
    pub accounts: Accounts,
    /// Invitations, users, organisations, relationships, the audit trail, page reads.
    pub manage: Manage,
    /// Corterum: entities, groups, roles, accounts, records.
    pub corterum: Corterum,
    /// Decisions and lists.
    pub authorizer: Authorizer,
    /// Sessions, and the anonymous CSRF cookie's tokens.
    pub sessions: Sessions,
    /// Rate limits shared by every instance (the web asks them per address).
    pub limits: Limits,
    /// Mail delivery from the queue (the app runs its loop), its counts and retries.
    pub courier: Courier,
    /// Second factors: set-up, the code step of signing in, recovery codes, removal.
    pub second_factors: SecondFactors,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

impl Services {
    /// Builds every service on `ports` under `policies`, and installs Corterum's dataset
    /// catalogue if the store lacks any of it.
    ///
    /// # Errors
    /// [`ManageError::Backend`] if the catalogue could not be read or written.
    pub async fn wire(ports: Ports, policies: Policies) -> Result<Self, ManageError> {
        let courier = Courier::new(
            ports.mail_queue,
            ports.mailer,
            ports.vault.clone(),
            ports.clock.clone(),
            policies.courier,
        );
        let limits = Limits::new(ports.limits, ports.clock.clone(), policies.limits);
        let manage = Manage::new(
            ManagePorts {
                directory: ports.directory.clone(),
                changes: ports.changes.clone(),
                hasher: ports.hasher.clone(),
                secrets: ports.secrets.clone(),
                courier: courier.clone(),
                clock: ports.clock.clone(),
                ids: ports.ids.clone(),
            },
            policies.manage,
        )
        .with_limits(limits.clone());
        let corterum = Corterum::new(CorterumPorts {
            directory: ports.directory.clone(),
            changes: ports.changes.clone(),
            store: ports.corterum,
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
        });
        corterum.install_catalogue().await?;
        let accounts = Accounts::new(
            ports.accounts.clone(),
            ports.hasher,
            ports.clock.clone(),
            ports.ids.clone(),
            policies.lockout,
        )
        .with_resets(ports.secrets.clone(), courier.clone(), policies.resets);
        let accounts = accounts.with_limits(limits.clone());
        let sessions = Sessions::new(
            ports.sessions,
            ports.secrets.clone(),
            ports.clock.clone(),
            ports.ids.clone(),
            policies.sessions,
        );
        let second_factors = SecondFactors::new(
            SecondFactorPorts {
                store: ports.second_factors,
                accounts: ports.accounts,
                directory: ports.directory.clone(),
                changes: ports.changes,
                vault: ports.vault,
                secrets: ports.secrets,
                courier: courier.clone(),
                clock: ports.clock,
                ids: ports.ids,
            },
            sessions.clone(),
            policies.lockout,
        )
        .with_limits(limits.clone());
        Ok(Self {
            accounts,
            manage,
            corterum,
            authorizer: Authorizer::new(ports.directory),
            limits,
            sessions,
            courier,
            second_factors,
        })
    }
}
