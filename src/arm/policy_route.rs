//! Azure Policy's operations as route values: policy definitions and set definitions (with their
//! versions), assignments and exemptions at any scope, named after the 2025-11-01 policy spec's and the
//! 2024-12-01-preview exemptions spec's operationIds. Pure: no I/O. `Route::Policy` wraps these.

use super::error::ArmError;
use super::resource_id::ResourceId;

/// One operation of the policy specs. The scope (tenant for built-ins, management group, subscription,
/// resource group, resource) is read from the id by the handler, so `PolicyDefinitionsGet` also serves
/// `PolicyDefinitions_GetBuiltIn` and `_GetAtManagementGroup`, and `PolicyDefinitionsList` also
/// `_ListBuiltIn` and `_ListByManagementGroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyOp {
    PolicyDefinitionsCreateOrUpdate,
    PolicyDefinitionsGet,
    PolicyDefinitionsDelete,
    PolicyDefinitionsList,
    PolicyDefinitionVersionsCreateOrUpdate,
    PolicyDefinitionVersionsGet,
    PolicyDefinitionVersionsDelete,
    PolicyDefinitionVersionsList,
    /// `POST {scope}/providers/Microsoft.Authorization/listPolicyDefinitionVersions`.
    PolicyDefinitionVersionsListAll,
    PolicySetDefinitionsCreateOrUpdate,
    PolicySetDefinitionsGet,
    PolicySetDefinitionsDelete,
    PolicySetDefinitionsList,
    PolicySetDefinitionVersionsCreateOrUpdate,
    PolicySetDefinitionVersionsGet,
    PolicySetDefinitionVersionsDelete,
    PolicySetDefinitionVersionsList,
    PolicySetDefinitionVersionsListAll,
    PolicyAssignmentsCreate,
    PolicyAssignmentsGet,
    PolicyAssignmentsUpdate,
    PolicyAssignmentsDelete,
    /// `PolicyAssignments_List`, `_ListForResourceGroup`, `_ListForResource`, `_ListForManagementGroup`.
    PolicyAssignmentsList,
    PolicyExemptionsCreateOrUpdate,
    PolicyExemptionsGet,
    PolicyExemptionsUpdate,
    PolicyExemptionsDelete,
    PolicyExemptionsList,
    /// `PolicyTokens_Acquire` and `_AcquireAtManagementGroup`: `POST {subscription or management
    /// group}/providers/Microsoft.Authorization/acquirePolicyToken`.
    PolicyTokensAcquire,
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl PolicyOp {
    /// The policy operation of `method` on `id`, `None` when the id is not a policy type, or
    /// MethodNotAllowed for a method the spec does not have (a PUT of a built-in at tenant scope).
    pub fn parse(m: &str, id: &ResourceId) -> Option<Result<PolicyOp, ArmError>> {
        use PolicyOp::*;
        let last = id.last()?;
        if !eq(&last.namespace, "Microsoft.Authorization") {
            return None;
        }
        let t = last.types[0].0.to_ascii_lowercase();
        let named = last.types[0].1.is_some();
        let depth = last.types.len();
        // Definitions live at the tenant (built-ins), a management group or a subscription; never
        // below (ARM-FACTS §13.1).
        let tenant = id.subscription.is_none() && id.providers.len() == 1;
        let versions = depth == 2 && eq(&last.types[1].0, "versions") && named;
        let version_named = versions && last.types[1].1.is_some();
        let def = |plain: [PolicyOp; 4], vers: [PolicyOp; 4]| -> Option<PolicyOp> {
            let [put, get, delete, list] = if versions { vers } else { plain };
            let named = if versions { version_named } else { named };
            match (m, named) {
                ("PUT", true) if !tenant => Some(put),
                ("GET", true) => Some(get),
                ("DELETE", true) if !tenant => Some(delete),
                ("GET", false) => Some(list),
                _ => None,
            }
        };
        let op = match t.as_str() {
            "policydefinitions" if depth == 1 || versions => {
                if id.resource_group.is_some() {
                    None
                } else {
                    def(
                        [
                            PolicyDefinitionsCreateOrUpdate,
                            PolicyDefinitionsGet,
                            PolicyDefinitionsDelete,
                            PolicyDefinitionsList,
                        ],
                        [
                            PolicyDefinitionVersionsCreateOrUpdate,
                            PolicyDefinitionVersionsGet,
                            PolicyDefinitionVersionsDelete,
                            PolicyDefinitionVersionsList,
                        ],
                    )
                }
            }
            "policysetdefinitions" if depth == 1 || versions => {
                if id.resource_group.is_some() {
                    None
                } else {
                    def(
                        [
                            PolicySetDefinitionsCreateOrUpdate,
                            PolicySetDefinitionsGet,
                            PolicySetDefinitionsDelete,
                            PolicySetDefinitionsList,
                        ],
                        [
                            PolicySetDefinitionVersionsCreateOrUpdate,
                            PolicySetDefinitionVersionsGet,
                            PolicySetDefinitionVersionsDelete,
                            PolicySetDefinitionVersionsList,
                        ],
                    )
                }
            }
            "listpolicydefinitionversions" if depth == 1 && !named && m == "POST" => {
                Some(PolicyDefinitionVersionsListAll)
            }
            "listpolicysetdefinitionversions" if depth == 1 && !named && m == "POST" => {
                Some(PolicySetDefinitionVersionsListAll)
            }
            "acquirepolicytoken"
                if depth == 1
                    && !named
                    && m == "POST"
                    && id.resource_group.is_none()
                    && (id.subscription.is_some() && id.providers.len() == 1
                        || id.subscription.is_none() && id.providers.len() == 2) =>
            {
                Some(PolicyTokensAcquire)
            }
            "policyassignments" if depth == 1 && !tenant => match (m, named) {
                ("PUT", true) => Some(PolicyAssignmentsCreate),
                ("GET", true) => Some(PolicyAssignmentsGet),
                ("PATCH", true) => Some(PolicyAssignmentsUpdate),
                ("DELETE", true) => Some(PolicyAssignmentsDelete),
                ("GET", false) => Some(PolicyAssignmentsList),
                _ => None,
            },
            "policyexemptions" if depth == 1 && !tenant => match (m, named) {
                ("PUT", true) => Some(PolicyExemptionsCreateOrUpdate),
                ("GET", true) => Some(PolicyExemptionsGet),
                ("PATCH", true) => Some(PolicyExemptionsUpdate),
                ("DELETE", true) => Some(PolicyExemptionsDelete),
                ("GET", false) => Some(PolicyExemptionsList),
                _ => None,
            },
            "policydefinitions"
            | "policysetdefinitions"
            | "policyassignments"
            | "policyexemptions"
            | "listpolicydefinitionversions"
            | "listpolicysetdefinitionversions"
            | "acquirepolicytoken" => None,
            _ => return None,
        };
        Some(op.ok_or_else(|| ArmError::method_not_allowed(m)))
    }

    pub fn is_write(self) -> bool {
        use PolicyOp::*;
        matches!(
            self,
            PolicyDefinitionsCreateOrUpdate
                | PolicyDefinitionsDelete
                | PolicyDefinitionVersionsCreateOrUpdate
                | PolicyDefinitionVersionsDelete
                | PolicySetDefinitionsCreateOrUpdate
                | PolicySetDefinitionsDelete
                | PolicySetDefinitionVersionsCreateOrUpdate
                | PolicySetDefinitionVersionsDelete
                | PolicyAssignmentsCreate
                | PolicyAssignmentsUpdate
                | PolicyAssignmentsDelete
                | PolicyExemptionsCreateOrUpdate
                | PolicyExemptionsUpdate
                | PolicyExemptionsDelete
        )
    }

    /// The RBAC action, as Azure names it (`Microsoft.Authorization/policyAssignments/write`, …).
    pub fn action(self, method: &str, id: &ResourceId) -> String {
        match self {
            PolicyOp::PolicyDefinitionVersionsListAll => {
                "Microsoft.Authorization/policyDefinitions/versions/read".into()
            }
            PolicyOp::PolicySetDefinitionVersionsListAll => {
                "Microsoft.Authorization/policySetDefinitions/versions/read".into()
            }
            _ => id.action(method),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PolicyOp::*;
    use super::*;

    fn check(method: &str, path: &str, want: Option<PolicyOp>, action: &str) {
        let id = ResourceId::parse(path).unwrap();
        let got = PolicyOp::parse(method, &id).and_then(Result::ok);
        assert_eq!(got, want, "{method} {path}");
        if let Some(op) = got {
            assert_eq!(op.action(method, &id), action, "{method} {path}");
        }
    }

    #[test]
    fn routes_from_the_spec_examples() {
        let s = "/subscriptions/ae640e6b-ba3e-4256-9d62-2993eecfa6f2";
        let a = "/providers/Microsoft.Authorization";
        let mg = "/providers/Microsoft.Management/managementGroups/MyManagementGroup";
        let rg = format!("{s}/resourceGroups/TestResourceGroup");
        let res = format!("{rg}/providers/Microsoft.Compute/virtualMachines/MyVm");
        let cases: Vec<(&str, String, Option<PolicyOp>, &str)> = vec![
            (
                "PUT",
                format!("{s}{a}/policyDefinitions/ResourceNaming"),
                Some(PolicyDefinitionsCreateOrUpdate),
                "Microsoft.Authorization/policyDefinitions/write",
            ),
            (
                "GET",
                format!("{a}/policyDefinitions/7433c107-6db4-4ad1-b57a-a76dce0154a1"),
                Some(PolicyDefinitionsGet),
                "Microsoft.Authorization/policyDefinitions/read",
            ),
            (
                "PUT",
                format!("{a}/policyDefinitions/7433c107-6db4-4ad1-b57a-a76dce0154a1"),
                None,
                "",
            ),
            (
                "DELETE",
                format!("{a}/policyDefinitions/7433c107-6db4-4ad1-b57a-a76dce0154a1"),
                None,
                "",
            ),
            (
                "GET",
                format!("{a}/policyDefinitions"),
                Some(PolicyDefinitionsList),
                "Microsoft.Authorization/policyDefinitions/read",
            ),
            (
                "GET",
                format!("{mg}{a}/policyDefinitions"),
                Some(PolicyDefinitionsList),
                "Microsoft.Authorization/policyDefinitions/read",
            ),
            (
                "PUT",
                format!("{s}{a}/policyDefinitions/ResourceNaming/versions/1.2.1"),
                Some(PolicyDefinitionVersionsCreateOrUpdate),
                "Microsoft.Authorization/policyDefinitions/versions/write",
            ),
            (
                "GET",
                format!("{s}{a}/policyDefinitions/ResourceNaming/versions"),
                Some(PolicyDefinitionVersionsList),
                "Microsoft.Authorization/policyDefinitions/versions/read",
            ),
            (
                "POST",
                format!("{s}{a}/listPolicyDefinitionVersions"),
                Some(PolicyDefinitionVersionsListAll),
                "Microsoft.Authorization/policyDefinitions/versions/read",
            ),
            (
                "POST",
                format!("{s}{a}/acquirePolicyToken"),
                Some(PolicyTokensAcquire),
                "Microsoft.Authorization/acquirePolicyToken/action",
            ),
            (
                "POST",
                format!("{mg}{a}/acquirePolicyToken"),
                Some(PolicyTokensAcquire),
                "Microsoft.Authorization/acquirePolicyToken/action",
            ),
            ("GET", format!("{s}{a}/acquirePolicyToken"), None, ""),
            (
                "POST",
                format!("{s}/resourceGroups/rg{a}/acquirePolicyToken"),
                None,
                "",
            ),
            (
                "POST",
                format!("{a}/listPolicySetDefinitionVersions"),
                Some(PolicySetDefinitionVersionsListAll),
                "Microsoft.Authorization/policySetDefinitions/versions/read",
            ),
            (
                "PUT",
                format!("{s}{a}/policySetDefinitions/CostManagement"),
                Some(PolicySetDefinitionsCreateOrUpdate),
                "Microsoft.Authorization/policySetDefinitions/write",
            ),
            (
                "PUT",
                format!("{s}{a}/policyAssignments/EnforceNaming"),
                Some(PolicyAssignmentsCreate),
                "Microsoft.Authorization/policyAssignments/write",
            ),
            (
                "PATCH",
                format!("{rg}{a}/policyAssignments/EnforceNaming"),
                Some(PolicyAssignmentsUpdate),
                "Microsoft.Authorization/policyAssignments/write",
            ),
            (
                "DELETE",
                format!("{res}{a}/policyAssignments/EnforceNaming"),
                Some(PolicyAssignmentsDelete),
                "Microsoft.Authorization/policyAssignments/delete",
            ),
            (
                "GET",
                format!("{res}{a}/policyAssignments"),
                Some(PolicyAssignmentsList),
                "Microsoft.Authorization/policyAssignments/read",
            ),
            (
                "GET",
                format!("{mg}{a}/policyAssignments"),
                Some(PolicyAssignmentsList),
                "Microsoft.Authorization/policyAssignments/read",
            ),
            (
                "PUT",
                format!("{rg}{a}/policyExemptions/DemoExpensiveVM"),
                Some(PolicyExemptionsCreateOrUpdate),
                "Microsoft.Authorization/policyExemptions/write",
            ),
            (
                "GET",
                format!("{s}{a}/policyExemptions"),
                Some(PolicyExemptionsList),
                "Microsoft.Authorization/policyExemptions/read",
            ),
            ("PUT", format!("{rg}{a}/policyDefinitions/x"), None, ""),
        ];
        for (m, p, want, action) in cases {
            check(m, &p, want, action);
        }
        // not a policy type: left to the other routes
        let id = ResourceId::parse(&format!("{s}{a}/locks/x")).unwrap();
        assert!(PolicyOp::parse("GET", &id).is_none());
    }
}
