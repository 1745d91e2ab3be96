//! How each x-ms-example of the ARM specs maps onto the default world (replayed by
//! `spec_replay.rs`): the principal that may do the operation, the world ids that replace the
//! example's made-up ones, prerequisite requests, and the documented exceptions — key paths the
//! emulator does not return for a stated reason, or examples excluded as outside the emulator's
//! model (those count against the README's score).

use crate::*;
use serde_json::{json, Value};

pub struct Spec {
    /// Folder under tests/spec-examples (`{name}/{api-version}`).
    pub dir: &'static str,
    pub title: &'static str,
    pub swaggers: &'static [&'static str],
    pub plan: fn(&str) -> Option<Plan>,
}

pub enum Plan {
    Replay(Case),
    /// Outside the emulator's model, with the reason.
    Excluded(&'static str),
}

pub struct Case {
    pub who: &'static str,
    /// String replacements applied inside the example's parameter values.
    pub subs: Vec<(String, String)>,
    /// Parameters replaced outright, or added (`null` removes one).
    pub set: Vec<(&'static str, Value)>,
    /// Requests made first (after a reset of the world), each must succeed.
    pub setup: Vec<(&'static str, String, Option<Value>)>,
    /// Key paths of the example's response the emulator leaves out, each with the reason.
    pub missing_ok: Vec<(&'static str, &'static str)>,
    /// Parameters taken from the world after the setup (ids it makes up, like a fired alert's):
    /// the parameter, a GET path, and the JSON pointer of a string whose last `/` segment is used.
    pub pick: Vec<(&'static str, String, &'static str)>,
    /// Requests made after the picks (each must succeed), `{param}` in the path replaced by the
    /// picked value: a change to what setup made by an id only the world knows.
    pub after: Vec<(&'static str, String, Option<Value>)>,
}

impl Case {
    pub fn new(who: &'static str, subs: &[(&str, &str)]) -> Case {
        Case {
            who,
            subs: subs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            set: Vec::new(),
            setup: Vec::new(),
            missing_ok: Vec::new(),
            pick: Vec::new(),
            after: Vec::new(),
        }
    }
    pub fn sub(mut self, from: &str, to: &str) -> Case {
        self.subs.push((from.to_string(), to.to_string()));
        self
    }
    pub fn set(mut self, name: &'static str, v: Value) -> Case {
        self.set.push((name, v));
        self
    }
    pub fn setup(mut self, method: &'static str, path: String, body: Option<Value>) -> Case {
        self.setup.push((method, path, body));
        self
    }
    pub fn pick(mut self, param: &'static str, get: String, pointer: &'static str) -> Case {
        self.pick.push((param, get, pointer));
        self
    }
    pub fn then(mut self, method: &'static str, path: String, body: Option<Value>) -> Case {
        self.after.push((method, path, body));
        self
    }
    pub fn missing(mut self, path: &'static str, why: &'static str) -> Case {
        self.missing_ok.push((path, why));
        self
    }
    pub fn go(self) -> Option<Plan> {
        Some(Plan::Replay(self))
    }
}

pub const SPECS: &[Spec] = &[
    Spec {
        dir: "subscriptions/2022-12-01",
        title: "Microsoft.Resources subscriptions",
        swaggers: &["subscriptions.json"],
        plan: subscriptions,
    },
    Spec {
        dir: "resources/2025-04-01",
        title: "Microsoft.Resources resources",
        swaggers: &["resources.json"],
        plan: resources,
    },
    Spec {
        dir: "deployments/2025-04-01",
        title: "Microsoft.Resources deployments",
        swaggers: &["deployments.json"],
        plan: deployments,
    },
    Spec {
        dir: "locks/2020-05-01",
        title: "Microsoft.Authorization locks",
        swaggers: &["locks.json"],
        plan: locks,
    },
    Spec {
        dir: "authorization/2022-04-01",
        title:
            "Microsoft.Authorization role definitions, assignments, deny assignments, permissions",
        swaggers: &[
            "authorization-RoleAssignmentsCalls.json",
            "authorization-RoleDefinitionsCalls.json",
            "authorization-DenyAssignmentCalls.json",
        ],
        plan: authorization,
    },
    Spec {
        dir: "policy/2025-11-01",
        title: "Microsoft.Authorization policy definitions, set definitions, assignments",
        swaggers: &["openapi.json"],
        plan: crate::spec_plans_policy::policy,
    },
    Spec {
        dir: "policyexemptions/2024-12-01-preview",
        title: "Microsoft.Authorization policy exemptions",
        swaggers: &["policyExemptions.json"],
        plan: crate::spec_plans_policy::policy,
    },
    Spec {
        dir: "policystates/2024-10-01",
        title: "Microsoft.PolicyInsights policy states",
        swaggers: &["policyStates.json"],
        plan: crate::spec_plans_policyinsights::policy_states,
    },
    Spec {
        dir: "remediations/2024-10-01",
        title: "Microsoft.PolicyInsights remediations",
        swaggers: &["remediations.json"],
        plan: crate::spec_plans_policyinsights::remediations,
    },
    Spec {
        dir: "managementgroups/2023-04-01",
        title: "Microsoft.Management management groups",
        swaggers: &["management.json"],
        plan: managementgroups,
    },
    Spec {
        dir: "resourcegraph/2024-04-01",
        title: "Microsoft.ResourceGraph resources",
        swaggers: &["resourcegraph.json"],
        plan: resourcegraph,
    },
    Spec {
        dir: "operationalinsights/2025-07-01",
        title: "Microsoft.OperationalInsights workspaces",
        swaggers: &["Workspaces.json"],
        plan: workspaces,
    },
    Spec {
        dir: "actiongroups/2026-09-01",
        title: "Microsoft.Insights action groups",
        swaggers: &["actionGroups.json"],
        plan: crate::spec_plans_monitor::action_groups,
    },
    Spec {
        dir: "activitylogalerts/2020-10-01",
        title: "Microsoft.Insights activity log alerts",
        swaggers: &["activityLogAlerts_API.json"],
        plan: crate::spec_plans_monitor::activity_log_alerts,
    },
    Spec {
        dir: "scheduledqueryrules/2018-04-16",
        title: "Microsoft.Insights scheduled query rules (legacy log alerts)",
        swaggers: &["scheduledQueryRule_API.json"],
        plan: crate::spec_plans_monitor::scheduled_query_rules_2018,
    },
    Spec {
        dir: "scheduledqueryrules/2023-12-01",
        title: "Microsoft.Insights scheduled query rules",
        swaggers: &["scheduledQueryRule_API.json"],
        plan: crate::spec_plans_monitor::scheduled_query_rules_2023,
    },
    Spec {
        dir: "alertsmanagement/2025-05-25-preview",
        title: "Microsoft.AlertsManagement alerts",
        swaggers: &["AlertsManagement.paths.json"],
        plan: crate::spec_plans_alerts::alerts,
    },
    Spec {
        dir: "datacollectionendpoints/2022-06-01",
        title: "Microsoft.Insights data collection endpoints",
        swaggers: &["dataCollectionEndpoints_API.paths.json"],
        plan: crate::spec_plans_datacollection::data_collection_endpoints,
    },
    Spec {
        dir: "datacollectionrules/2023-03-11",
        title: "Microsoft.Insights data collection rules",
        swaggers: &["dataCollectionRules_API.paths.json"],
        plan: crate::spec_plans_datacollection::data_collection_rules,
    },
];

/// The examples' workspace `oiautorest6685` in fabrikam-prod's rg-web, as admin@fabrikam (the
/// example's resource group has the workspace's name, so it is set, not substituted).
fn workspaces(name: &str) -> Option<Plan> {
    let ws = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.OperationalInsights/workspaces/oiautorest6685?api-version=2025-07-01");
    let gone = ws.replace("oiautorest6685", "ws-deleted");
    let base = || {
        Case::new(
            "admin@fabrikam",
            &[("00000000-0000-0000-0000-00000000000", FABRIKAM_PROD)],
        )
        .set("resourceGroupName", json!("rg-web"))
    };
    let existing = |c: Case| {
        c.setup(
            "PUT",
            ws.clone(),
            Some(json!({"location": "eastus", "tags": {"tag1": "val1"}})),
        )
    };
    match name {
        "WorkspacesCreate" => existing(base()).go(),
        // these two examples are shared by Workspaces_List* and DeletedWorkspaces_List*: one
        // workspace lives, another (tagged alike) was deleted and stays soft-deleted
        "WorkspacesSubscriptionList" | "WorkspacesListByResourceGroup" => existing(base())
            .setup(
                "PUT",
                gone.clone(),
                Some(json!({"location": "eastus", "tags": {"tag1": "val1"}})),
            )
            .setup("DELETE", gone.clone(), None)
            .go(),
        "WorkspacesDelete" => existing(base()).go(),
        "WorkspacesGet" => existing(base())
            .missing(
                ".properties.replication*",
                "workspace replication (a second region) is not modelled",
            )
            .missing(
                ".properties.failover*",
                "workspace failover is not modelled",
            )
            .go(),
        "WorkspacesUpdate" => existing(base())
            .missing(
                ".properties.workspaceCapping.quotaNextResetTime",
                "no daily cap is ever reached: there is no reset time to report",
            )
            .go(),
        _ => None,
    }
}

/// admin@fabrikam, Owner of Fabrikam's root group: the examples' groups made under it (the root is
/// named after the tenant id), their subscriptions fabrikam-dev.
fn managementgroups(name: &str) -> Option<Plan> {
    const MG_API: &str = "api-version=2023-04-01";
    let group = |name: &str, parent: &str| {
        (
            "PUT",
            format!("/providers/Microsoft.Management/managementGroups/{name}?{MG_API}"),
            Some(
                json!({"properties": {"displayName": format!("{name} display"), "details": {"parent": {"id": format!("/providers/Microsoft.Management/managementGroups/{parent}")}}}}),
            ),
        )
    };
    let move_in = |g: &str| {
        (
            "PUT",
            format!("/providers/Microsoft.Management/managementGroups/{g}/subscriptions/{FABRIKAM_DEV}?{MG_API}"),
            None,
        )
    };
    let settings = || {
        (
            "PUT",
            format!("/providers/Microsoft.Management/managementGroups/{FABRIKAM}/settings/default?{MG_API}"),
            Some(json!({"properties": {"requireAuthorizationForGroupCreation": true,
                "defaultManagementGroup": "/providers/Microsoft.Management/managementGroups/DefaultGroup"}})),
        )
    };
    let base = || {
        Case::new(
            "admin@fabrikam",
            &[
                ("RootGroup", FABRIKAM),
                ("728bcbe4-8d56-4510-86c2-4921b8beefbc", FABRIKAM_DEV),
            ],
        )
    };
    let with = |c: Case, (m, p, b): (&'static str, String, Option<Value>)| c.setup(m, p, b);
    let group1 = || with(base(), group("Group1", FABRIKAM)).set("groupId", json!("Group1"));
    let default_group = || with(base(), group("DefaultGroup", FABRIKAM));
    match name {
        "ListManagementGroups" | "ListOperations" | "StartTenantBackfillRequest"
        | "TenantBackfillStatusRequest" => base().go(),
        "GetManagementGroup" | "GetManagementGroupWithAncestors" | "GetManagementGroupWithPath"
        | "GetEntities" => group1().go(),
        "GetManagementGroupWithExpand" | "GetDescendants" => {
            with(with(group1(), group("Group2", "Group1")), move_in("Group1")).go()
        }
        "GetManagementGroupWithExpandAndRecurse" => with(
            with(with(group1(), group("Child", "Group1")), group("Leaf", "Child")),
            move_in("Leaf"),
        )
        .go(),
        "PutManagementGroup" => base().go(),
        "PatchManagementGroup" => with(
            with(base(), group("ChildGroup", FABRIKAM)),
            group("AlternateRootGroup", FABRIKAM),
        )
        // set after the mapping, so RootGroup inside AlternateRootGroup stays
        .set("patchGroupRequest", json!({"displayName": "AlternateDisplayName",
            "parentGroupId": "/providers/Microsoft.Management/managementGroups/AlternateRootGroup"}))
        .go(),
        "DeleteManagementGroup" => with(base(), group("GroupToDelete", FABRIKAM)).go(),
        "PutHierarchySettings" => default_group().set("groupId", json!(FABRIKAM)).go(),
        "GetHierarchySettings" | "ListHierarchySettings" | "PatchHierarchySettings"
        | "DeleteHierarchySettings" => with(default_group(), settings())
            .set("groupId", json!(FABRIKAM))
            .go(),
        "GetAllSubscriptionsFromManagementGroup" | "RemoveManagementGroupSubscription" => {
            with(with(base(), group("Group", FABRIKAM)), move_in("Group")).go()
        }
        "AddManagementGroupSubscription" => with(base(), group("Group", FABRIKAM)).go(),
        "CheckManagementGroupNameAvailability" => {
            with(base(), group("nameTocheck", FABRIKAM)).go()
        }
        "GetSubscriptionFromManagementGroup" => Some(Plan::Excluded(
            "the swagger references GetSubscriptionFromManagementGroup.json, which the stored upstream copy does not have",
        )),
        _ => None,
    }
}

/// The examples' made-up subscription, queried by admin@fabrikam as fabrikam-prod (a VM, a vnet, a
/// storage account and a key vault: what the example queries look for).
fn resourcegraph(name: &str) -> Option<Plan> {
    let base = || {
        Case::new(
            "admin@fabrikam",
            &[("cfbbd179-59d2-4052-aa06-9270a38aa9d6", FABRIKAM_PROD)],
        )
    };
    // enough resources named 'test' for the paging examples (a first page of 3, a page of 2 after 10)
    let tests = |mut c: Case| {
        for i in 0..14 {
            c = c.setup(
                "PUT",
                format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Network/networkSecurityGroups/test-nsg-{i:02}?api-version=2023-09-01"),
                Some(json!({"location": "westeurope"})),
            );
        }
        c
    };
    let tagged = |c: Case| {
        let (m, p, b) = (
            "PUT",
            format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-01/providers/Microsoft.Resources/tags/default?api-version=2021-04-01"),
            Some(json!({"properties": {"tags": {"tag1": "Value1"}}})),
        );
        c.setup(m, p, b)
    };
    match name {
        "OperationsList" | "ResourcesComplexQuery" | "ResourcesFacetQuery"
        | "ResourcesFilterQuery" | "ResourcesSummarizeQuery" => base().go(),
        "ResourcesBasicQuery" | "ResourcesTenantBasicQuery" => tagged(base()).go(),
        "ResourcesFirstPageQuery" | "ResourcesRandomPageQuery" => tests(base()).go(),
        // the example's $skipToken is another service's; ours says where the next page starts
        "ResourcesNextPageQuery" => tests(base())
            .set("query", json!({"options": {"$skipToken": "eyIkc2tpcCI6Mn0="},
                "query": "Resources | where name contains 'test' | project id, name, type, location",
                "subscriptions": [FABRIKAM_PROD]}))
            .missing(".$skipToken", "a page holds up to 1 000 rows, and fewer than that match in the world")
            .go(),
        "ResourcesPropertiesQuery" => base()
            .missing(".data[].count", "summarize count() names its column count_ in Kusto and in ARG's documented samples (`order by count_ desc`); this example shows count")
            .go(),
        // the example's first group is Fabrikam's root (both its subscriptions); ProductionMG does
        // not exist, and ARG leaves it out silently
        "ResourcesMgBasicQuery" => {
            tagged(base().sub("e927f598-c1d4-4f72-8541-95d83a6a4ac8", FABRIKAM)).go()
        }
        _ => None,
    }
}

const API: &str = "api-version=2022-12-01";
const NO_NEXT_PAGE: &str =
    "the emulator answers every item in one page, and ARM leaves nextLink out of the last page";

fn tags_at(scope: &str) -> (&'static str, String, Option<Value>) {
    (
        "PUT",
        format!("{scope}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01"),
        Some(json!({"properties": {"tags": {"tagKey1": "tag-value-1", "tagKey2": "tag-value-2"}}})),
    )
}

fn subscriptions(name: &str) -> Option<Plan> {
    let prod = format!("/subscriptions/{FABRIKAM_PROD}");
    let dev = format!("/subscriptions/{FABRIKAM_DEV}");
    let base = || {
        Case::new(
            "admin@fabrikam",
            &[
                ("291bba3f-e0a5-47bc-a099-3bdcb2a50a05", FABRIKAM_PROD),
                ("a1ffc958-d2c7-493e-9f1e-125a0477f536", FABRIKAM_PROD),
                ("8d65815f-a5b6-402f-9298-045155da7d74", FABRIKAM_PROD),
                ("11111111-1111-1111-1111-111111111111", FABRIKAM_DEV),
            ],
        )
    };
    let _ = API;
    match name {
        "CheckResourceName" => base().go(),
        "GetSubscriptions" => {
            let mut c = base().missing(".nextLink", NO_NEXT_PAGE);
            for s in [&prod, &dev] {
                let (m, p, b) = tags_at(s);
                c = c.setup(m, p, b);
            }
            c.go()
        }
        "GetSubscription" => {
            let (m, p, b) = tags_at(&prod);
            base().setup(m, p, b).go()
        }
        "GetLocationsPolicyAware" | "GetLocationsPolicyAwareWithExtendedLocations" => base()
            .missing(
                ".value[].policyRestrictions.reason",
                "a reason is given only for a restricted region; no system policy restricts a region in the emulator",
            )
            .go(),
        "GetLocations"
        | "GetLocationsPolicyAwareFalse"
        | "GetLocationsWithExtendedLocations" => base().go(),
        "GetLocationsPolicyAwareEvaluationUnavailable" => base()
            .missing(
                ".value[].policyRestrictions.reason",
                "a reason is given only when policy evaluation is unavailable; the emulator always evaluates (no policy restricts a region)",
            )
            .go(),
        "PostCheckZonePeers" => base().go(),
        "GetTenants" => base()
            .missing(".nextLink", NO_NEXT_PAGE)
            .missing(
                ".value[].tenantBrandingLogoUrl",
                "only tenants with a branding logo have one; the world's tenants have none",
            )
            .go(),
        _ => None,
    }
}

const NO_EDGE_ZONES: &str = "ARM lists locationMappings only for types offered in extended locations (edge zones); the emulator has none";
const NO_ALIASES: &str = "Azure Policy aliases are not modelled (the emulator has no Azure Policy)";
const EXPORTED_ALL: &str = "ARM adds the error ExportTemplateCompletedWithErrors only when some resources could not be exported; the emulator exports every resource";
const EXAMPLE_NAMES: &str = "names made up by the example (its resources' parameters and properties); the world's resources have their own";

fn resources(name: &str) -> Option<Plan> {
    let base = || {
        Case::new(
            "admin@fabrikam",
            &[
                ("00000000-0000-0000-0000-000000000000", FABRIKAM_PROD),
                (
                    "my-resource-group/providers/myPRNameSpace/VM/myVm",
                    "rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata",
                ),
                (
                    "my-resource-group/providers/My.RP/myResourceType/myFirstResource",
                    "rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata",
                ),
            ],
        )
    };
    match name {
        "GetProviderPermissions" => Some(Plan::Excluded(
            "providerPermissions lists the role definitions of resource providers' first-party service principals, which the emulator does not model (the route is not served)",
        )),
        "GetProviders" => base()
            .missing(".value[].resourceTypes[].locationMappings*", NO_EDGE_ZONES)
            .missing(".value[].resourceTypes[].aliases", NO_ALIASES)
            .go(),
        "GetProvider" => base()
            .set("resourceProviderNamespace", json!("Microsoft.Compute"))
            .missing(".resourceTypes[].locationMappings*", NO_EDGE_ZONES)
            .go(),
        "GetProviderResourceTypes" => base()
            .set("resourceProviderNamespace", json!("Microsoft.Compute"))
            .missing(".value[].locationMappings*", NO_EDGE_ZONES)
            .go(),
        "GetNamedProviderAtTenant" => base()
            .missing(".resourceTypes[].aliases*", NO_ALIASES)
            .missing(
                ".resourceTypes[].apiProfiles*",
                "API profiles (the Azure Stack hybrid profiles) are not modelled",
            )
            .go(),
        "CreateResourceGroup" => base().go(),
        "ForceDeleteVMsInResourceGroup" | "ForceDeleteVMsAndVMSSInResourceGroup" => {
            base().sub("my-resource-group", "rg-web").go()
        }
        "ExportResourceGroup" => base()
            .sub("my-resource-group", "rg-data")
            .missing(".error*", EXPORTED_ALL)
            .missing(".template.parameters.myResourceType_*", EXAMPLE_NAMES)
            .missing(".template.resources[].properties.*", EXAMPLE_NAMES)
            .go(),
        "ExportResourceGroupWithFiltering" => base()
            .sub("my-resource-group", "rg-data")
            .missing(".template.parameters.myResourceType_*", EXAMPLE_NAMES)
            .missing(".template.resources[].properties.*", EXAMPLE_NAMES)
            .go(),
        "ExportResourceGroupAsBicep" => base()
            .sub("my-resource-group", "rg-data")
            .missing(".error*", EXPORTED_ALL)
            .go(),
        "PutTagsResource" | "PutTagsSubscription" | "PatchTagsResource"
        | "PatchTagsSubscription" | "DeleteTagsResource" | "DeleteTagsSubscription" => base().go(),
        "GetTagsResource" => {
            let (m, p, b) = tags_at(&format!(
                "/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata"
            ));
            base().setup(m, p, b).go()
        }
        "GetTagsSubscription" => {
            let (m, p, b) = tags_at(&format!("/subscriptions/{FABRIKAM_PROD}"));
            base().setup(m, p, b).go()
        }
        _ => None,
    }
}

/// What a deployment example sends in place of its `templateLink.uri`: at resource-group scope a
/// storage account of the world, at subscription scope its resource group, re-deployed with the
/// example's new tags (so a what-if shows a Modify with its delta).
fn inline_template(subscription_scope: bool) -> Value {
    let tags = json!({"myNewTag": "my-new-value", "myOtherNewTag": "my-other-new-value"});
    let resource = if subscription_scope {
        json!({"type": "Microsoft.Resources/resourceGroups", "apiVersion": "2022-09-01",
               "name": "rg-data", "location": "westeurope", "tags": tags})
    } else {
        json!({"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01",
               "name": "fabrikamdata", "location": "westeurope",
               "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "tags": tags})
    };
    let mut resources = vec![resource];
    if !subscription_scope {
        // a dependent resource, so the deployment lists its dependencies as the examples do
        resources.push(json!({
            "type": "Microsoft.Storage/storageAccounts/blobServices/containers", "apiVersion": "2023-05-01",
            "name": "fabrikamdata/default/replayed",
            "dependsOn": ["[resourceId('Microsoft.Storage/storageAccounts', 'fabrikamdata')]"]
        }));
    }
    json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": resources
    })
}

const NO_NETWORK: &str = "the emulator has no network: the example's templateLink URI is replaced by an inline template, so the answer has no templateLink";
const NO_TENANT_DEPLOYMENTS: &str = "tenant-level deployments (and the scope extension form of this one) are outside the emulator's model: it serves deployments at management-group, subscription and resource-group scope";

/// At Fabrikam's root group (admin@fabrikam owns it), the example's group id mapped onto it.
fn at_group() -> Case {
    Case::new(
        "admin@fabrikam",
        &[
            ("my-management-group-id", FABRIKAM),
            ("myManagementGruop", FABRIKAM),
        ],
    )
}

/// A role assignment at Fabrikam's root: Reader for reader@fabrikam, with a description.
fn mg_assignment(description: &str) -> (&'static str, String, Option<Value>) {
    (
        "PUT",
        format!("/providers/Microsoft.Management/managementGroups/{FABRIKAM}/providers/Microsoft.Authorization/roleAssignments/{MG_RA}?api-version=2022-04-01"),
        Some(json!({"properties": {"roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{READER}"),
            "principalId": READER_AT_FABRIKAM, "description": description}})),
    )
}

const MG_RA: &str = "5a1e0000-0000-4000-8000-000000000001";

/// A management-group deployment of two role assignments at the group, the second depending on the
/// first (the examples' templateLink replaced by the template itself).
fn mg_body() -> Value {
    let ra = |name: &str, role: &str, description: &str, depends: bool| {
        let mut r = json!({"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
            "name": name,
            "properties": {"roleDefinitionId": format!("[tenantResourceId('Microsoft.Authorization/roleDefinitions', '{role}')]"),
                "principalId": READER_AT_FABRIKAM, "description": description,
                "scope": "[managementGroup().id]"}});
        if depends {
            r["dependsOn"] = json!([MG_RA]);
        }
        r
    };
    json!({"location": "eastus", "properties": {"mode": "Incremental", "parameters": {}, "template": {
    "$schema": "https://schema.management.azure.com/schemas/2019-08-01/managementGroupDeploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "resources": [
        ra(MG_RA, READER, "after", false),
        ra("5a1e0000-0000-4000-8000-000000000002", MONITORING_READER, "second", true),
    ]}}})
}

fn deployments(name: &str) -> Option<Plan> {
    let rg = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data");
    let spec = format!("{rg}/providers/Microsoft.Resources/templateSpecs/TemplateSpec-Name");
    let base = || {
        Case::new(
            "admin@fabrikam",
            &[
                ("00000000-0000-0000-0000-000000000001", FABRIKAM_PROD),
                ("00000000-0000-0000-0000-000000000000", FABRIKAM_PROD),
                ("my-resource-group", "rg-data"),
            ],
        )
    };
    // The example's `parameters` body with the templateLink replaced by the template itself.
    let inline = |ex: &str| {
        let path = format!(
            "{}/tests/spec-examples/deployments/2025-04-01/examples/{ex}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let e: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut body = e["parameters"]["parameters"].clone();
        body["properties"]
            .as_object_mut()
            .unwrap()
            .remove("templateLink");
        body["properties"]["template"] = inline_template(ex.contains("Subscription"));
        body
    };
    let with_spec = |c: Case, subscription_scope: bool| {
        c.setup(
            "PUT",
            format!("{spec}?api-version=2022-02-01"),
            Some(json!({"location": "westeurope", "properties": {"description": "replayed"}})),
        )
        .setup(
            "PUT",
            format!("{spec}/versions/v1?api-version=2022-02-01"),
            Some(json!({"location": "westeurope",
                        "properties": {"mainTemplate": inline_template(subscription_scope)}})),
        )
    };
    match name {
        "PutDeploymentAtScope"
        | "PutDeploymentAtTenant"
        | "PostDeploymentValidateOnTenant"
        | "PostDeploymentWhatIfOnTenant" => Some(Plan::Excluded(NO_TENANT_DEPLOYMENTS)),
        "PutDeploymentAtManagementGroup" => at_group().set("parameters", mg_body()).go(),
        "PostDeploymentValidateOnManagementGroup" => at_group()
            .set("parameters", mg_body())
            .missing(".properties.templateLink*", NO_NETWORK)
            .missing(
                ".properties.diagnostics*",
                "diagnostics are listed only when validation has warnings (the example's come from short-circuited nested deployments); this template has none",
            )
            .go(),
        "PostDeploymentWhatIfOnManagementGroup" => {
            let mut c = at_group()
                .set("groupId", json!(FABRIKAM))
                .set("parameters", mg_body());
            // the role assignment the template changes (its description), so a Modify shows
            let (m, p, b) = mg_assignment("before");
            c = c.setup(m, p, b);
            for path in [
                ".properties.changes[].after.before*",
                ".properties.changes[].after.changeType",
                ".properties.changes[].after.delta*",
                ".properties.changes[].after.resourceId",
            ] {
                c = c.missing(path, "the example's 'after' of its first change nests a whole second change (before, delta, changeType): a copy-paste slip upstream, not what ARM returns");
            }
            for path in [
                ".properties.changes[].before.location",
                ".properties.changes[].after.location",
                ".properties.changes[].before.properties.enforcementMode",
                ".properties.changes[].after.properties.enforcementMode",
                ".properties.changes[].before.properties.policyDefinitionId",
                ".properties.changes[].after.properties.policyDefinitionId",
            ] {
                c = c.missing(path, "the example's resources are policy assignments (location, enforcementMode, policyDefinitionId); the replayed template changes role assignments, which have none of those");
            }
            c.go()
        }
        "PostDeploymentValidateOnScope"
        | "PostDeploymentValidateOnSubscription"
        | "PostDeploymentValidateOnResourceGroup" => base()
            .set("parameters", inline(name))
            .missing(".properties.templateLink*", NO_NETWORK)
            .missing(
                ".properties.diagnostics*",
                "diagnostics are listed only when validation has warnings (the example's come from short-circuited nested deployments); this template has none",
            )
            .go(),
        "PutDeploymentResourceGroup" => base()
            .set("parameters", inline(name))
            .missing(".properties.templateLink*", NO_NETWORK)
            .go(),
        "PutDeploymentWithOnErrorDeploymentLastSuccessful"
        | "PutDeploymentWithOnErrorDeploymentSpecificDeployment" => {
            let mut body = inline(name);
            if let Some(od) = body["properties"]["onErrorDeployment"].as_object_mut() {
                if od.contains_key("deploymentName") {
                    od.insert("deploymentName".into(), json!("name-of-deployment-to-use"));
                }
            }
            base()
                .setup(
                    "PUT",
                    format!("{rg}/providers/Microsoft.Resources/deployments/name-of-deployment-to-use?api-version=2025-04-01"),
                    Some(json!({"properties": {"mode": "Incremental", "template": inline_template(false)}})),
                )
                .set("parameters", body)
                .missing(".properties.templateLink*", NO_NETWORK)
                .go()
        }
        "PostDeploymentWhatIfOnSubscription" | "PostDeploymentWhatIfOnResourceGroup" => {
            base().set("parameters", inline(name)).go()
        }
        "PutDeploymentSubscriptionTemplateSpecsWithId" => with_spec(base(), true).go(),
        "PutDeploymentResourceGroupTemplateSpecsWithId" => with_spec(base(), false).go(),
        "PutDeploymentWithExternalInputs" | "CalculateTemplateHash" => base().go(),
        _ => None,
    }
}

fn locks(name: &str) -> Option<Plan> {
    let rg = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data");
    let sa = format!("{rg}/providers/Microsoft.Storage/storageAccounts/fabrikamdata");
    let sub = format!("/subscriptions/{FABRIKAM_PROD}");
    let lock = |scope: &str| {
        (
            "PUT",
            format!(
                "{scope}/providers/Microsoft.Authorization/locks/testlock?api-version=2020-05-01"
            ),
            Some(json!({"properties": {"level": "CanNotDelete"}})),
        )
    };
    let base = |scope: Option<&str>| {
        let c = Case::new(
            "admin@fabrikam",
            &[
                (
                    "subscriptions/subscriptionId",
                    &format!("subscriptions/{FABRIKAM_PROD}"),
                ),
                ("subscriptionId", FABRIKAM_PROD),
                ("resourcegroupname", "rg-data"),
                ("teststorageaccount", "fabrikamdata"),
            ],
        )
        .set("parentResourcePath", json!(""));
        match scope {
            Some(s) => {
                let (m, p, b) = lock(s);
                c.setup(m, p, b)
            }
            None => c,
        }
    };
    match name {
        "ListProviderOperations" => base(None).go(),
        "ManagementLocks_CreateOrUpdateAtResourceGroupLevel"
        | "ManagementLocks_CreateOrUpdateAtScope"
        | "ManagementLocks_CreateOrUpdateAtResourceLevel"
        | "ManagementLocks_CreateOrUpdateAtSubscriptionLevel" => base(None).go(),
        "ManagementLocks_DeleteAtResourceGroupLevel" | "ManagementLocks_ListAtResourceGroupLevel" => {
            base(Some(&rg)).go()
        }
        "ManagementLocks_GetAtResourceGroupLevel" => Some(Plan::Excluded(
            "the example file is referenced by locks.json but missing upstream in the stored copy of the specs",
        )),
        "ManagementLocks_DeleteAtScope"
        | "ManagementLocks_GetAtScope"
        | "ManagementLocks_ListAtScope"
        | "ManagementLocks_DeleteAtSubscriptionLevel"
        | "ManagementLocks_GetAtSubscriptionLevel"
        | "ManagementLocks_ListAtSubscriptionLevel" => base(Some(&sub)).go(),
        "ManagementLocks_DeleteAtResourceLevel"
        | "ManagementLocks_GetAtResourceLevel"
        | "ManagementLocks_ListAtResourceLevel" => base(Some(&sa)).go(),
        _ => None,
    }
}

/// Monitoring Reader: a built-in role nobody holds in fabrikam-prod.
const MONITORING_READER: &str = "43d0d8ad-25c7-4714-9337-8ba259a9fe05";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const READER_AT_FABRIKAM: &str = "30000000-0000-0000-0000-000000002112";
const CUSTOM_ROLE: &str = "7a1c1f5e-6d0a-4c1f-9b4e-3f1d2a9c8b01";

const NOBODY_EXCLUDED: &str = "the world's only deny assignment (the managed application's) excludes nobody: default-world.md says nobody, the customer included, may change mrg-tailspin-app";

fn authorization(name: &str) -> Option<Plan> {
    let sub = format!("/subscriptions/{FABRIKAM_PROD}");
    let ra = |scope: &str, name: &str| {
        (
            "PUT",
            format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{MONITORING_READER}"),
                "principalId": READER_AT_FABRIKAM}})),
        )
    };
    let custom_role = json!({"properties": {
        "roleName": "Replayed custom role",
        "description": "Role description",
        "assignableScopes": [sub.clone()],
        "permissions": [{"actions": ["Microsoft.Storage/storageAccounts/read"], "notActions": [],
                         "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
                         "notDataActions": []}]}});
    let fabrikam = || {
        Case::new(
            "admin@fabrikam",
            &[
                ("a925f2f7-5c63-4b7b-8799-25a5f97bc3b2", FABRIKAM_PROD),
                ("ce2ce14e-85d7-4629-bdbc-454d0519d987", READER_AT_FABRIKAM),
                ("0b5fe924-9a61-425c-96af-cfe6e287ca2d", MONITORING_READER),
                ("testrg", "rg-data"),
                (
                    "providers/Microsoft.DocumentDb/databaseAccounts/test-db-account",
                    "providers/Microsoft.Storage/storageAccounts/fabrikamdata",
                ),
            ],
        )
    };
    let on_account = |c: Case| {
        c.set("resourceGroupName", json!("rg-data"))
            .set("resourceProviderNamespace", json!("Microsoft.Storage"))
            .set("parentResourcePath", json!(""))
            .set("resourceType", json!("storageAccounts"))
            .set("resourceName", json!("fabrikamdata"))
            .set("subscriptionId", json!(FABRIKAM_PROD))
    };
    let tailspin = "20000000-0000-0000-0000-000000004001";
    let deny = || {
        Case::new(
            "admin@tailspin",
            &[
                ("subscriptions/subId", &format!("subscriptions/{tailspin}")),
                ("rgname", "mrg-tailspin-app"),
                ("daId", "80000000-0000-0000-0000-000000004001"),
            ],
        )
        .set("subscriptionId", json!(tailspin))
        .set("resourceGroupName", json!("mrg-tailspin-app"))
    };
    let deny_list = || deny().missing(".value[].properties.excludePrincipals[]*", NOBODY_EXCLUDED);
    let deny_one = || deny().missing(".properties.excludePrincipals[]*", NOBODY_EXCLUDED);
    match name {
        "RoleAssignments_ListForSubscription"
        | "RoleAssignments_ListForResourceGroup"
        | "RoleAssignments_ListForScope" => fabrikam().go(),
        "RoleAssignments_ListForResource" => {
            let (m, p, b) = ra(
                &format!("{sub}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata"),
                "b0f43c54-e787-4862-89b1-a653fa9cf747",
            );
            fabrikam().setup(m, p, b).go()
        }
        "RoleAssignments_Get" | "RoleAssignments_GetById" | "RoleAssignments_Delete"
        | "RoleAssignments_DeleteById" => {
            let (m, p, b) = ra(&sub, "b0f43c54-e787-4862-89b1-a653fa9cf747");
            fabrikam().setup(m, p, b).go()
        }
        "RoleAssignments_CreateForSubscription"
        | "RoleAssignments_CreateForResourceGroup"
        | "RoleAssignments_CreateForResource"
        | "RoleAssignments_CreateById" => fabrikam().go(),
        "GetPermissions" => fabrikam()
            .set("subscriptionId", json!(FABRIKAM_PROD))
            .set("resourceGroupName", json!("rg-data"))
            .missing(".nextLink", NO_NEXT_PAGE)
            .go(),
        "GetResourcePermissions" => on_account(fabrikam()).go(),
        "GetRoleDefinitionByName" => fabrikam()
            .set("scope", json!(sub))
            .set("roleDefinitionId", json!(READER))
            .go(),
        "GetRoleDefinitionById" => fabrikam()
            .set(
                "roleId",
                json!(format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/{READER}")),
            )
            .go(),
        "GetRoleDefinitionAtScope" => fabrikam().set("scope", json!(sub)).go(),
        "PutRoleDefinition" => fabrikam()
            .set("scope", json!(sub))
            .set("roleDefinitionId", json!(CUSTOM_ROLE))
            .set("body", Value::Null)
            .set("roleDefinition", custom_role)
            .go(),
        "DeleteRoleDefinition" => fabrikam()
            .set("scope", json!(sub))
            .set("roleDefinitionId", json!(CUSTOM_ROLE))
            .setup(
                "PUT",
                format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM_ROLE}?api-version=2022-04-01"),
                Some(custom_role),
            )
            .go(),
        "GetDenyAssignmentsForResource" => deny_list()
            .set("resourceProviderNamespace", json!("Microsoft.Compute"))
            .set("parentResourcePath", json!(""))
            .set("resourceType", json!("virtualMachines"))
            .set("resourceName", json!("vm-appliance"))
            .go(),
        "GetDenyAssignmentsForResourceGroup" | "GetAllDenyAssignments" | "GetDenyAssignmentByScope" => {
            deny_list().go()
        }
        "GetDenyAssignmentByNameId" => deny_one()
            .set("denyAssignmentId", json!("80000000-0000-0000-0000-000000004001"))
            .go(),
        "GetDenyAssignmentById" => deny_one().go(),
        _ => None,
    }
}
