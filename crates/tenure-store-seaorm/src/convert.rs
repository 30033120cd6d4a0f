//! Rows to domain types and back. Rows from the database were valid when written; one that
//! no longer parses is reported as a backend failure, never silently skipped.

use sea_orm::ActiveValue::Set;
use tenure_core::BackendError;
use tenure_domain::{
    Email, Log, LogId, Name, OrgId, Organisation, OrganisationKind, ProviderType, Relationship,
    RoleId, Telephone, User, UserId,
};

use crate::entity::{logs, organisations, relationships, user_roles, users};

fn corrupt(what: &str, id: uuid::Uuid, e: impl std::fmt::Display) -> BackendError {
    BackendError::new(format!("stored {what} `{id}` is invalid: {e}"))
}

pub(crate) fn provider_type_text(t: ProviderType) -> &'static str {
    match t {
        ProviderType::LocalAuthority => "local_authority",
        ProviderType::PrivateRegisteredProvider => "private_registered_provider",
    }
}

pub(crate) fn organisation_row(o: &Organisation) -> organisations::ActiveModel {
    organisations::ActiveModel {
        id: Set(*o.id.as_uuid()),
        name: Set(o.name.to_string()),
        sort_name: Set(o.name.as_str().to_lowercase()),
        address: Set(o.address.clone()),
        telephone: Set(o.telephone.as_ref().map(ToString::to_string)),
        provider_type: Set(provider_type_text(o.provider_type).to_owned()),
        registration_number: Set(o.registration_number.clone()),
        holds_stock: Set(o.holds_stock),
        kind: Set(o.kind.as_str().to_owned()),
        active: Set(o.active),
        version: Set(1),
    }
}

pub(crate) fn organisation(row: organisations::Model) -> Result<Organisation, BackendError> {
    let name = Name::parse(&row.name).map_err(|e| corrupt("organisation", row.id, e))?;
    let telephone = row
        .telephone
        .as_deref()
        .map(Telephone::parse)
        .transpose()
        .map_err(|e| corrupt("organisation", row.id, e))?;
    let provider_type = match row.provider_type.as_str() {
        "local_authority" => ProviderType::LocalAuthority,
        "private_registered_provider" => ProviderType::PrivateRegisteredProvider,
        other => {
            return Err(corrupt(
                "organisation",
                row.id,
                format!("unknown provider type `{other}`"),
            ));
        }
    };
    let kind = OrganisationKind::parse(&row.kind).ok_or_else(|| {
        corrupt("organisation", row.id, format!("unknown organisation kind `{}`", row.kind))
    })?;
    Ok(Organisation {
        id: OrgId::from_uuid(row.id),
        name,
        kind,
        address: row.address,
        telephone,
        provider_type,
        registration_number: row.registration_number,
        holds_stock: row.holds_stock,
        active: row.active,
    })
}

pub(crate) fn relationship_row(r: &Relationship) -> relationships::ActiveModel {
    relationships::ActiveModel {
        stock_owner_id: Set(*r.stock_owner.as_uuid()),
        managing_agent_id: Set(*r.managing_agent.as_uuid()),
    }
}

pub(crate) fn user_row(u: &User) -> users::ActiveModel {
    users::ActiveModel {
        id: Set(*u.id.as_uuid()),
        organisation_id: Set(*u.organisation.as_uuid()),
        name: Set(u.name.to_string()),
        sort_name: Set(u.name.as_str().to_lowercase()),
        email: Set(u.email.to_string()),
        telephone: Set(u.telephone.as_ref().map(ToString::to_string)),
        data_protection_officer: Set(u.data_protection_officer),
        key_contact: Set(u.key_contact),
        active: Set(u.active),
        version: Set(1),
    }
}

pub(crate) fn user_role_rows(u: &User) -> impl Iterator<Item = user_roles::ActiveModel> + '_ {
    u.roles.iter().map(|r| user_roles::ActiveModel {
        user_id: Set(*u.id.as_uuid()),
        role_id: Set(*r.as_uuid()),
    })
}

pub(crate) fn user(row: &users::Model, roles: Vec<RoleId>) -> Result<User, BackendError> {
    let name = Name::parse(&row.name).map_err(|e| corrupt("user", row.id, e))?;
    let email = Email::parse(&row.email).map_err(|e| corrupt("user", row.id, e))?;
    let telephone = row
        .telephone
        .as_deref()
        .map(Telephone::parse)
        .transpose()
        .map_err(|e| corrupt("user", row.id, e))?;
    Ok(User {
        id: UserId::from_uuid(row.id),
        name,
        email,
        telephone,
        organisation: OrgId::from_uuid(row.organisation_id),
        roles,
        data_protection_officer: row.data_protection_officer,
        key_contact: row.key_contact,
        active: row.active,
    })
}

pub(crate) fn log_row(l: &Log) -> logs::ActiveModel {
    logs::ActiveModel {
        id: Set(*l.id.as_uuid()),
        owning_organisation_id: Set(*l.owning_organisation.as_uuid()),
        managing_organisation_id: Set(*l.managing_organisation.as_uuid()),
        assigned_to: Set(l.assigned_to.map(|u| *u.as_uuid())),
        created_by: Set(l.created_by.map(|u| *u.as_uuid())),
    }
}

pub(crate) fn log(row: &logs::Model) -> Log {
    Log {
        id: LogId::from_uuid(row.id),
        owning_organisation: OrgId::from_uuid(row.owning_organisation_id),
        managing_organisation: OrgId::from_uuid(row.managing_organisation_id),
        assigned_to: row.assigned_to.map(UserId::from_uuid),
        created_by: row.created_by.map(UserId::from_uuid),
    }
}
