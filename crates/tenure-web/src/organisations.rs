//! Organisations: the list (administrators), an organisation's page, editing,
//! deactivating and reactivating, merging, and its stock owners and managing agents.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tenure_core::{BackendError, ManageError, OrganisationInput, OrganisationQuery, Page, Search};
use tenure_domain::{
    Action, OrgId, Organisation, ProviderType, Relationship, RelationshipEffect, RelationshipStep,
    Resource, World,
};

use crate::App;
use crate::form::{Form, PageNumber, Path, Query};
use crate::security::Signed;
use crate::users::{ConfirmForm, ConfirmPage, allowed, parse_org};
use crate::view::{self, Chrome, Errors, OrPage, PageError};

/// "Your organisation".
pub(crate) async fn own(viewer: Signed) -> Redirect {
    Redirect::to(&format!("/organisations/{}", viewer.0.user.organisation))
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: PageNumber,
    done: Option<String>,
    /// The relationships page's picker: part of an organisation's name.
    #[serde(default)]
    search: String,
}

pub(crate) struct OrgRow {
    id: String,
    name: String,
    kind: &'static str,
    active: bool,
}

fn kind(t: ProviderType) -> &'static str {
    match t {
        ProviderType::LocalAuthority => "Local authority",
        ProviderType::PrivateRegisteredProvider => "Private registered provider",
    }
}

fn row(o: &Organisation) -> OrgRow {
    OrgRow {
        id: o.id.to_string(),
        name: o.name.to_string(),
        kind: kind(o.provider_type),
        active: o.active,
    }
}

#[derive(Template)]
#[template(path = "organisations.html")]
struct ListPage {
    chrome: Chrome,
    banner: &'static str,
    q: String,
    rows: Vec<OrgRow>,
    can_create: bool,
    previous: String,
    next: String,
    page: usize,
}

pub(crate) async fn list(
    State(app): State<App>,
    viewer: Signed,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Organisations");
    let number = query.page.get().unwrap_or(1);
    let mut page = Page::numbered(number, Page::SCREEN);
    page.limit += 1;
    let filter =
        OrganisationQuery { search: Search::parse(&query.q), ..OrganisationQuery::default() };
    let mut orgs = app
        .services
        .manage
        .organisations_page(viewer.0.user.id, &viewer.0.world, &filter, page)
        .await
        .or_page(&chrome)?;
    let more = orgs.len() > Page::SCREEN;
    orgs.truncate(Page::SCREEN);
    let w = &viewer.0.world;
    let link = |n: usize| format!("/organisations?q={}&page={n}", view::query_value(&query.q));
    Ok(view::render(&ListPage {
        chrome,
        banner: if query.done.as_deref() == Some("created") {
            "The organisation has been created."
        } else {
            ""
        },
        rows: orgs.iter().map(row).collect(),
        can_create: allowed(w, &viewer.0, Action::OrganisationCreate, Resource::Service),
        previous: if number > 1 { link(number - 1) } else { String::new() },
        next: if more { link(number + 1) } else { String::new() },
        page: number,
        q: query.q,
    }))
}

/// Loads an organisation the viewer may see, or answers "Page not found".
async fn visible(
    app: &App,
    viewer: &Signed,
    id: &str,
) -> Result<(Organisation, i64, World), PageError> {
    let chrome = viewer.chrome("Page not found");
    let id = parse_org(id).or_page(&chrome)?;
    let found =
        app.services.manage.organisation_for(viewer.0.user.id, id).await.or_page(&chrome)?;
    Ok((found.value.value, found.value.version, found.world))
}

