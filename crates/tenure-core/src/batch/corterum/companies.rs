//! Corterum companies in batches: name, address, telephone and registration number (the
//! company form's fields). The natural key is the name.
//!
//! Creating and updating call [`Corterum::create_company`] and
//! [`Corterum::edit_company`] (the latter against the version just read), so the engine
//! decides each row as it decides the form: only the root administrator adds companies,
//! an administrator of some companies changes those, and a CORE housing organisation's
//! name gets the same answer as a name that does not exist. An export lists the
//! companies the actor administers.
//!
//! [`Corterum::create_company`]: crate::corterum::Corterum::create_company
//! [`Corterum::edit_company`]: crate::corterum::Corterum::edit_company

use async_trait::async_trait;
use tenure_domain::{Organisation, UserId};

use crate::batch::corterum::CorterumSources;
use crate::batch::{Created, Kind, RowError, cell};
use crate::changes::Versioned;
use crate::corterum::CompanyInput;
use crate::csv::read::{Column, Columns, Row};
use crate::error::BackendError;
use crate::ports::Page;
use crate::usecase::{FieldError, ManageError};

/// The companies kind.
#[derive(Clone, Debug)]
pub struct Companies {
    sources: CorterumSources,
}

impl Companies {
    /// The kind over these services.
    pub fn new(sources: CorterumSources) -> Self {
        Self { sources }
    }
}

/// A company's cells, in [`Companies`]' header order.
fn cells(input: &CompanyInput) -> Vec<String> {
    vec![
        input.name.clone(),
        input.address.clone(),
        input.telephone.clone(),
        input.registration_number.clone(),
    ]
}

#[async_trait]
impl Kind for Companies {
    type Input = CompanyInput;
    type Existing = Versioned<Organisation>;

    const COLUMNS: Columns<'static> = Columns {
        columns: &[
            Column::required("name"),
            Column::optional("address"),
            Column::optional("telephone"),
            Column::optional("registration_number"),
        ],
    };

    fn parse(&self, row: &Row) -> Result<CompanyInput, Vec<FieldError>> {
        let input = CompanyInput {
            name: cell(row, "name").trim().to_owned(),
            address: cell(row, "address").trim().to_owned(),
            telephone: cell(row, "telephone").trim().to_owned(),
            registration_number: cell(row, "registration_number").trim().to_owned(),
        };
        // The form's own checks, on a company that is never written.
        match crate::corterum::Corterum::check_company(&input) {
            Ok(()) => Ok(input),
            Err(ManageError::Invalid(errors)) => Err(errors),
            Err(e) => Err(vec![FieldError { field: "name", message: e.to_string() }]),
        }
    }

    fn key(&self, input: &CompanyInput) -> String {
        input.name.clone()
    }

    async fn find(
        &self,
        actor: UserId,
        input: &CompanyInput,
    ) -> Result<Option<Versioned<Organisation>>, RowError> {
        let Some(found) = self.sources.changes.organisation_by_name(&input.name).await? else {
            return Ok(None);
        };
        // A company the actor administers; anything else (a housing organisation, a
        // company out of reach) is "not found" when the row is written.
        match self.sources.corterum.company_record(actor, found.value.id).await {
            Ok(company) => Ok(Some(company)),
            Err(ManageError::NotFound | ManageError::Forbidden(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn differs(&self, input: &CompanyInput, existing: &Versioned<Organisation>) -> bool {
        cells(input) != cells(&CompanyInput::of(&existing.value))
    }

    async fn check(
        &self,
        actor: UserId,
        input: &CompanyInput,
        existing: Option<&Versioned<Organisation>>,
    ) -> Result<Created, RowError> {
        match existing {
            Some(c) => {
                self.sources.corterum.check_edit_company(actor, c.value.id, input).await?;
            }
            None => {
                self.sources.corterum.check_create_company(actor, input).await?;
            }
        }
        Ok(Created::Done)
    }

    async fn create(&self, actor: UserId, input: &CompanyInput) -> Result<Created, RowError> {
        self.sources.corterum.create_company(actor, input).await?;
        Ok(Created::Done)
    }

    async fn update(
        &self,
        actor: UserId,
        input: &CompanyInput,
        existing: &Versioned<Organisation>,
    ) -> Result<(), RowError> {
        let (id, version) = (existing.value.id, existing.version);
        self.sources.corterum.edit_company(actor, id, version, input).await?;
        Ok(())
    }

    async fn export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Option<Vec<Vec<String>>>, BackendError> {
        let page = Page::numbered(number, Page::MAX_LIMIT);
        let companies = match self.sources.corterum.companies_page(actor, page).await {
            Ok(c) => c.companies,
            Err(ManageError::NotFound) if number == 1 => return Ok(Some(Vec::new())),
            Err(ManageError::NotFound) => return Ok(None),
            Err(ManageError::Backend(e)) => return Err(e),
            Err(e) => return Err(BackendError::new(e.to_string())),
        };
        if companies.is_empty() && number > 1 {
            return Ok(None);
        }
        Ok(Some(companies.iter().map(|c| cells(&CompanyInput::of(c))).collect()))
    }
}
