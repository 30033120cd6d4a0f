//! `tenure audit export`: the audit trail as CSV, newest first, for administrators, with
//! where each entry's request came from (request id, client address, user agent) when it
//! was written while serving one.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use tenure_core::{AuditName, AuditQuery, ChangeStore, ManageError, Page};
use tenure_domain::{Email, OrgId, UserId};

use crate::app::Services;

/// What to export.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditFilter {
    /// Only entries about this organisation (its name).
    #[arg(long)]
    organisation: Option<String>,
    /// Only entries where this user (email address) acted or was acted on.
    #[arg(long)]
    user: Option<String>,
    /// Only entries with this event name, such as `authn_login_fail`.
    #[arg(long)]
    event: Option<String>,
}

/// Writes the audit trail the filter selects, as `actor` (who must be allowed
/// `audit.view`), each entry's time in RFC 3339 with the offset of the zone `tz`.
pub(crate) async fn export(
    services: &Services,
    actor: UserId,
    filter: &AuditFilter,
    output: Option<&PathBuf>,
    tz: &jiff::tz::TimeZone,
) -> Result<()> {
    let mut query = AuditQuery::default();
    if let Some(name) = &filter.organisation {
        let org = services.store.organisation_by_name(name).await?;
        query.organisation =
            Some(org.map(|o| o.value.id).with_context(|| {
                format!("--organisation `{name}`: no organisation has this name")
            })?);
    }
    if let Some(email) = &filter.user {
        let parsed = Email::parse(email).with_context(|| format!("--user `{email}`"))?;
        let user = services.store.user_by_email(&parsed).await?;
        query.user = Some(
            user.map(|u| u.value.id)
                .with_context(|| format!("--user `{email}`: no user has this email address"))?,
        );
    }
    if let Some(event) = &filter.event {
        query.name = Some(AuditName::parse(event).with_context(|| {
            let names: Vec<_> = AuditName::ALL.iter().map(|n| n.as_str()).collect();
            format!("--event `{event}` is not an event; expected one of: {}", names.join(", "))
        })?);
    }
    let sink: Box<dyn std::io::Write> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write `{}`", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = tenure_core::csv::CsvWriter::new(sink);
    out.write_record([
        "at",
        "event",
        "outcome",
        "actor",
        "target",
        "organisation",
        "detail",
        "request_id",
        "client_ip",
        "user_agent",
    ])?;
    let mut people: HashMap<UserId, String> = HashMap::new();
    let mut orgs: HashMap<OrgId, String> = HashMap::new();
    let mut page = 1;
    loop {
        let rows = match services
            .core
            .manage
            .audit(actor, &query, Page::numbered(page, Page::MAX_LIMIT))
            .await
        {
            Ok(rows) => rows,
            Err(ManageError::NotFound) => bail!("only administrators can read the audit trail"),
            Err(e) => return Err(e.into()),
        };
        if rows.is_empty() {
            break;
        }
        for e in rows {
            let mut names = Vec::new();
            for id in [e.actor, e.target_user] {
                let Some(id) = id else {
                    names.push(String::new());
                    continue;
                };
                let name = match people.get(&id) {
                    Some(name) => name.clone(),
                    None => {
                        let name = services.store.user(id).await?.map_or_else(
                            || format!("deleted user {id}"),
                            |u| u.value.email.to_string(),
                        );
                        people.insert(id, name.clone());
                        name
                    }
                };
                names.push(name);
            }
            let org = match e.organisation {
                Some(id) => match orgs.get(&id) {
                    Some(name) => name.clone(),
                    None => {
                        let name = services
                            .store
                            .organisation(id)
                            .await?
                            .map_or_else(|| id.to_string(), |o| o.value.name.to_string());
                        orgs.insert(id, name.clone());
                        name
                    }
                },
                None => String::new(),
            };
            out.write_record([
                tenure_core::moment::format(e.at, tz),
                e.name.as_str().to_owned(),
                e.outcome.as_str().to_owned(),
                names[0].clone(),
                names[1].clone(),
                org,
                e.detail.to_string(),
                // Where the request came from; empty for the CLI's own entries and older rows.
                e.origin.as_ref().map(|o| o.request_id.clone()).unwrap_or_default(),
                e.origin.as_ref().map(|o| o.client_ip.to_string()).unwrap_or_default(),
                e.origin.and_then(|o| o.user_agent).unwrap_or_default(),
            ])?;
        }
        page += 1;
    }
    out.finish()?.flush()?;
    Ok(())
}
