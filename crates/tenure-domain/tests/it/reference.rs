//! A naive reference evaluator, written straight from the CORE rules in
//! `shared/docs/product.md`, independently of the engine's grant model: no grants, no
//! reach, just the sentences of the product page as code over a [`Spec`].

use tenure_domain::{Action, Request, Resource};

use crate::spec::{CoreRole, Spec, log_id, org_id, user_id};

/// What the product says the answer is: `(allowed, answer "not found")`.
pub(crate) fn decide(spec: &Spec, request: &Request) -> (bool, bool) {
    let Some(actor) = (0..spec.users.len()).find(|i| user_id(*i) == request.actor) else {
        return (false, true);
    };
    let me = &spec.users[actor];
    // A deactivated user, or a user of a deactivated organisation, is denied everything.
    if !me.active || !spec.orgs[me.org].active {
        return (false, true);
    }
    let home = me.org;
    let agents_of = |o: usize| spec.edges.iter().filter(move |(p, _)| *p == o).map(|(_, c)| *c);
    let owners_of = |o: usize| spec.edges.iter().filter(move |(_, c)| *c == o).map(|(p, _)| *p);
    let own_or_agent = |o: usize| o == home || agents_of(home).any(|c| c == o);
    let related = |o: usize| own_or_agent(o) || owners_of(home).any(|p| p == o);
    let role = me.role;
    let admin = role == CoreRole::Administrator;
    let coordinator = role == CoreRole::Coordinator;
    let provider = role == CoreRole::Provider;
    let active_coordinators = |o: usize| {
        spec.users
            .iter()
            .filter(|u| u.org == o && u.active && u.role == CoreRole::Coordinator)
            .count()
    };

    match request.resource {
        Resource::User(id) => {
            let t = (0..spec.users.len()).find(|i| user_id(*i) == id).unwrap();
            let target = &spec.users[t];
            // Coordinators see their organisation's users and their managing agents';
            // providers their own organisation's; administrators everyone.
            let visible = admin
                || (coordinator && own_or_agent(target.org))
                || (provider && target.org == home);
            let myself = t == actor;
            let given = request.role.map(CoreRole::from_id);
            let allowed = match request.action {
                Action::UserView => visible,
                Action::UserChangePassword => myself && role != CoreRole::None,
                Action::UserEditDetails => {
                    (admin || (coordinator && own_or_agent(target.org)) || (provider && myself))
                        && (myself || target.role.rank() <= role.rank())
                }
                // The email address is a credential: one's own, or by someone who
                // strictly outranks the user.
                Action::UserChangeEmail => {
                    (admin || (coordinator && own_or_agent(target.org)) || (provider && myself))
                        && (myself || target.role.rank() < role.rank())
                }
                Action::UserSetFlags
                | Action::UserDeactivate
                | Action::UserReactivate
                | Action::UserDelete => {
                    (admin || (coordinator && own_or_agent(target.org)))
                        && (myself || target.role.rank() <= role.rank())
                        && !(myself
                            && matches!(
                                request.action,
                                Action::UserDeactivate | Action::UserDelete
                            ))
                        && match request.action {
                            Action::UserDeactivate => {
                                target.active
                                    && spec.orgs[target.org].active
                                    && !(target.role == CoreRole::Coordinator
                                        && active_coordinators(target.org) <= 1)
                            }
                            Action::UserReactivate => {
                                !target.active
                                    && spec.orgs[target.org].active
                                    && target.role != CoreRole::None
                            }
                            Action::UserDelete => !target.active,
                            _ => true,
                        }
                }
                Action::UserChangeRole => {
                    let Some(given) = given else { return (false, !visible) };
                    (admin
                        || (coordinator
                            && own_or_agent(target.org)
                            && given != CoreRole::Administrator))
                        && !myself
                        && target.active
                        && spec.orgs[target.org].active
                        && target.role.rank() <= role.rank()
                        && given.rank() <= role.rank()
                        && !(target.role == CoreRole::Coordinator
                            && target.active
                            && given != CoreRole::Coordinator
                            && active_coordinators(target.org) <= 1)
                }
                Action::UserMoveOrganisation => {
                    admin
                        && (myself || target.role.rank() <= role.rank())
                        && !(target.role == CoreRole::Coordinator
                            && target.active
                            && active_coordinators(target.org) <= 1)
                }
                // A lost device: an administrator removes anyone's second factor but
                // that of someone who outranks them; anyone with a role removes their
                // own, unless their role requires one (administrators' does).
                Action::UserRemoveSecondFactor => {
                    if myself {
                        role != CoreRole::None && !admin
                    } else {
                        admin && target.role.rank() <= role.rank()
                    }
                }
                _ => unreachable!("not a user action"),
            };
            (allowed, !allowed && !visible)
        }
        Resource::Organisation(id) => {
            let o = (0..spec.orgs.len()).find(|i| org_id(*i) == id).unwrap();
            let org = &spec.orgs[o];
            // Everyone sees their own organisation and those directly related to it.
            let visible = admin || ((coordinator || provider) && related(o));
            let given = request.role.map(CoreRole::from_id);
            let allowed = match request.action {
                Action::OrganisationView => visible,
                Action::OrganisationEditDetails | Action::OrganisationManageRelationships => {
                    admin || (coordinator && o == home)
                }
                Action::OrganisationListUsers => {
                    admin || (coordinator && own_or_agent(o)) || (provider && o == home)
                }
                Action::OrganisationEditAll => admin,
                Action::OrganisationMerge => admin && org.active,
                // Nobody deactivates the organisation they belong to.
                Action::OrganisationDeactivate => admin && org.active && o != home,
                Action::OrganisationReactivate => admin && !org.active,
                Action::UserInvite => {
                    let Some(given) = given else { return (false, !visible) };
                    org.active
                        && given.rank() <= role.rank()
                        && (admin
                            || (coordinator && own_or_agent(o) && given != CoreRole::Administrator))
                }
                _ => unreachable!("not an organisation action"),
            };
            (allowed, !allowed && !visible)
        }
        Resource::Log(id) => {
            let l = (0..spec.logs.len()).find(|i| log_id(*i) == id).unwrap();
            let log = &spec.logs[l];
            // Every user of the owning or managing organisation sees the log.
            let ours = log.owning == home || log.managing == home;
            let visible = admin || ((coordinator || provider) && ours);
            let allowed = match request.action {
                Action::LogView | Action::LogEdit => visible,
                // A provider deletes only logs assigned to them; a coordinator any they see.
                Action::LogDelete => {
                    admin || (coordinator && ours) || (provider && log.assigned == Some(actor))
                }
                _ => unreachable!("not a log action"),
            };
            (allowed, !allowed && !visible)
        }
        // Service-wide actions are the administrators'; for anyone else the area does
        // not exist ("not found").
        Resource::Service => (admin, !admin),
        Resource::Entity(_)
        | Resource::Instance { .. }
        | Resource::Feature(_)
        | Resource::Group(_)
        | Resource::Role(_) => {
            unreachable!("spec worlds are CORE's")
        }
    }
}
