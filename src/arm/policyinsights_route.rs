//! Microsoft.PolicyInsights operations as route values: policy states (`queryResults`, `summarize`,
//! `triggerEvaluation`), policy events (`queryResults`) and remediations at any scope, named after the
//! 2024-10-01 policyStates.json, policyEvents.json and remediations.json operationIds (one value per operation, whatever its scope). Pure: no I/O.

use super::error::ArmError;
use super::resource_id::ResourceId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsightsOp {
    /// `PolicyStates_ListQueryResultsFor*` (`latest` or `default`).
    PolicyStatesListQueryResults,
    /// `PolicyStates_SummarizeFor*` (`latest` only).
    PolicyStatesSummarize,
    /// `PolicyStates_TriggerSubscriptionEvaluation` / `_TriggerResourceGroupEvaluation`.
    PolicyStatesTriggerEvaluation,
    /// GET of a trigger's `Location` (`…/providers/Microsoft.PolicyInsights/asyncOperationResults/{id}`).
    PolicyStatesAsyncOperationResults,
    /// `PolicyEvents_ListQueryResultsFor*` (`default`).
    PolicyEventsListQueryResults,
    RemediationsCreateOrUpdate,
    RemediationsGet,
    RemediationsDelete,
    /// `Remediations_ListFor*`.
    RemediationsList,
    RemediationsCancel,
    RemediationsListDeployments,
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl InsightsOp {
    /// The operation of `m` on `id`, `None` when the last provider part is not Microsoft.PolicyInsights'
    /// `policyStates` or `remediations`.
    pub fn parse(m: &str, id: &ResourceId) -> Option<Result<InsightsOp, ArmError>> {
        use InsightsOp::*;
        let last = id.last()?;
        if !eq(&last.namespace, "Microsoft.PolicyInsights") {
            return None;
        }
        let (t, name) = &last.types[0];
        let second = last.types.get(1);
        let depth = last.types.len();
        let op = if eq(t, "policyStates") {
            let res = name.as_deref()?;
            let verb = second.filter(|(_, n)| n.is_none() && depth == 2)?;
            let (latest, default) = (eq(res, "latest"), eq(res, "default"));
            if !latest && !default {
                return None;
            }
            match (verb.0.to_ascii_lowercase().as_str(), m) {
                ("queryresults", "POST") => Some(PolicyStatesListQueryResults),
                ("summarize", "POST") if latest => Some(PolicyStatesSummarize),
                // only at a subscription or a resource group
                ("triggerevaluation", "POST")
                    if latest && id.subscription.is_some() && id.providers.len() == 1 =>
                {
                    Some(PolicyStatesTriggerEvaluation)
                }
                ("queryresults" | "summarize" | "triggerevaluation", _) => None,
                _ => return None,
            }
        } else if eq(t, "policyEvents") {
            // policyEvents.json: `{scope}/providers/Microsoft.PolicyInsights/policyEvents/default/queryResults`
            let res = name.as_deref()?;
            second.filter(|(n, v)| v.is_none() && depth == 2 && eq(n, "queryResults"))?;
            if !eq(res, "default") {
                return None;
            }
            (m == "POST").then_some(PolicyEventsListQueryResults)
        } else if eq(t, "asyncOperationResults") && depth == 1 && name.is_some() {
            (m == "GET").then_some(PolicyStatesAsyncOperationResults)
        } else if eq(t, "remediations") {
            match (
                name.is_some(),
                depth,
                second.map(|s| s.0.to_ascii_lowercase()),
                m,
            ) {
                (true, 1, None, "PUT") => Some(RemediationsCreateOrUpdate),
                (true, 1, None, "GET") => Some(RemediationsGet),
                (true, 1, None, "DELETE") => Some(RemediationsDelete),
                (false, 1, None, "GET") => Some(RemediationsList),
                (true, 2, Some(v), "POST") if v == "cancel" => Some(RemediationsCancel),
                (true, 2, Some(v), "POST") if v == "listdeployments" => {
                    Some(RemediationsListDeployments)
                }
                (_, 1, None, _) => None,
                (true, 2, Some(v), _) if v == "cancel" || v == "listdeployments" => None,
                _ => return None,
            }
        } else {
            return None;
        };
        Some(op.ok_or_else(|| ArmError::method_not_allowed(m)))
    }

    pub fn is_write(self) -> bool {
        use InsightsOp::*;
        matches!(
            self,
            PolicyStatesTriggerEvaluation
                | RemediationsCreateOrUpdate
                | RemediationsDelete
                | RemediationsCancel
        )
    }

    /// The RBAC action as Azure's operations list names it (Microsoft.PolicyInsights operations:
    /// `policyStates/queryResults/read`, `policyStates/summarize/read`,
    /// `policyStates/triggerEvaluation/action`, `remediations/{read,write,delete}`,
    /// `remediations/cancel/action`, `remediations/listDeployments/read`): the POST queries are
    /// read actions, so Reader's `*/read` covers them.
    pub fn action(self) -> &'static str {
        use InsightsOp::*;
        match self {
            PolicyStatesListQueryResults => {
                "Microsoft.PolicyInsights/policyStates/queryResults/read"
            }
            PolicyStatesSummarize => "Microsoft.PolicyInsights/policyStates/summarize/read",
            PolicyStatesTriggerEvaluation => {
                "Microsoft.PolicyInsights/policyStates/triggerEvaluation/action"
            }
            PolicyStatesAsyncOperationResults => {
                "Microsoft.PolicyInsights/asyncOperationResults/read"
            }
            PolicyEventsListQueryResults => {
                "Microsoft.PolicyInsights/policyEvents/queryResults/read"
            }
            RemediationsCreateOrUpdate => "Microsoft.PolicyInsights/remediations/write",
            RemediationsGet | RemediationsList => "Microsoft.PolicyInsights/remediations/read",
            RemediationsDelete => "Microsoft.PolicyInsights/remediations/delete",
            RemediationsCancel => "Microsoft.PolicyInsights/remediations/cancel/action",
            RemediationsListDeployments => {
                "Microsoft.PolicyInsights/remediations/listDeployments/read"
            }
        }
    }

    /// The scope the request is about: the id with its PolicyInsights part removed
    /// (`/subscriptions/s`, a resource, a policy assignment…).
    pub fn scope(id: &ResourceId) -> ResourceId {
        let mut s = id.clone();
        s.providers.pop();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::InsightsOp::*;
    use super::*;

    #[test]
    fn routes_from_the_spec_paths() {
        let s = "/subscriptions/fffedd8f-ffff-fffd-fffd-fffed2f84852";
        let rg = format!("{s}/resourceGroups/myResourceGroup");
        let mg = "/providers/Microsoft.Management/managementGroups/myManagementGroup";
        let res = format!("{rg}/providers/Microsoft.ClassicCompute/domainNames/myDomain");
        let pi = "/providers/Microsoft.PolicyInsights";
        let pa = format!("{s}/providers/Microsoft.Authorization/policyAssignments/ec8f9645");
        let cases: Vec<(&str, String, Option<InsightsOp>)> = vec![
            (
                "POST",
                format!("{mg}{pi}/policyStates/latest/queryResults"),
                Some(PolicyStatesListQueryResults),
            ),
            (
                "POST",
                format!("{s}{pi}/policyStates/default/queryResults"),
                Some(PolicyStatesListQueryResults),
            ),
            (
                "POST",
                format!("{res}{pi}/policyStates/latest/summarize"),
                Some(PolicyStatesSummarize),
            ),
            (
                "POST",
                format!("{pa}{pi}/policyStates/latest/queryResults"),
                Some(PolicyStatesListQueryResults),
            ),
            (
                "POST",
                format!("{s}{pi}/policyStates/latest/triggerEvaluation"),
                Some(PolicyStatesTriggerEvaluation),
            ),
            (
                "POST",
                format!("{rg}{pi}/policyStates/latest/triggerEvaluation"),
                Some(PolicyStatesTriggerEvaluation),
            ),
            (
                "POST",
                format!("{mg}{pi}/policyStates/latest/triggerEvaluation"),
                None,
            ),
            (
                "POST",
                format!("{s}{pi}/policyStates/default/summarize"),
                None,
            ),
            (
                "GET",
                format!("{s}{pi}/policyStates/latest/queryResults"),
                None,
            ),
            (
                "PUT",
                format!("{mg}{pi}/remediations/r1"),
                Some(RemediationsCreateOrUpdate),
            ),
            (
                "GET",
                format!("{res}{pi}/remediations/r1"),
                Some(RemediationsGet),
            ),
            (
                "DELETE",
                format!("{rg}{pi}/remediations/r1"),
                Some(RemediationsDelete),
            ),
            (
                "GET",
                format!("{s}{pi}/remediations"),
                Some(RemediationsList),
            ),
            (
                "POST",
                format!("{s}{pi}/remediations/r1/cancel"),
                Some(RemediationsCancel),
            ),
            (
                "POST",
                format!("{s}{pi}/remediations/r1/listDeployments"),
                Some(RemediationsListDeployments),
            ),
            ("PATCH", format!("{s}{pi}/remediations/r1"), None),
            (
                "GET",
                format!("{s}{pi}/asyncOperationResults/abc"),
                Some(PolicyStatesAsyncOperationResults),
            ),
        ];
        for (m, p, want) in cases {
            let id = ResourceId::parse(&p).unwrap();
            let got = InsightsOp::parse(m, &id).expect(&p).ok();
            assert_eq!(got, want, "{m} {p}");
        }
        let id = ResourceId::parse(&format!("{s}{pi}/policyEvents/latest/queryResults")).unwrap();
        assert!(InsightsOp::parse("POST", &id).is_none());
        let id = ResourceId::parse(&format!("{rg}{pi}/policyEvents/default/queryResults")).unwrap();
        assert_eq!(
            InsightsOp::parse("POST", &id).map(Result::ok),
            Some(Some(PolicyEventsListQueryResults))
        );
        let id = ResourceId::parse(&format!("{pa}{pi}/policyStates/latest/queryResults")).unwrap();
        assert_eq!(InsightsOp::scope(&id).canonical(), pa);
    }
}
