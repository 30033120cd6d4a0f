//! Running a policy file's checks and lists against the engine.

use std::fmt;

use tenure_domain::{Action, Decision, Request, Resource, ResourceKind};

use crate::file::PolicyFile;

/// One expectation that did not hold, with the engine's explanation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Failure {
    /// The file.
    pub file: String,
    /// The line of the `[[checks]]` or `[[lists]]` entry.
    pub line: usize,
    /// What failed and why.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// The outcome of running files.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Report {
    /// How many checks and lists held.
    pub passed: usize,
    /// The ones that did not.
    pub failures: Vec<Failure>,
}

impl Report {
    /// Adds another report's results.
    pub fn merge(&mut self, other: Report) {
        self.passed += other.passed;
        self.failures.extend(other.failures);
    }

    /// The closing line: `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failures.len())
    }
}

impl PolicyFile {
    /// Runs every check and list.
    pub fn run(&self) -> Report {
        let mut report = Report::default();
        for check in &self.checks {
            let decision = self.world.decide(&check.request);
            if decision.is_allowed() == check.expect_allow {
                report.passed += 1;
            } else {
                let word = |allow| if allow { "allow" } else { "deny" };
                report.failures.push(Failure {
                    file: self.name.clone(),
                    line: check.line,
                    message: format!(
                        "{}: expected {}, got {}: {}",
                        check.text,
                        word(check.expect_allow),
                        word(decision.is_allowed()),
                        decision.explain(&self.world)
                    ),
                });
            }
        }
        for list in &self.lists {
            let mut got = self.visible(list.actor, list.kind);
            got.sort();
            let mut expected = list.expect.clone();
            expected.sort();
            expected.dedup();
            if got == expected {
                report.passed += 1;
                continue;
            }
            let mut why = Vec::new();
            for key in expected.iter().filter(|k| !got.contains(k)) {
                let d = self.decide_view(list.actor, list.kind, key);
                why.push(format!(
                    "`{key}` missing ({})",
                    d.map_or_else(String::new, |d| d.explain(&self.world).to_string())
                ));
            }
            for key in got.iter().filter(|k| !expected.contains(k)) {
                let d = self.decide_view(list.actor, list.kind, key);
                why.push(format!(
                    "`{key}` unexpected ({})",
                    d.map_or_else(String::new, |d| d.explain(&self.world).to_string())
                ));
            }
            report.failures.push(Failure {
                file: self.name.clone(),
                line: list.line,
                message: format!(
                    "list {} {}: expected [{}], got [{}]: {}",
                    list.actor_key,
                    list.kind,
                    expected.join(", "),
                    got.join(", "),
                    why.join("; ")
                ),
            });
        }
        for check in &self.second_factors {
            use tenure_domain::second_factor::{Demand, demand};
            let got = demand(&self.world, check.user);
            if got.is_required() == check.expect_required {
                report.passed += 1;
                continue;
            }
            let word = |required| if required { "required" } else { "optional" };
            let why = match got {
                Demand::Required(role) => format!(
                    "role `{}` requires one",
                    self.world
                        .roles()
                        .get(role)
                        .map_or_else(|| role.to_string(), |r| r.name.clone())
                ),
                Demand::Optional => "none of their roles requires one".to_owned(),
            };
            report.failures.push(Failure {
                file: self.name.clone(),
                line: check.line,
                message: format!(
                    "second factor for {}: expected {}, got {}: {why}",
                    check.user_key,
                    word(check.expect_required),
                    word(got.is_required()),
                ),
            });
        }
        for check in &self.reports {
            use tenure_domain::report::{ReportDecision, decide_report};
            let got = decide_report(
                &self.world,
                check.actor,
                check.report,
                check.entity,
                check.condition_holds,
            );
            let (word, why) = match &got {
                ReportDecision::Available(_) => ("available", String::new()),
                ReportDecision::Unavailable(u) => ("unavailable", u.0.explain().to_owned()),
                ReportDecision::NotFound => (
                    "not_found",
                    "the actor lacks the report's feature or may read none of its sources about the entity"
                        .to_owned(),
                ),
            };
            if word == check.expect {
                report.passed += 1;
                continue;
            }
            report.failures.push(Failure {
                file: self.name.clone(),
                line: check.line,
                message: format!(
                    "report {} about {} for {}: expected {}, got {word}{}{why}",
                    check.report.as_str(),
                    check.entity_key,
                    check.actor_key,
                    check.expect,
                    if why.is_empty() { "" } else { ": " },
                ),
            });
        }
        report
    }

    /// The keys of the records of a kind the actor may view, from the engine's scope.
    fn visible(&self, actor: tenure_domain::UserId, kind: ResourceKind) -> Vec<String> {
        let Some(view) = Action::view_of(kind) else { return Vec::new() };
        match kind {
            ResourceKind::Entity => {
                let scope = self.world.entity_scope(actor, view, None);
                return self
                    .world
                    .entities_in(&scope)
                    .filter_map(|e| self.keys.entity_key(e.id).map(str::to_owned))
                    .collect();
            }
            ResourceKind::Instance => {
                let mut out = Vec::new();
                for (dkey, did) in &self.keys.datasets {
                    let scope = self.world.instance_scope(actor, view, *did);
                    for (ekey, eid) in &self.keys.entities {
                        if scope.matches(&self.world, *eid) {
                            out.push(format!("{dkey}/{ekey}"));
                        }
                    }
                }
                return out;
            }
            _ => {}
        }
        let scope = self.world.scope(actor, view);
        match kind {
            ResourceKind::User => self
                .world
                .users_in(&scope)
                .filter_map(|u| self.keys.user_key(u.id).map(str::to_owned))
                .collect(),
            ResourceKind::Organisation => self
                .world
                .organisations()
                .filter(|o| scope.matches_organisation(o))
                .filter_map(|o| self.keys.org_key(o.id).map(str::to_owned))
                .collect(),
            ResourceKind::Log => self
                .world
                .logs()
                .filter(|l| scope.matches_log(l))
                .filter_map(|l| self.keys.log_key(l.id).map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn decide_view(
        &self,
        actor: tenure_domain::UserId,
        kind: ResourceKind,
        key: &str,
    ) -> Option<Decision> {
        let resource = match kind {
            ResourceKind::User => Resource::User(*self.keys.users.get(key)?),
            ResourceKind::Organisation => Resource::Organisation(*self.keys.orgs.get(key)?),
            ResourceKind::Log => Resource::Log(*self.keys.logs.get(key)?),
            ResourceKind::Entity => Resource::Entity(*self.keys.entities.get(key)?),
            ResourceKind::Instance => {
                let (d, e) = key.split_once('/')?;
                Resource::Instance {
                    dataset: *self.keys.datasets.get(d)?,
                    entity: *self.keys.entities.get(e)?,
                }
            }
            ResourceKind::Service
            | ResourceKind::Feature
            | ResourceKind::Group
            | ResourceKind::Role => return None,
        };
        Some(self.world.decide(&Request::new(actor, Action::view_of(kind)?, resource)))
    }
}
