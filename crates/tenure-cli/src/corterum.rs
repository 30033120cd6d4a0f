//! Corterum from the command line: entities, groups, roles, user accounts, instances as
//! of a moment, and dataset exports. Every command acts as a user (`--as`) and goes
//! through the same services and checks as the web.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use jiff::tz::TimeZone;
use tenure_core::moment;
use tenure_core::{
    AccountInput, AsOf, ChangeStore, EntityInput, EntityQuery, GroupInput, ManageError, Page,
    Search,
};
use tenure_domain::role::form::RoleForm;
use tenure_domain::{
    Content, Dataset, DatasetPermissions, EntityId, EntityKind, Feature, GroupId, OrgId, RoleId,
    UserId,
};

use crate::app::Services;

/// Turns a service refusal into the command's exit code, printing what was wrong.
pub(crate) fn refused(e: &ManageError) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        ManageError::Invalid(_) | ManageError::EmailInUse => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

/// A company by its organisation name.
pub(crate) async fn company(services: &Services, name: &str) -> Result<OrgId> {
    match services.store.organisation_by_name(name.trim()).await? {
        Some(o) => Ok(o.value.id),
        None => bail!("no company is called `{name}`"),
    }
}

async fn companies(services: &Services, names: &[String]) -> Result<Vec<OrgId>> {
    let mut out = Vec::new();
    for n in names {
        out.push(company(services, n).await?);
    }
    Ok(out)
}

