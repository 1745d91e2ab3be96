//! api-version checks. Modeled provider families accept the versions their specs list; a newer
//! well-formed version is served with the newest behaviour we know (clients upgrade constantly), while
//! malformed or unknown older versions get InvalidApiVersionParameter naming the supported ones.
//! Unmodeled providers accept any well-formed version. Pure: no I/O.

use super::error::ArmError;

/// A family of resource types that share a version list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Subscriptions, tenants, resource groups, generic resources, providers.
    Resources,
    Subscriptions,
    /// Microsoft.Subscription's cancel, enable and rename.
    SubscriptionLifecycle,
    RoleAssignments,
    RoleDefinitions,
    Permissions,
    Locks,
    DenyAssignments,
    ManagedServices,
    ActivityLog,
    Metadata,
    /// Privileged Identity Management (role assignment/eligibility schedules, approvals).
    Pim,
    /// Azure Resource Graph queries (ARM-FACTS §9.1).
    ResourceGraph,
    /// Azure Policy definitions, set definitions, assignments and exemptions.
    Policy,
    /// Microsoft.PolicyInsights policy states and remediations.
    PolicyInsights,
    /// Microsoft.AlertsManagement alerts.
    AlertsManagement,
    /// Any provider the emulator does not model: any well-formed version.
    Generic,
}

/// Microsoft.AlertsManagement's alerts versions (specification/alertsmanagement; azure-mgmt-alertsmanagement
/// sends 2019-05-05-preview, newer SDKs 2023-07-12-preview and 2024-01-01-preview).
const ALERTS_MANAGEMENT: &[&str] = &[
    "2017-11-15-privatepreview",
    "2018-05-05",
    "2018-05-05-preview",
    "2019-03-01",
    "2019-05-05-preview",
    "2023-01-01",
    "2023-07-12-preview",
    "2024-01-01-preview",
    "2025-05-25-preview",
];