#[derive(Template)]
#[template(path = "organisation.html")]
struct ProfilePage {
    chrome: Chrome,
    banner: &'static str,
    /// The organisation it was merged into (id, name), if it was.
    merged_into: Option<(String, String)>,
    name: String,
    address: String,
    telephone: String,
    kind: &'static str,
    registration_number: String,
    holds_stock: bool,
    active: bool,
    stock_owners: Vec<OrgRow>,
    managing_agents: Vec<OrgRow>,
    actions: Vec<(String, &'static str)>,
}

fn org_done(done: Option<&str>) -> &'static str {
    match done {
        Some("updated") => "The organisation's details have been updated.",
        Some("deactivated") => "The organisation and its users have been deactivated.",
        Some("reactivated") => {
            "The organisation has been reactivated, with the users it had before."
        }
        Some("merged") => {
            "The organisations have been merged: its users, logs, stock owners and managing agents are now the other organisation's."
        }
        Some("added") => "The relationship has been added.",
        Some("removed") => "The relationship has been removed.",
        Some("requested") => {
            "The request has been sent. The relationship takes effect when a data coordinator of the other organisation accepts it."
        }
        Some("accepted") => "The request has been accepted. The relationship is in effect.",
        Some("declined") => "The request has been declined.",
        Some("withdrawn") => "The request has been withdrawn.",
        _ => "",
    }
}

/// Rows for these organisations: from the snapshot where it has them, the rest in one
/// read (names are public).
///
/// # Errors
/// [`BackendError`] when that read fails: the page is a 500 with its cause logged, never
/// a list that leaves them out.
async fn related(
    app: &App,
    viewer: &Signed,
    w: &World,
    ids: &[OrgId],
) -> Result<Vec<OrgRow>, BackendError> {
    let mut rows: Vec<_> = ids.iter().filter_map(|id| w.organisation(*id)).map(row).collect();
    let missing: Vec<_> = ids.iter().copied().filter(|id| w.organisation(*id).is_none()).collect();
    if !missing.is_empty() {
        let found = app.services.manage.organisations_by_id(viewer.0.user.id, &missing).await?;
        rows.extend(found.iter().map(row));
    }
    rows.sort_by_key(|a| a.name.to_lowercase());
    Ok(rows)
}

pub(crate) async fn profile(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let (org, _, w) = visible(&app, &viewer, &id).await?;
    let resource = Resource::Organisation(org.id);
    let may = |a| allowed(&w, &viewer.0, a, resource);
    let base = format!("/organisations/{}", org.id);
    let mut actions = Vec::new();
    if may(Action::OrganisationListUsers) {
        actions.push((format!("/users?organisation={}", org.id), "View users"));
    }
    if may(Action::OrganisationEditDetails) || may(Action::OrganisationEditAll) {
        actions.push((format!("{base}/edit"), "Change details"));
    }
    if may(Action::OrganisationManageRelationships) {
        actions.push((format!("{base}/relationships"), "Manage stock owners and managing agents"));
    }
    if may(Action::OrganisationDeactivate) {
        actions.push((format!("{base}/deactivate"), "Deactivate organisation"));
    }
    if may(Action::OrganisationReactivate) {
        actions.push((format!("{base}/reactivate"), "Reactivate organisation"));
    }
    if may(Action::OrganisationMerge) && org.active {
        actions.push((format!("{base}/merge"), "Merge into another organisation"));
    }
    let merged_into = if org.active {
        None
    } else {
        app.services
            .manage
            .merged_into(viewer.0.user.id, org.id)
            .await
            .or_page(&viewer.chrome(org.name.as_str()))?
            .map(|o| (o.id.to_string(), o.name.to_string()))
    };
    let chrome = viewer.chrome(org.name.as_str());
    let stock_owners = related(&app, &viewer, &w, w.stock_owners(org.id)).await.or_page(&chrome)?;
    let managing_agents =
        related(&app, &viewer, &w, w.managing_agents(org.id)).await.or_page(&chrome)?;
    Ok(view::render(&ProfilePage {
        chrome,
        banner: org_done(q.done.as_deref()),
        merged_into,
        name: org.name.to_string(),
        address: org.address.clone().unwrap_or_default(),
        telephone: org.telephone.as_ref().map(ToString::to_string).unwrap_or_default(),
        kind: kind(org.provider_type),
        registration_number: org.registration_number.clone().unwrap_or_default(),
        holds_stock: org.holds_stock,
        active: org.active,
        stock_owners,
        managing_agents,
        actions,
    }))
}