/// An entity by id or exact name (any case), among those the actor sees.
async fn entity(services: &Services, actor: UserId, given: &str) -> Result<EntityId> {
    if let Ok(id) = uuid::Uuid::parse_str(given.trim()) {
        return Ok(EntityId::from_uuid(id));
    }
    let query = EntityQuery { search: Search::parse(given), kind: None };
    let found =
        services.core.corterum.entities(actor, &query, Page::numbered(1, Page::MAX_LIMIT)).await?;
    let wanted = given.trim().to_lowercase();
    let exact: Vec<_> = found.iter().filter(|e| e.name.as_str().to_lowercase() == wanted).collect();
    match exact.as_slice() {
        [one] => Ok(one.id),
        [] => bail!("no entity you can see is called `{given}`"),
        many => bail!(
            "{} entities are called `{given}`; give one of their ids: {}",
            many.len(),
            many.iter().map(|e| e.id.to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

async fn dataset(services: &Services, key: &str) -> Result<Dataset> {
    let all = services.core.corterum.datasets().await?;
    let wanted = key.trim().to_lowercase();
    match all.iter().find(|d| d.key == wanted || d.name.as_str().to_lowercase() == wanted) {
        Some(d) => Ok(d.clone()),
        None => bail!(
            "no dataset `{key}`; expected one of: {}",
            all.iter().map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

async fn group(services: &Services, actor: UserId, name: &str) -> Result<GroupId> {
    let groups = services.core.corterum.groups(actor).await?;
    let wanted = name.trim().to_lowercase();
    match groups
        .iter()
        .find(|g| g.name.as_str().to_lowercase() == wanted || g.id.to_string() == wanted)
    {
        Some(g) => Ok(g.id),
        None => bail!(
            "no group `{name}`; expected one of: {}",
            groups.iter().map(|g| g.name.to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

async fn role(services: &Services, actor: UserId, name: &str) -> Result<RoleId> {
    let roles = services.core.corterum.roles(actor).await?;
    let wanted = name.trim().to_lowercase();
    match roles.iter().find(|r| r.key == wanted || r.name.to_lowercase() == wanted) {
        Some(r) => Ok(r.id),
        None => bail!(
            "no role `{name}`; expected one of: {}",
            roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn kind(given: &str) -> Result<EntityKind> {
    given.parse::<EntityKind>().map_err(Into::into)
}

fn pairs(given: &[String], what: &str) -> Result<Vec<(String, String)>> {
    given
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_owned(), v.trim().to_owned())),
            None => bail!("{what} `{p}` must be written FIELD=VALUE"),
        })
        .collect()
}

/// `tenure entities create`.
pub(crate) async fn create_entity(
    services: &Services,
    actor: UserId,
    kind_name: &str,
    name: &str,
    company_names: &[String],
    fields: &[String],
    employers: (Option<&str>, Option<&str>),
) -> Result<ExitCode> {
    use tenure_domain::entity::{EntityLink, LinkKind};
    let mut links = Vec::new();
    for (given, kind) in
        [(employers.0, LinkKind::PreviousEmployer), (employers.1, LinkKind::NewEmployer)]
    {
        if let Some(name) = given {
            links.push(EntityLink { kind, to: entity(services, actor, name).await? });
        }
    }
    let input = EntityInput {
        kind: Some(kind(kind_name)?),
        name: name.to_owned(),
        fields: pairs(fields, "--field")?,
        companies: companies(services, company_names).await?,
        links: Some(links),
    };
    match services.core.corterum.create_entity(actor, &input).await {
        Ok(id) => {
            println!("Created {kind_name} `{name}` ({id}).");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(refused(&e)),
    }
}

/// `tenure entities list`.
pub(crate) async fn list_entities(
    services: &Services,
    actor: UserId,
    search: Option<&str>,
    kind_name: Option<&str>,
) -> Result<ExitCode> {
    let query = EntityQuery {
        search: search.and_then(Search::parse),
        kind: kind_name.map(kind).transpose()?,
    };
    let mut out = std::io::stdout().lock();
    let mut page = Page::numbered(1, Page::MAX_LIMIT);
    loop {
        let found = services.core.corterum.entities(actor, &query, page).await?;
        for e in &found {
            writeln!(out, "{}\t{}\t{}", e.id, e.kind, e.name)?;
        }
        if found.len() < page.limit {
            break;
        }
        page.offset += page.limit;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tenure groups create`.
pub(crate) async fn create_group(
    services: &Services,
    actor: UserId,
    name: &str,
    description: &str,
    kind_name: &str,
    members: &[String],
) -> Result<ExitCode> {
    let mut ids = Vec::new();
    for m in members {
        ids.push(entity(services, actor, m).await?);
    }
    let input = GroupInput {
        name: name.to_owned(),
        description: description.to_owned(),
        kind: Some(kind(kind_name)?),
        members: ids,
    };
    match services.core.corterum.save_group(actor, None, &input).await {
        Ok(id) => {
            println!("Created group `{name}` ({id}).");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(refused(&e)),
    }
}

/// `tenure groups list`.
pub(crate) async fn list_groups(services: &Services, actor: UserId) -> Result<ExitCode> {
    match services.core.corterum.groups(actor).await {
        Ok(groups) => {
            for g in groups {
                let members = if g.id == tenure_domain::ALL_PEOPLE {
                    "every person".to_owned()
                } else {
                    format!("{} members", g.members.len())
                };
                println!("{}\t{}\t{}\t{}", g.id, g.kind, g.name, members);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(refused(&e)),
    }
}

/// What `tenure roles create` is given.
#[derive(Debug, clap::Args)]
pub(crate) struct RoleArgs {
    /// The role's name.
    #[arg(long)]
    pub(crate) name: String,
    /// What the role is for.
    #[arg(long)]
    pub(crate) description: String,
    /// A group the role reaches (repeat for more; "All People" exists from the start).
    #[arg(long = "group", value_name = "NAME")]
    pub(crate) groups: Vec<String>,
    /// A feature permission, such as `user_administration` (repeat for more).
    #[arg(long = "feature", value_name = "FEATURE")]
    pub(crate) features: Vec<String>,
    /// Read a dataset (its key); `all` selects every dataset.
    #[arg(long = "read", value_name = "DATASET")]
    pub(crate) read: Vec<String>,
    /// Edit a dataset; `all` selects every dataset.
    #[arg(long = "edit", value_name = "DATASET")]
    pub(crate) edit: Vec<String>,
    /// Create instances of a dataset; `all` selects every dataset.
    #[arg(long = "create", value_name = "DATASET")]
    pub(crate) create: Vec<String>,
    /// After `all`: take this dataset out again (repeat for more).
    #[arg(long = "except", value_name = "DATASET")]
    pub(crate) except: Vec<String>,
}

/// `tenure roles create`.
pub(crate) async fn create_role(
    services: &Services,
    actor: UserId,
    args: &RoleArgs,
) -> Result<ExitCode> {
    let mut form = RoleForm {
        name: args.name.clone(),
        description: args.description.clone(),
        ..RoleForm::default()
    };
    for g in &args.groups {
        form.groups.push(group(services, actor, g).await?);
    }
    for f in &args.features {
        form.features = form.features.with(f.parse::<Feature>()?);
    }
    let all = services.core.corterum.datasets().await?;
    let mut except = Vec::new();
    for e in &args.except {
        except.push(dataset(services, e).await?.id);
    }
    for (list, set) in [
        (&args.read, (|p: &mut DatasetPermissions| p.read = true) as fn(&mut DatasetPermissions)),
        (&args.edit, |p: &mut DatasetPermissions| p.edit = true),
        (&args.create, |p: &mut DatasetPermissions| p.create = true),
    ] {
        for key in list {
            let ids: Vec<_> = if key == "all" {
                all.iter().map(|d| d.id).filter(|d| !except.contains(d)).collect()
            } else {
                vec![dataset(services, key).await?.id]
            };
            for id in ids {
                set(form.datasets.entry(id).or_default());
            }
        }
    }
    match services.core.corterum.save_role(actor, None, form).await {
        Ok(id) => {
            println!("Created role `{}` ({id}).", args.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(refused(&e)),
    }
}

/// `tenure roles list`.
pub(crate) async fn list_roles(services: &Services, actor: UserId) -> Result<ExitCode> {
    let datasets = services.core.corterum.datasets().await?;
    match services.core.corterum.roles(actor).await {
        Ok(roles) => {
            for r in roles {
                let form = RoleForm::from_role(&r);
                let read = form.datasets.values().filter(|p| p.read).count();
                let edit = form.datasets.values().filter(|p| p.edit).count();
                println!(
                    "{}\t{}\tgroups: {}\tfeatures: {}\tread {}/{} datasets, edit {}",
                    r.key,
                    r.name,
                    form.groups.len(),
                    form.features.iter().map(Feature::as_str).collect::<Vec<_>>().join(" "),
                    read,
                    datasets.len(),
                    edit
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(refused(&e)),
    }
}

/// `tenure users create`.
pub(crate) async fn create_user(
    services: &Services,
    actor: UserId,
    username: &str,
    email: &str,
    entity_name: Option<&str>,
    roles: &[String],
    company_names: &[String],
) -> Result<ExitCode> {
    let entity = match entity_name {
        Some(n) => Some(entity(services, actor, n).await?),
        None => None,
    };
    let mut role_ids = Vec::new();
    for r in roles {
        role_ids.push(role(services, actor, r).await?);
    }
    let input = AccountInput {
        username: username.to_owned(),
        email: email.to_owned(),
        entity,
        roles: role_ids,
        companies: companies(services, company_names).await?,
    };
    match services.core.manage.create_account(&services.core.corterum, actor, &input).await {
        Ok(id) => {
            println!(
                "Created user `{username}` ({id}); an invitation to set a password went to {email}."
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(refused(&e)),
    }
}

/// `tenure users list`.
pub(crate) async fn list_users(services: &Services, actor: UserId) -> Result<ExitCode> {
    let mut page = Page::numbered(1, Page::MAX_LIMIT);
    loop {
        let found = match services.core.corterum.accounts(actor, page).await {
            Ok(f) => f,
            Err(e) => return Ok(refused(&e)),
        };
        for (username, u) in &found {
            println!(
                "{}\t{}\t{}\t{}",
                u.id,
                username,
                u.email,
                if u.active { "active" } else { "deactivated" }
            );
        }
        if found.len() < page.limit {
            break;
        }
        page.offset += page.limit;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_content(content: &Content) -> String {
    match content {
        Content::Form(r) => r.iter().map(|(k, v)| format!("  {k}: {v}\n")).collect(),
        Content::Table(rows) => rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "  row {}: {}\n",
                    i + 1,
                    r.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
                )
            })
            .collect(),
    }
}

/// `tenure instances show`.
pub(crate) async fn show_instance(
    services: &Services,
    actor: UserId,
    dataset_key: &str,
    entity_name: &str,
    as_of: Option<&str>,
    version: Option<u32>,
    tz: &TimeZone,
) -> Result<ExitCode> {
    let d = dataset(services, dataset_key).await?;
    let e = entity(services, actor, entity_name).await?;
    let at = match (as_of, version) {
        (Some(_), Some(_)) => bail!("give --as-of or --version, not both"),
        (Some(t), None) => AsOf::Moment(moment::parse(t, tz)?),
        (None, Some(n)) => AsOf::Version(n),
        (None, None) => AsOf::Latest,
    };
    let view = match services.core.corterum.instance(actor, d.id, e, at).await {
        Ok(v) => v,
        Err(e) => return Ok(refused(&e)),
    };
    println!("{} for {}", view.dataset.name, view.entity.name);
    match view.shown.and_then(|n| view.history.at_version(n)) {
        Some(v) => {
            println!(
                "version {} of {}, saved {}",
                v.number,
                view.history.latest_number(),
                moment::describe_with_zone(v.at, tz)
            );
            print!("{}", print_content(&v.content));
        }
        None => println!(
            "no version yet at that time ({} versions in all)",
            view.history.latest_number()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `tenure instances save`: a new version of a form from FIELD=VALUE pairs (fields not
/// given keep their values; an empty value clears one).
pub(crate) async fn save_instance(
    services: &Services,
    actor: UserId,
    dataset_key: &str,
    entity_name: &str,
    set: &[String],
) -> Result<ExitCode> {
    let d = dataset(services, dataset_key).await?;
    let e = entity(services, actor, entity_name).await?;
    let view = match services.core.corterum.instance(actor, d.id, e, AsOf::Latest).await {
        Ok(v) => v,
        Err(e) => return Ok(refused(&e)),
    };
    let Content::Form(mut record) =
        view.history.latest().map_or(Content::empty(d.kind), |v| v.content.clone())
    else {
        bail!("{} is a table; the command line saves forms only", d.name);
    };
    for (k, v) in pairs(set, "--set")? {
        if v.is_empty() {
            record.remove(&k);
        } else {
            record.insert(k, v);
        }
    }
    let based_on = view.history.latest_number();
    match services
        .core
        .corterum
        .save_instance(actor, d.id, e, based_on, Content::Form(record))
        .await
    {
        Ok(n) => {
            println!("Saved version {n} of {} for {}.", d.name, view.entity.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(refused(&e)),
    }
}

/// `tenure datasets list`.
pub(crate) async fn list_datasets(services: &Services) -> Result<ExitCode> {
    let all = services.core.corterum.datasets().await?;
    for d in &all {
        let parent = d
            .embedded_in
            .and_then(|p| all.iter().find(|x| x.id == p))
            .map_or_else(String::new, |p| format!("\tembedded in {}", p.key));
        println!("{}\t{}\t{}{}", d.key, d.kind, d.name, parent);
    }
    Ok(ExitCode::SUCCESS)
}

/// `tenure datasets export`: the latest version of every instance the actor may read,
/// as CSV (entity, version, saved at, then the dataset's fields; a table's rows each on
/// a line of their own).
pub(crate) async fn export_dataset(
    services: &Services,
    actor: UserId,
    dataset_key: &str,
    output: Option<&PathBuf>,
    tz: &TimeZone,
) -> Result<ExitCode> {
    let d = dataset(services, dataset_key).await?;
    let rows = match services.core.corterum.export(actor, d.id).await {
        Ok(r) => r,
        Err(e) => return Ok(refused(&e)),
    };
    let sink: Box<dyn std::io::Write> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create `{}`", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = tenure_core::csv::CsvWriter::new(sink);
    let mut header = vec![
        "entity_id".to_owned(),
        "entity".to_owned(),
        "version".to_owned(),
        "saved_at".to_owned(),
    ];
    header.extend(d.fields.iter().map(|(k, _)| k.clone()));
    out.write_record(&header)?;
    for (e, v) in &rows {
        let records = match &v.content {
            Content::Form(r) => vec![r.clone()],
            Content::Table(rows) => rows.clone(),
        };
        for r in records {
            let mut line = vec![
                e.id.to_string(),
                e.name.to_string(),
                v.number.to_string(),
                moment::format(v.at, tz),
            ];
            line.extend(d.fields.iter().map(|(k, _)| r.get(k).cloned().unwrap_or_default()));
            out.write_record(&line)?;
        }
    }
    out.finish()?.flush()?;
    eprintln!("{} instances of {} exported.", rows.len(), d.name);
    Ok(ExitCode::SUCCESS)
}