const RESOURCE_GRAPH: &[&str] = &[
    "2018-09-01-preview",
    "2019-04-01",
    "2020-04-01-preview",
    "2021-03-01",
    "2021-06-01-preview",
    "2022-10-01",
    "2023-09-01-preview",
    "2024-04-01",
];
const RESOURCES: &[&str] = &[
    "2015-01-01",
    "2015-11-01",
    "2016-02-01",
    "2016-06-01",
    "2016-07-01",
    "2016-09-01",
    "2017-05-10",
    "2018-02-01",
    "2018-05-01",
    "2019-03-01",
    "2019-05-01",
    "2019-05-10",
    "2019-07-01",
    "2019-08-01",
    "2019-10-01",
    "2020-06-01",
    "2020-08-01",
    "2020-10-01",
    "2021-01-01",
    "2021-04-01",
    "2022-09-01",
    "2023-07-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-03-01",
    "2025-04-01",
];
const SUBSCRIPTIONS: &[&str] = &[
    "2014-04-01-preview",
    "2015-01-01",
    "2015-11-01",
    "2016-02-01",
    "2016-06-01",
    "2016-09-01",
    "2017-05-10",
    "2018-02-01",
    "2018-05-01",
    "2018-06-01",
    "2019-05-01",
    "2019-06-01",
    "2019-10-01",
    "2019-11-01",
    "2020-01-01",
    "2020-06-01",
    "2020-10-01",
    "2021-01-01",
    "2021-04-01",
    "2022-01-01",
    "2022-09-01",
    "2022-12-01",
    "2024-11-01",
    "2025-03-01",
    "2025-04-01",
];
const ROLE_ASSIGNMENTS: &[&str] = &[
    "2015-07-01",
    "2017-10-01-preview",
    "2018-01-01-preview",
    "2018-09-01-preview",
    // not in the public specs, but served by ARM: Lighthouse's policy samples and many quickstarts
    // deploy role assignments with it (delegatedManagedIdentityResourceId)
    "2019-04-01-preview",
    "2020-03-01-preview",
    "2020-04-01-preview",
    "2020-08-01-preview",
    "2020-10-01-preview",
    "2022-01-01-preview",
    "2022-04-01",
    "2022-05-01-preview",
];
const ROLE_DEFINITIONS: &[&str] = &[
    "2015-07-01",
    "2018-01-01-preview",
    "2022-04-01",
    "2022-05-01-preview",
];
const PERMISSIONS: &[&str] = &[
    "2015-07-01",
    "2018-01-01-preview",
    "2022-04-01",
    "2022-05-01-preview",
];
const LOCKS: &[&str] = &["2015-01-01", "2016-09-01", "2017-04-01", "2020-05-01"];
const DENY_ASSIGNMENTS: &[&str] = &[
    "2018-07-01-preview",
    "2022-03-01",
    "2022-04-01",
    "2022-05-01-preview",
    "2024-07-01-preview",
];
pub const MANAGED_SERVICES: &[&str] = &[
    "2018-06-01-preview",
    "2019-04-01-preview",
    "2019-06-01",
    "2019-09-01",
    "2020-02-01-preview",
    "2022-01-01-preview",
    "2022-10-01",
];
const ACTIVITY_LOG: &[&str] = &["2015-04-01"];
const PIM: &[&str] = &[
    "2020-10-01-preview",
    "2020-10-01",
    "2021-01-01-preview",
    "2022-04-01-preview",
    "2024-02-01-preview",
    "2024-09-01-preview",
];
/// Microsoft.Subscription (specification/subscription: stable 2020-09-01, 2021-10-01; the
/// previews the SDKs of those years sent).
const SUBSCRIPTION_LIFECYCLE: &[&str] = &[
    "2019-03-01-preview",
    "2019-10-01-preview",
    "2020-01-01",
    "2020-09-01",
    "2021-10-01",
    "2024-08-01-preview",
];
/// Every version of the policy specs (definitions, assignments, exemptions). az sends 2025-11-01 (and
/// 2026-01-01-preview for exemptions), azure-mgmt-resource-policy 1.0.0 sends 2026-06-01 (newer: served).
const POLICY: &[&str] = &[
    "2015-10-01-preview",
    "2015-11-01",
    "2016-04-01",
    "2016-12-01",
    "2017-06-01-preview",
    "2018-03-01",
    "2018-05-01",
    "2019-01-01",
    "2019-06-01",
    "2019-09-01",
    "2020-03-01",
    "2020-07-01-preview",
    "2020-09-01",
    "2021-06-01",
    "2022-06-01",
    "2022-07-01-preview",
    "2022-08-01-preview",
    "2023-04-01",
    "2024-04-01",
    "2024-05-01",
    "2024-12-01-preview",
    "2025-01-01",
    "2025-03-01",
    "2025-11-01",
    "2025-12-01-preview",
    "2026-01-01-preview",
];
/// The PolicyInsights versions of policy states and remediations (specification/policyinsights:
/// 2018-04-04 … 2024-10-01; az and azure-mgmt-policyinsights send 2019-10-01, 2021-10-01, 2024-10-01).
const POLICY_INSIGHTS: &[&str] = &[
    "2017-08-09-preview",
    "2017-10-17-preview",
    "2017-12-12-preview",
    "2018-04-04",
    "2018-07-01-preview",
    "2019-07-01",
    "2019-10-01",
    "2021-10-01",
    "2022-04-01",
    "2022-09-01",
    "2023-03-01",
    "2024-04-01",
    "2024-10-01",
];
const METADATA: &[&str] = &[
    "2015-01-01",
    "2018-01-01",
    "2019-05-01",
    "2020-06-01",
    "2022-09-01",
];