#[derive(Template)]
#[template(path = "organisation_form.html")]
struct FormPage {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    action: String,
    back: String,
    version: i64,
    all: bool,
    name: String,
    address: String,
    telephone: String,
    local_authority: bool,
    registration_number: String,
    holds_stock: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrgForm {
    #[serde(default)]
    version: i64,
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    telephone: String,
    provider_type: Option<String>,
    registration_number: Option<String>,
    holds_stock: Option<String>,
    all: Option<String>,
}

impl OrgForm {
    fn input(&self, current: Option<&Organisation>) -> OrganisationInput {
        let all = self.all.is_some();
        OrganisationInput {
            name: self.name.clone(),
            address: self.address.clone(),
            telephone: self.telephone.clone(),
            provider_type: if all {
                if self.provider_type.as_deref() == Some("local_authority") {
                    ProviderType::LocalAuthority
                } else {
                    ProviderType::PrivateRegisteredProvider
                }
            } else {
                current.map_or(ProviderType::PrivateRegisteredProvider, |c| c.provider_type)
            },
            registration_number: if all {
                self.registration_number.clone().unwrap_or_default()
            } else {
                current.and_then(|c| c.registration_number.clone()).unwrap_or_default()
            },
            holds_stock: if all {
                self.holds_stock.is_some()
            } else {
                current.is_none_or(|c| c.holds_stock)
            },
        }
    }

    fn page(
        &self,
        chrome: Chrome,
        errors: Errors,
        heading: String,
        action: String,
        back: String,
    ) -> FormPage {
        FormPage {
            chrome: chrome.with_errors(&errors),
            errors,
            heading,
            action,
            back,
            version: self.version,
            all: self.all.is_some(),
            name: self.name.clone(),
            address: self.address.clone(),
            telephone: self.telephone.clone(),
            local_authority: self.provider_type.as_deref() == Some("local_authority"),
            registration_number: self.registration_number.clone().unwrap_or_default(),
            holds_stock: self.holds_stock.is_some(),
        }
    }
}

pub(crate) async fn new_page(viewer: Signed) -> Response {
    let chrome = viewer.chrome("Create an organisation");
    if !allowed(&viewer.0.world, &viewer.0, Action::OrganisationCreate, Resource::Service) {
        return view::not_found_page(chrome);
    }
    view::render(&FormPage {
        chrome,
        errors: Errors::default(),
        heading: "Create an organisation".to_owned(),
        action: "/organisations/new".to_owned(),
        back: "/organisations".to_owned(),
        version: 0,
        all: true,
        name: String::new(),
        address: String::new(),
        telephone: String::new(),
        local_authority: false,
        registration_number: String::new(),
        holds_stock: true,
    })
}

pub(crate) async fn create(
    State(app): State<App>,
    viewer: Signed,
    Form(form): Form<OrgForm>,
) -> Result<Response, PageError> {
    Ok(match app.services.manage.create_organisation(viewer.0.user.id, &form.input(None)).await {
        Ok(id) => Redirect::to(&format!("/organisations/{id}")).into_response(),
        Err(ManageError::Invalid(fields)) => view::render(&form.page(
            viewer.chrome("Create an organisation"),
            Errors::from_fields(&fields),
            "Create an organisation".to_owned(),
            "/organisations/new".to_owned(),
            "/organisations".to_owned(),
        )),
        Err(e) => return Err(PageError::new(&viewer.chrome("Create an organisation"), e)),
    })
}

pub(crate) async fn edit_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (org, version, w) = visible(&app, &viewer, &id).await?;
    let resource = Resource::Organisation(org.id);
    let all = allowed(&w, &viewer.0, Action::OrganisationEditAll, resource);
    if !all && !allowed(&w, &viewer.0, Action::OrganisationEditDetails, resource) {
        return Ok(view::forbidden_page(
            viewer.chrome("Change details"),
            "you cannot change this organisation's details",
        ));
    }
    Ok(view::render(&FormPage {
        chrome: viewer.chrome(&format!("Change {}", org.name)),
        errors: Errors::default(),
        heading: format!("Change {}'s details", org.name),
        action: format!("/organisations/{}/edit", org.id),
        back: format!("/organisations/{}", org.id),
        version,
        all,
        name: org.name.to_string(),
        address: org.address.clone().unwrap_or_default(),
        telephone: org.telephone.as_ref().map(ToString::to_string).unwrap_or_default(),
        local_authority: org.provider_type == ProviderType::LocalAuthority,
        registration_number: org.registration_number.clone().unwrap_or_default(),
        holds_stock: org.holds_stock,
    }))
}

