//! Corterum's feature permissions: the broad areas of the service a role opens (the
//! administration pages, the reports). The fourteen names are a public interface: policy
//! files write them in snake case (`user_administration`).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

macro_rules! features {
    ($($(#[$doc:meta])* $variant:ident = $key:literal, $label:literal;)*) => {
        /// A feature permission.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        #[repr(u8)]
        pub enum Feature {
            $($(#[$doc])* $variant,)*
        }

        impl Feature {
            /// Every feature, in the seed's order.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant,)*];

            /// The snake-case name used in policy files, the CLI and forms.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Feature::$variant => $key,)*
                }
            }

            /// The name people read.
            pub const fn label(self) -> &'static str {
                match self {
                    $(Feature::$variant => $label,)*
                }
            }
        }

        impl FromStr for Feature {
            type Err = UnknownFeatureError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($key => Ok(Feature::$variant),)*
                    _ => Err(UnknownFeatureError { given: s.to_owned() }),
                }
            }
        }
    };
}

features! {
    /// Attestation forms.
    AttestationFormAdministration = "attestation_form_administration", "Attestation Form Administration";
    /// Companies and the links to them.
    CompanyAdministration = "company_administration", "Company Administration";
    /// Entities: people, businesses, regulators.
    EntityAdministration = "entity_administration", "Entity Administration";
    /// The external anti-money-laundering report.
    ExternalReportAntiMoneyLaundering = "external_report_anti_money_laundering", "External Report - Anti Money Laundering";
    /// Groups of entities.
    GroupAdministration = "group_administration", "Group Administration";
    /// The FCA directory report.
    ReportFcaDirectory = "report_fca_directory", "Report - FCA Directory Report";
    /// The fit and proper certificate report.
    ReportFitAndProperCertificate = "report_fit_and_proper_certificate", "Report - Fit and Proper Certificate";
    /// The Form H report.
    ReportFormH = "report_form_h", "Report - Form H";
    /// The regulatory reference report.
    ReportRegulatoryReference = "report_regulatory_reference", "Report - Regulatory Reference";
    /// The statement of responsibility report.
    ReportStatementOfResponsibility = "report_statement_of_responsibility", "Report - Statement of Responsibility";
    /// Roles.
    RolesAdministration = "roles_administration", "Roles Administration";
    /// Rules.
    RulesAdministration = "rules_administration", "Rules Administration";
    /// Tasks.
    TaskAdministration = "task_administration", "Task Administration";
    /// User accounts.
    UserAdministration = "user_administration", "User Administration";
}

impl Feature {
    /// The features that open an Administration screen (entities, groups, roles, user
    /// accounts, companies): holding any of them opens Administration. The others open a
    /// report (`crate::report`) or nothing yet.
    pub const ADMINISTRATION: &'static [Feature] = &[
        Feature::EntityAdministration,
        Feature::GroupAdministration,
        Feature::RolesAdministration,
        Feature::UserAdministration,
        Feature::CompanyAdministration,
    ];
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A feature name that is not one of [`Feature::ALL`].
#[derive(Clone, PartialEq, Eq, Debug, Error)]
#[error("unknown feature `{}`; expected one of: {}", crate::name::quoted(.given), Feature::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "))]
pub struct UnknownFeatureError {
    /// What was given.
    pub given: String,
}

/// A set of features, as a bit set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct FeatureSet(u16);

impl FeatureSet {
    /// No features.
    pub const EMPTY: Self = Self(0);

    /// The set holding exactly these features.
    pub const fn of(features: &[Feature]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < features.len() {
            bits |= 1 << (features[i] as u8);
            i += 1;
        }
        Self(bits)
    }

    /// Every feature.
    pub const fn all() -> Self {
        Self::of(Feature::ALL)
    }

    /// Whether the set holds the feature.
    #[inline]
    pub const fn contains(self, feature: Feature) -> bool {
        self.0 & (1 << (feature as u8)) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set with the feature added.
    #[must_use]
    pub const fn with(self, feature: Feature) -> Self {
        Self(self.0 | (1 << (feature as u8)))
    }

    /// The set with the feature removed.
    #[must_use]
    pub const fn without(self, feature: Feature) -> Self {
        Self(self.0 & !(1 << (feature as u8)))
    }

    /// Whether every feature here is also in `other`.
    pub const fn is_subset(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    /// The features in the set, in the seed's order.
    pub fn iter(self) -> impl Iterator<Item = Feature> {
        Feature::ALL.iter().copied().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Feature> for FeatureSet {
    fn from_iter<I: IntoIterator<Item = Feature>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

#[cfg(test)]
mod tests {
    use super::{Feature, FeatureSet};

    #[test]
    fn there_are_the_seeds_fourteen_and_their_names_round_trip() {
        assert_eq!(Feature::ALL.len(), 14);
        for feature in Feature::ALL {
            assert_eq!(feature.as_str().parse::<Feature>(), Ok(*feature));
        }
        let err = "reporting".parse::<Feature>().unwrap_err().to_string();
        assert!(err.contains("expected one of: attestation_form_administration"), "{err}");
    }

    #[test]
    fn sets_hold_what_was_put_in() {
        let set = FeatureSet::of(&[Feature::UserAdministration, Feature::ReportFormH]);
        assert!(set.contains(Feature::UserAdministration) && set.contains(Feature::ReportFormH));
        assert!(!set.contains(Feature::RulesAdministration));
        assert_eq!(set.without(Feature::ReportFormH).iter().count(), 1);
        assert!(set.is_subset(FeatureSet::all()) && !FeatureSet::all().is_subset(set));
        assert_eq!(FeatureSet::all().iter().count(), 14);
    }
}
