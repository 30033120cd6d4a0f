//! Tenure's ports and use-case services.
//!
//! Role in the workspace: the application core of the hexagon. Services here load what
//! the domain needs through ports, ask the domain, and hand results back; adapters
//! (storage, mail) implement the ports, and apps (web, CLI) wire them.
//!
//! Allowed dependencies: `tenure-domain`, `async-trait`, `thiserror`, `uuid`, `jiff` (dates
//! and time zones for people, with its time zone database compiled in: no files), `csv`
//! (the import reader, over any `Read` it is given).
//!
//! Forbidden knowledge: tokio or any runtime, sea-orm, axum, the real clock and random
//! numbers (those come through the [`Clock`] and [`IdGen`] ports).
#![warn(missing_docs)]

pub mod accounts;
pub mod audit;
pub mod authorizer;
pub mod batch;
pub mod changes;
pub mod corterum;
pub mod courier;
pub mod csv;
pub mod error;
pub mod health;
pub mod housekeeping;
pub mod limits;
pub mod manage;
pub mod moment;
pub mod notification;
pub mod ports;
pub mod query;
pub mod second_factor;
pub mod services;
pub mod sessions;
pub mod usecase;

pub use accounts::{
    AccountStore, Accounts, ChangePasswordError, FailureRecorded, LockoutPolicy, PasswordHolder,
    ResetError, ResetHolder, ResetPolicy, SignInError, SignInRecord,
};
pub use audit::{AuditDetail, AuditEvent, AuditName, Origin, Outcome};
pub use authorizer::{Authorizer, Checked};
pub use changes::{
    AuditQuery, ChangeError, ChangeStore, Credential, Link, LinkPurpose, LinkState,
    RelationshipRequest, Versioned, Write,
};
pub use corterum::{
    Account, AccountInput, AccountItem, AccountQuery, AsOf, Corterum, CorterumPorts, CorterumStore,
    EntityInput, EntityLinks, EntityQuery, GroupInput, GroupQuery, InstanceView, Listed,
};
pub use courier::{
    AfterFailure, Claimed, Courier, CourierPolicy, MailQueue, MailRecord, MailStatus, QueueCounts,
    QueuedMail, Round,
};
pub use error::BackendError;
pub use manage::{
    AccountStatus, Edited, EmailConfirmed, InvitationView, Invite, Manage, ManagePolicy,
    ManagePorts, MergePreview, OrganisationInput, PersonInput, TrailNames, UserChanges, UsersList,
    Viewed,
};
pub use notification::{ChangedBy, Notification, RelationshipChange, SecondFactorChange};
pub use ports::{
    Clock, Directory, IdGen, Mailer, NamedLog, NamedUser, Names, Page, PasswordHasher, Secrets,
    Timestamp, Token, Verified,
};
pub use query::{OrganisationQuery, Search, UserQuery, UserSort};
pub use second_factor::{
    CodeError, Enrolment, RecoveryCodes, SecondFactorPorts, SecondFactorStore, SecondFactors,
    SetupDone, SetupError, SetupStart, Status as SecondFactorStatus, Vault,
};
pub use services::{Policies, Ports, Services};
pub use sessions::{
    Live, RECENT_SIGN_IN_MS, SessionPolicy, SessionRecord, SessionStage, SessionStore, Sessions,
};
pub use usecase::{Denial, FieldError, ManageError, StateError};