pub(crate) async fn edit(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(form): Form<OrgForm>,
) -> Result<Response, PageError> {
    let (org, _, _) = visible(&app, &viewer, &id).await?;
    let input = form.input(Some(&org));
    Ok(
        match app
            .services
            .manage
            .edit_organisation(viewer.0.user.id, org.id, form.version, &input)
            .await
        {
            Ok(()) => {
                Redirect::to(&format!("/organisations/{}?done=updated", org.id)).into_response()
            }
            Err(ManageError::Invalid(fields)) => view::render(&form.page(
                viewer.chrome(&format!("Change {}", org.name)),
                Errors::from_fields(&fields),
                format!("Change {}'s details", org.name),
                format!("/organisations/{}/edit", org.id),
                format!("/organisations/{}", org.id),
            )),
            Err(e) => return Err(PageError::new(&viewer.chrome("Change details"), e)),
        },
    )
}

#[derive(Template)]
#[template(path = "relationships.html")]
struct RelationshipsPage {
    chrome: Chrome,
    errors: Errors,
    banner: &'static str,
    id: String,
    name: String,
    stock_owners: Vec<OrgRow>,
    managing_agents: Vec<OrgRow>,
    requests: Vec<RequestRow>,
    /// The picker's search, whether one was made, and what it found (id, name): other
    /// active organisations whose names contain it (names are public).
    search: String,
    searched: bool,
    choices: Vec<(String, String)>,
    /// The organisation ticked when the page is shown again with an error.
    chosen: String,
}

/// A pending request as the relationships page shows it.
struct RequestRow {
    /// The other organisation.
    other: OrgRow,
    /// `stock-owner` when the other organisation would be the stock owner.
    side: &'static str,
    /// What it asks, in words.
    summary: String,
    /// Asked by the other organisation: this one answers it.
    incoming: bool,
}

async fn relationships_page(
    app: &App,
    viewer: &Signed,
    org: &Organisation,
    w: &World,
    errors: Errors,
    banner: &'static str,
    picked: Picked,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Stock owners and managing agents").with_errors(&errors);
    if !allowed(
        w,
        &viewer.0,
        Action::OrganisationManageRelationships,
        Resource::Organisation(org.id),
    ) {
        return Ok(view::forbidden_page(
            chrome,
            "you cannot change this organisation's relationships",
        ));
    }
    let pending = app
        .services
        .manage
        .relationship_requests(viewer.0.user.id, org.id)
        .await
        .or_page(&chrome)?;
    let mut requests = Vec::new();
    for p in pending {
        let rel = p.relationship;
        let (other, side) = if rel.stock_owner == org.id {
            (rel.managing_agent, "managing-agent")
        } else {
            (rel.stock_owner, "stock-owner")
        };
        let Some(other) = related(app, viewer, w, &[other]).await.or_page(&chrome)?.pop() else {
            continue;
        };
        let summary = if side == "stock-owner" {
            format!("{} as a stock owner of {}", other.name, org.name)
        } else {
            format!("{} as a managing agent of {}", other.name, org.name)
        };
        requests.push(RequestRow { other, side, summary, incoming: p.requested_by != org.id });
    }
    let searched = !picked.search.trim().is_empty();
    let choices = if searched {
        app.services
            .manage
            .organisation_names(viewer.0.user.id, &picked.search)
            .await
            .or_page(&chrome)?
            .into_iter()
            .filter(|(id, _)| *id != org.id)
            .map(|(id, name)| (id.to_string(), name.to_string()))
            .collect()
    } else {
        Vec::new()
    };
    let stock_owners = related(app, viewer, w, w.stock_owners(org.id)).await.or_page(&chrome)?;
    let managing_agents =
        related(app, viewer, w, w.managing_agents(org.id)).await.or_page(&chrome)?;
    Ok(view::render(&RelationshipsPage {
        chrome,
        errors,
        banner,
        id: org.id.to_string(),
        name: org.name.to_string(),
        stock_owners,
        managing_agents,
        requests,
        search: picked.search,
        searched,
        choices,
        chosen: picked.chosen,
    }))
}