impl Family {
    pub fn supported(self) -> &'static [&'static str] {
        match self {
            Family::Resources => RESOURCES,
            Family::Subscriptions => SUBSCRIPTIONS,
            Family::SubscriptionLifecycle => SUBSCRIPTION_LIFECYCLE,
            Family::RoleAssignments => ROLE_ASSIGNMENTS,
            Family::RoleDefinitions => ROLE_DEFINITIONS,
            Family::Permissions => PERMISSIONS,
            Family::Locks => LOCKS,
            Family::DenyAssignments => DENY_ASSIGNMENTS,
            Family::ManagedServices => MANAGED_SERVICES,
            Family::ActivityLog => ACTIVITY_LOG,
            Family::Metadata => METADATA,
            Family::Pim => PIM,
            Family::ResourceGraph => RESOURCE_GRAPH,
            Family::Policy => POLICY,
            Family::PolicyInsights => POLICY_INSIGHTS,
            Family::AlertsManagement => ALERTS_MANAGEMENT,
            Family::Generic => &[],
        }
    }
}

/// `YYYY-MM-DD` with an optional `-preview`, `-beta`, `-alpha` or `-privatepreview` suffix.
pub fn is_well_formed(v: &str) -> bool {
    let (date, suffix) = v.split_at(v.len().min(10));
    let b = date.as_bytes();
    let date_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
        && (1..=12).contains(&date[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&date[8..10].parse::<u8>().unwrap_or(0));
    date_ok
        && matches!(
            suffix.to_ascii_lowercase().as_str(),
            "" | "-preview" | "-beta" | "-alpha" | "-privatepreview"
        )
}

/// Check `v` for `family`; `Ok(v)` is the version to serve. ActivityLog and Metadata are exact lists.
pub fn check(family: Family, v: Option<&str>) -> Result<String, ArmError> {
    let v = match v {
        None | Some("") => return Err(ArmError::missing_api_version()),
        Some(v) => v,
    };
    let supported = family.supported();
    if !is_well_formed(v) {
        return Err(ArmError::invalid_api_version(v, supported));
    }
    // exact spelling first (what clients send), then any casing
    if supported.is_empty()
        || supported.contains(&v)
        || supported.iter().any(|s| s.eq_ignore_ascii_case(v))
    {
        return Ok(v.to_string());
    }
    let newest = supported.iter().map(|s| &s[..10]).max().unwrap_or("");
    let exact_only = matches!(family, Family::ActivityLog);
    if !exact_only && v[..10] > *newest {
        return Ok(v.to_string());
    }
    Err(ArmError::invalid_api_version(v, supported))
}

/// Is version `v` at or after `since` (date order; previews of the same date sort before GA)?
pub fn at_least(v: &str, since: &str) -> bool {
    let key = |s: &str| {
        (
            s.get(..10).unwrap_or("").to_string(),
            !s[s.len().min(10)..].is_empty(),
        )
    };
    let (vd, vp) = key(v);
    let (sd, sp) = key(since);
    vd > sd || (vd == sd && (!vp || sp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_case(f: Family, v: Option<&str>, expect: Result<(), &str>) {
        let got = check(f, v).map(|_| ()).map_err(|e| e.code);
        assert_eq!(got, expect.map_err(|s| s.to_string()), "{f:?} {v:?}");
    }

    #[test]
    fn versions() {
        use Family::*;
        check_case(ManagedServices, Some("2019-06-01"), Ok(()));
        check_case(ManagedServices, Some("2030-01-01"), Ok(()));
        check_case(
            ManagedServices,
            Some("2019-06-02"),
            Err("InvalidApiVersionParameter"),
        );
        check_case(
            ManagedServices,
            Some("banana"),
            Err("InvalidApiVersionParameter"),
        );
        check_case(ManagedServices, None, Err("MissingApiVersionParameter"));
        check_case(Generic, Some("2023-09-01"), Ok(()));
        check_case(
            Generic,
            Some("2023-13-01"),
            Err("InvalidApiVersionParameter"),
        );
        check_case(Resources, Some("2025-04-01"), Ok(()));
        check_case(RoleAssignments, Some("2022-04-01"), Ok(()));
        check_case(
            ActivityLog,
            Some("2016-01-01"),
            Err("InvalidApiVersionParameter"),
        );
        assert!(at_least("2022-10-01", "2020-02-01-preview"));
        assert!(!at_least("2019-06-01", "2020-02-01-preview"));
        assert!(at_least("2020-02-01-preview", "2020-02-01-preview"));
    }
}
