//! Microsoft.AlertsManagement operations as route values, named after the operationIds of
//! AlertsManagement.json 2025-05-25-preview: the alerts at a `{scope}` (a subscription, a resource
//! group or a resource),
//! their history, enrichments and summary, the tenant-level forms (`/providers/…/alerts`), the
//! metadata and the operations list. Pure: no I/O.

use super::error::ArmError;
use super::resource_id::ResourceId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertsOp {
    GetAll,
    GetById,
    ChangeState,
    GetHistory,
    GetEnrichments,
    GetSummary,
    /// `GET /providers/Microsoft.AlertsManagement/alerts`: every alert the caller may read.
    GetAllTenant,
    GetByIdTenant,
    ChangeStateTenant,
    GetHistoryTenant,
    /// `GET /providers/Microsoft.AlertsManagement/alertsMetaData?identifier=MonitorServiceList`.
    MetaData,
    /// `GET /providers/Microsoft.AlertsManagement/operations`.
    OperationsList,
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl AlertsOp {
    /// The operation of `m` on `id`; `None` when the path is not Microsoft.AlertsManagement's alerts,
    /// summary, metadata or operations at a subscription or at tenant level.
    pub fn parse(m: &str, id: &ResourceId) -> Option<Result<AlertsOp, ArmError>> {
        use AlertsOp::*;
        let last = id.last()?;
        if !eq(&last.namespace, "Microsoft.AlertsManagement") {
            return None;
        }
        // `{scope}`: a subscription, a resource group or a resource (one provider part before ours);
        // no scope at all is the tenant-level form
        let tenant = id.subscription.is_none();
        let scoped = match id.providers.len() {
            1 => tenant || id.subscription.as_deref().is_some_and(|s| !s.is_empty()),
            2 => {
                !tenant
                    && id.providers[0]
                        .types
                        .last()
                        .is_some_and(|(_, n)| n.is_some())
            }
            _ => false,
        };
        if !scoped || (tenant && id.resource_group.is_some()) {
            return None;
        }
        let (t, name) = &last.types[0];
        let second = last.types.get(1).map(|(v, n)| (v.as_str(), n.is_some()));
        let op = match (t.to_ascii_lowercase().as_str(), name.is_some(), second) {
            ("alerts", false, None) => {
                (m == "GET").then_some(if tenant { GetAllTenant } else { GetAll })
            }
            ("alerts", true, None) => {
                (m == "GET").then_some(if tenant { GetByIdTenant } else { GetById })
            }
            ("alerts", true, Some((verb, false))) if last.types.len() == 2 => {
                match (verb.to_ascii_lowercase().as_str(), m, tenant) {
                    ("changestate", "POST", false) => Some(ChangeState),
                    ("changestate", "POST", true) => Some(ChangeStateTenant),
                    ("history", "GET", false) => Some(GetHistory),
                    ("history", "GET", true) => Some(GetHistoryTenant),
                    ("enrichments", "GET", false) => Some(GetEnrichments),
                    ("changestate" | "history", _, _) => None,
                    ("enrichments", _, false) => None,
                    _ => return None,
                }
            }
            ("alertssummary", false, None) if !tenant => (m == "GET").then_some(GetSummary),
            ("alertsmetadata", false, None) if tenant => (m == "GET").then_some(MetaData),
            ("operations", false, None) if tenant => (m == "GET").then_some(OperationsList),
            _ => return None,
        };
        Some(op.ok_or_else(|| ArmError::method_not_allowed(m)))
    }

    /// Changes state (a change of an alert's state; the tenant form is authorized in its handler).
    pub fn is_write(self) -> bool {
        self == AlertsOp::ChangeState
    }

    /// Decided inside the handler, alert by alert (the tenant-level forms), or readable by anyone
    /// signed in (metadata, operations).
    pub fn is_self_scoped(self) -> bool {
        use AlertsOp::*;
        matches!(
            self,
            GetAllTenant
                | GetByIdTenant
                | ChangeStateTenant
                | GetHistoryTenant
                | MetaData
                | OperationsList
        )
    }

    /// The RBAC action as Microsoft.AlertsManagement's operations list names it (`alerts/read`,
    /// `alerts/changestate/action`, `alerts/history/read`, `alertsSummary/read`,
    /// `alertsMetaData/read`, `Operations/read`).
    pub fn action(self) -> &'static str {
        use AlertsOp::*;
        match self {
            GetAll | GetById | GetEnrichments | GetAllTenant | GetByIdTenant => {
                "Microsoft.AlertsManagement/alerts/read"
            }
            ChangeState | ChangeStateTenant => {
                "Microsoft.AlertsManagement/alerts/changestate/action"
            }
            GetHistory | GetHistoryTenant => "Microsoft.AlertsManagement/alerts/history/read",
            GetSummary => "Microsoft.AlertsManagement/alertsSummary/read",
            MetaData => "Microsoft.AlertsManagement/alertsMetaData/read",
            OperationsList => "Microsoft.AlertsManagement/Operations/read",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_by_path() {
        use AlertsOp::*;
        let s = "/subscriptions/20000000-0000-0000-0000-000000002001/providers/Microsoft.AlertsManagement";
        let cases: &[(&str, String, Option<AlertsOp>)] = &[
            ("GET", format!("{s}/alerts"), Some(GetAll)),
            ("GET", format!("{s}/alerts/a1"), Some(GetById)),
            (
                "POST",
                format!("{s}/alerts/a1/changestate"),
                Some(ChangeState),
            ),
            ("GET", format!("{s}/alerts/a1/history"), Some(GetHistory)),
            (
                "GET",
                format!("{s}/alerts/a1/enrichments"),
                Some(GetEnrichments),
            ),
            ("GET", format!("{s}/alertsSummary"), Some(GetSummary)),
            (
                "GET",
                "/providers/Microsoft.AlertsManagement/alerts".into(),
                Some(GetAllTenant),
            ),
            (
                "GET",
                "/providers/Microsoft.AlertsManagement/alerts/a1".into(),
                Some(GetByIdTenant),
            ),
            (
                "POST",
                "/providers/Microsoft.AlertsManagement/alerts/a1/changestate".into(),
                Some(ChangeStateTenant),
            ),
            (
                "GET",
                "/providers/Microsoft.AlertsManagement/alerts/a1/history".into(),
                Some(GetHistoryTenant),
            ),
            (
                "GET",
                "/providers/Microsoft.AlertsManagement/alertsMetaData".into(),
                Some(MetaData),
            ),
            (
                "GET",
                "/providers/Microsoft.AlertsManagement/operations".into(),
                Some(OperationsList),
            ),
        ];
        for (m, p, want) in cases {
            let id = ResourceId::parse(p).unwrap();
            let got = AlertsOp::parse(m, &id).map(|r| r.unwrap());
            assert_eq!(&got, want, "{m} {p}");
        }
        // a resource group or a resource as the scope
        let rg = "/subscriptions/s/resourceGroups/rg";
        let vm = format!("{rg}/providers/Microsoft.Compute/virtualMachines/vm1");
        for (m, p, want) in [
            (
                "GET",
                format!("{rg}/providers/Microsoft.AlertsManagement/alerts"),
                GetAll,
            ),
            (
                "GET",
                format!("{vm}/providers/Microsoft.AlertsManagement/alerts/a1/history"),
                GetHistory,
            ),
            (
                "GET",
                format!("{rg}/providers/Microsoft.AlertsManagement/alertsSummary"),
                GetSummary,
            ),
        ] {
            let id = ResourceId::parse(&p).unwrap();
            assert_eq!(
                AlertsOp::parse(m, &id).map(|r| r.unwrap()),
                Some(want),
                "{p}"
            );
        }
        // the wrong method is 405; another namespace, another type of ours, or a resource type
        // without a name before ours is not ours
        let id = ResourceId::parse(&format!("{s}/alerts/a1/history")).unwrap();
        assert!(AlertsOp::parse("POST", &id).unwrap().is_err());
        for p in [
            "/providers/Microsoft.Insights/alerts".to_string(),
            format!("{rg}/providers/Microsoft.AlertsManagement/actionRules/r"),
            format!("{rg}/providers/Microsoft.AlertsManagement/alertsMetaData"),
        ] {
            let id = ResourceId::parse(&p).unwrap();
            assert!(AlertsOp::parse("GET", &id).is_none(), "{p}");
        }
    }
}