/// What the relationships page's picker shows: the search made and the organisation
/// ticked (its id, when the page is shown again with an error).
#[derive(Default)]
struct Picked {
    search: String,
    chosen: String,
}

pub(crate) async fn relationships(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let (org, _, w) = visible(&app, &viewer, &id).await?;
    relationships_page(
        &app,
        &viewer,
        &org,
        &w,
        Errors::default(),
        org_done(q.done.as_deref()),
        Picked { search: q.search, chosen: String::new() },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelationshipForm {
    /// A step (`add`, `remove`, `accept`, `decline` or `withdraw`), a dash, and which end
    /// the other organisation is (`stock-owner` or `managing-agent`).
    change: String,
    /// The other organisation's id (chosen from the picker, or named by the page's
    /// buttons); to add, a name works too (names are public and unique). Empty when
    /// nothing was chosen.
    #[serde(default)]
    other: String,
    /// The picker's search, to show its choices again with an error.
    #[serde(default)]
    search: String,
}

pub(crate) async fn change_relationship(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(form): Form<RelationshipForm>,
) -> Result<Response, PageError> {
    let (org, _, w) = visible(&app, &viewer, &id).await?;
    let again = |message: String| {
        let errors = Errors::one("other", &message);
        let picked = Picked { search: form.search.clone(), chosen: form.other.clone() };
        relationships_page(&app, &viewer, &org, &w, errors, "", picked)
    };
    let not_found = || PageError::not_found(&viewer.chrome("Page not found"));
    let (step, side) = form.change.split_once('-').ok_or_else(not_found)?;
    let step = match step {
        "add" => RelationshipStep::Add,
        "remove" => RelationshipStep::Remove,
        "accept" => RelationshipStep::Accept,
        "decline" => RelationshipStep::Decline,
        "withdraw" => RelationshipStep::Withdraw,
        _ => return Err(not_found()),
    };
    if !matches!(side, "stock-owner" | "managing-agent") {
        return Err(not_found());
    }
    let chrome = viewer.chrome("Stock owners and managing agents");
    // Adding takes the organisation chosen in the picker, by id, or a name (organisation
    // names are public); every other step names an organisation the page listed, by id.
    // Either way the service asks the engine, and an add by someone who does not manage
    // both ends is a request the other end answers.
    let other = if step == RelationshipStep::Add {
        let by_id = parse_org(&form.other);
        let by_name = match by_id {
            Some(_) => None,
            None if form.other.trim().is_empty() => {
                return again("Choose the organisation to add".to_owned()).await;
            }
            None => app.services.manage.organisation_by_name(&form.other).await.or_page(&chrome)?,
        };
        match by_id.or(by_name) {
            Some(id) => id,
            None => {
                let me = viewer.0.user.id;
                let names: Vec<String> =
                    match app.services.manage.organisation_names(me, &form.other).await {
                        Ok(found) => found.into_iter().map(|(_, n)| n.to_string()).collect(),
                        // Someone who manages no organisation's relationships is offered
                        // no names; the service refuses the add itself.
                        Err(ManageError::NotFound) => Vec::new(),
                        Err(e) => return Err(PageError::new(&chrome, e)),
                    };
                let message = if names.is_empty() {
                    "Enter the name of an existing organisation".to_owned()
                } else {
                    format!(
                        "Enter the name of an existing organisation. Names containing what you typed: {}",
                        names.join("; ")
                    )
                };
                return again(message).await;
            }
        }
    } else {
        parse_org(&form.other).ok_or_else(not_found)?
    };
    let rel = if side == "stock-owner" {
        Relationship { stock_owner: other, managing_agent: org.id }
    } else {
        Relationship { stock_owner: org.id, managing_agent: other }
    };
    Ok(match app.services.manage.change_relationship(viewer.0.user.id, rel, step).await {
        Ok(effect) => {
            let done = match effect {
                RelationshipEffect::Added => "added",
                RelationshipEffect::Requested { .. } => "requested",
                RelationshipEffect::Accepted { .. } => "accepted",
                RelationshipEffect::Declined { .. } => "declined",
                RelationshipEffect::Withdrawn { .. } => "withdrawn",
                RelationshipEffect::Removed => "removed",
            };
            Redirect::to(&format!("/organisations/{}/relationships?done={done}", org.id))
                .into_response()
        }
        Err(ManageError::Relationship(e)) => again(view::sentence(&e.to_string())).await?,
        Err(ManageError::NotFound) if step == RelationshipStep::Add => {
            again("Choose an existing organisation".to_owned()).await?
        }
        Err(e) => return Err(PageError::new(&chrome, e)),
    })
}

#[derive(Template)]
#[template(path = "merge.html")]
struct MergePage {
    chrome: Chrome,
    errors: Errors,
    id: String,
    name: String,
    search: String,
    /// The organisations the search found (id, name), which it may be merged into.
    choices: Vec<(String, String)>,
    searched: bool,
}

#[derive(Deserialize, Default)]
pub(crate) struct MergeSearch {
    #[serde(default)]
    search: String,
    #[serde(default)]
    error: String,
}

/// Step 1 of a merge: choose the organisation to merge into from a searchable list (a
/// plain search; the list shows active organisations whose names contain it).
/// Deactivating and merging an organisation need a recent sign-in (issue 14): otherwise
/// "Confirm it's you", then back to the step's page.
fn recent(app: &App, viewer: &Signed, org: OrgId, step: &str) -> Option<Response> {
    if !matches!(step, "deactivate" | "merge") {
        return None;
    }
    let back = format!("/organisations/{org}/{step}");
    crate::second_factor::recent_or_prompt(app, viewer, &back)
}

pub(crate) async fn merge_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<MergeSearch>,
) -> Result<Response, PageError> {
    let (org, _, w) = visible(&app, &viewer, &id).await?;
    if !allowed(&w, &viewer.0, Action::OrganisationMerge, Resource::Organisation(org.id)) {
        return Ok(view::forbidden_page(
            viewer.chrome("Merge"),
            "you cannot merge this organisation",
        ));
    }
    if let Some(prompt) = recent(&app, &viewer, org.id, "merge") {
        return Ok(prompt);
    }
    let chrome = viewer.chrome(&format!("Merge {}", org.name));
    let query = OrganisationQuery { search: Search::parse(&q.search), active: Some(true) };
    let found = app
        .services
        .manage
        .organisations_page(viewer.0.user.id, &viewer.0.world, &query, Page::numbered(1, 21))
        .await
        .or_page(&chrome)?;
    let choices = found
        .iter()
        .filter(|o| o.id != org.id)
        .take(20)
        .map(|o| (o.id.to_string(), o.name.to_string()))
        .collect();
    let errors = if q.error == "choose" {
        Errors::one("into", "Choose the organisation to merge into")
    } else {
        Errors::default()
    };
    Ok(view::render(&MergePage {
        chrome: chrome.with_errors(&errors),
        errors,
        id: org.id.to_string(),
        name: org.name.to_string(),
        searched: !q.search.trim().is_empty(),
        search: q.search,
        choices,
    }))
}

#[derive(Template)]
#[template(path = "merge_check.html")]
struct MergeCheckPage {
    chrome: Chrome,
    id: String,
    name: String,
    into_id: String,
    into_name: String,
    version: i64,
    users: usize,
    logs: usize,
    relationships: usize,
}

#[derive(Deserialize, Default)]
pub(crate) struct MergeChoice {
    #[serde(default)]
    into: String,
    #[serde(default)]
    search: String,
}

/// Step 2: what will move and what happens to the merged organisation, with the button
/// that confirms it (the engine decides in the service, as the merge will).
pub(crate) async fn merge_check(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<MergeChoice>,
) -> Result<Response, PageError> {
    let (org, version, _) = visible(&app, &viewer, &id).await?;
    if let Some(prompt) = recent(&app, &viewer, org.id, "merge") {
        return Ok(prompt);
    }
    let Some(into) = parse_org(&q.into) else {
        return Ok(Redirect::to(&format!(
            "/organisations/{}/merge?error=choose&search={}",
            org.id,
            view::query_value(&q.search)
        ))
        .into_response());
    };
    let chrome = viewer.chrome(&format!("Merge {}", org.name));
    let preview =
        app.services.manage.merge_preview(viewer.0.user.id, org.id, into).await.or_page(&chrome)?;
    Ok(view::render(&MergeCheckPage {
        chrome: viewer.chrome(&format!("Check the merge of {}", org.name)),
        id: org.id.to_string(),
        name: preview.from.name.to_string(),
        into_id: preview.into.id.to_string(),
        into_name: preview.into.name.to_string(),
        version,
        users: preview.users,
        logs: preview.logs,
        relationships: preview.relationships,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeForm {
    version: i64,
    into: String,
}

/// Step 3: the merge, then its summary on the merged organisation's page.
pub(crate) async fn merge(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(form): Form<MergeForm>,
) -> Result<Response, PageError> {
    let (org, _, _) = visible(&app, &viewer, &id).await?;
    if let Some(prompt) = recent(&app, &viewer, org.id, "merge") {
        return Ok(prompt);
    }
    let chrome = viewer.chrome("Merge");
    // The organisation chosen by id; a name still names one (organisation names are
    // public and unique).
    let into = match parse_org(&form.into) {
        Some(into) => Some(into),
        None => app.services.manage.organisation_by_name(&form.into).await.or_page(&chrome)?,
    };
    let Some(into) = into else {
        return Ok(
            Redirect::to(&format!("/organisations/{}/merge?error=choose", org.id)).into_response()
        );
    };
    app.services
        .manage
        .merge_organisation(viewer.0.user.id, org.id, form.version, into)
        .await
        .or_page(&chrome)?;
    Ok(Redirect::to(&format!("/organisations/{}?done=merged", org.id)).into_response())
}

pub(crate) async fn confirm_page(
    State(app): State<App>,
    viewer: Signed,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (org, version, _) = visible(&app, &viewer, &id).await?;
    if let Some(prompt) = recent(&app, &viewer, org.id, &action) {
        return Ok(prompt);
    }
    let (heading, body, button, warning) = match action.as_str() {
        "deactivate" => (
            format!("Are you sure you want to deactivate {}?", org.name),
            vec![
                "Its users will be signed out and unable to sign in until it is reactivated."
                    .to_owned(),
                "Its users, logs and relationships are kept.".to_owned(),
            ],
            "Deactivate organisation",
            true,
        ),
        "reactivate" => (
            format!("Reactivate {}?", org.name),
            vec!["Its users who were active before can sign in again.".to_owned()],
            "Reactivate organisation",
            false,
        ),
        _ => return Err(PageError::not_found(&viewer.chrome("Page not found"))),
    };
    Ok(view::render(&ConfirmPage {
        chrome: viewer.chrome(&heading),
        heading,
        body,
        action: format!("/organisations/{}/{action}", org.id),
        version,
        button,
        warning,
        back: format!("/organisations/{}", org.id),
    }))
}

pub(crate) async fn confirm(
    State(app): State<App>,
    viewer: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    let (org, _, _) = visible(&app, &viewer, &id).await?;
    if let Some(prompt) = recent(&app, &viewer, org.id, &action) {
        return Ok(prompt);
    }
    let me = viewer.0.user.id;
    let (result, done) = match action.as_str() {
        "deactivate" => (
            app.services.manage.deactivate_organisation(me, org.id, form.version).await,
            "deactivated",
        ),
        "reactivate" => (
            app.services.manage.reactivate_organisation(me, org.id, form.version).await,
            "reactivated",
        ),
        _ => return Err(PageError::not_found(&viewer.chrome("Page not found"))),
    };
    result.or_page(&viewer.chrome("You cannot do this"))?;
    Ok(Redirect::to(&format!("/organisations/{}?done={done}", org.id)).into_response())
}
