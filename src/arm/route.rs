//! The route is a value: `Route::parse(method, id)` names the operation after the REST spec's
//! operationId, and each route knows its api-version family and its RBAC action and scope.
//! One exhaustive match, no registry. Pure: no I/O.

use super::alerts_route::AlertsOp;
use super::api_version::Family;
use super::error::ArmError;
use super::policy_route::PolicyOp;
use super::policyinsights_route::InsightsOp;
use super::resource_id::ResourceId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    TenantsList,
    SubscriptionsList,
    SubscriptionsGet,
    SubscriptionsListLocations,
    /// `POST /subscriptions/{sub}/providers/Microsoft.Resources/checkZonePeers` (Subscriptions_CheckZonePeers).
    SubscriptionsCheckZonePeers,
    /// `POST /providers/Microsoft.Resources/checkResourceName` (checkResourceName).
    CheckResourceName,
    /// `POST /subscriptions/{sub}/providers/Microsoft.Subscription/{cancel|enable|rename}`
    /// (Subscription_Cancel, Subscription_Enable, Subscription_Rename of Microsoft.Subscription).
    SubscriptionCancel,
    SubscriptionEnable,
    SubscriptionRename,
    /// `POST /providers/Microsoft.Resources/calculateTemplateHash` (Deployments_CalculateTemplateHash).
    DeploymentsCalculateTemplateHash,
    /// `GET /subscriptions/{sub}/providers/{ns}/resourceTypes` (ProviderResourceTypes_List).
    ProviderResourceTypesList,
    /// `{scope}/providers/Microsoft.Resources/tags/default`: the tags of any scope as one resource
    /// (Tags_GetAtScope, Tags_CreateOrUpdateAtScope, Tags_UpdateAtScope, Tags_DeleteAtScope).
    TagsGetAtScope,
    TagsCreateOrUpdateAtScope,
    TagsUpdateAtScope,
    TagsDeleteAtScope,
    /// `GET /subscriptions/{sub}/tagNames`: the tag names and values in use (Tags_List).
    TagsList,
    /// `POST …/resourcegroups/{rg}/exportTemplate` (ResourceGroups_ExportTemplate).
    ResourceGroupsExportTemplate,
    ProvidersList,
    ProvidersGet,
    ProvidersRegister,
    ProvidersUnregister,
    ResourceGroupsList,
    ResourceGroupsCreateOrUpdate,
    ResourceGroupsGet,
    ResourceGroupsCheckExistence,
    ResourceGroupsUpdate,
    ResourceGroupsDelete,
    ResourcesList,
    ResourcesListByResourceGroup,
    /// Polling URL of a long-running operation (`Location`).
    OperationResultsGet,
    /// Polling URL of a long-running operation (`Azure-AsyncOperation`).
    OperationStatusesGet,
    RoleDefinitionsList,
    RoleDefinitionsGet,
    RoleDefinitionsCreateOrUpdate,
    RoleDefinitionsDelete,
    RoleAssignmentsListForScope,
    RoleAssignmentsCreate,
    RoleAssignmentsGet,
    RoleAssignmentsDelete,
    PermissionsListForScope,
    ProviderOperationsList,
    ManagementLocksCreateOrUpdate,
    ManagementLocksGet,
    ManagementLocksDelete,
    ManagementLocksList,
    DenyAssignmentsGet,
    DenyAssignmentsList,
    /// Only the platform: users are refused (405 on GA versions).
    DenyAssignmentsCreate,
    DenyAssignmentsDelete,
    // Privileged Identity Management: just-in-time activation of eligible (delegated) roles.
    RoleAssignmentScheduleRequestsCreate,
    RoleAssignmentScheduleRequestsGet,
    RoleAssignmentScheduleRequestsListForScope,
    RoleAssignmentScheduleRequestsCancel,
    RoleAssignmentSchedulesListForScope,
    RoleAssignmentScheduleInstancesListForScope,
    RoleEligibilitySchedulesListForScope,
    RoleEligibilityScheduleInstancesListForScope,
    RoleAssignmentApprovalsList,
    RoleAssignmentApprovalStepsPut,
    // Microsoft.ManagedServices (Azure Lighthouse).
    RegistrationDefinitionsCreateOrUpdate,
    RegistrationDefinitionsGet,
    RegistrationDefinitionsDelete,
    RegistrationDefinitionsList,
    RegistrationAssignmentsCreateOrUpdate,
    RegistrationAssignmentsGet,
    RegistrationAssignmentsDelete,
    RegistrationAssignmentsList,
    MarketplaceRegistrationDefinitionsList,
    MarketplaceRegistrationDefinitionsGet,
    ManagedServicesOperationsList,
    // Microsoft.Resources/deployments (template deployments) at subscription and resource-group scope.
    DeploymentsCreateOrUpdate,
    DeploymentsGet,
    DeploymentsCheckExistence,
    DeploymentsDelete,
    DeploymentsList,
    DeploymentsValidate,
    DeploymentsWhatIf,
    DeploymentsCancel,
    DeploymentsExportTemplate,
    DeploymentOperationsList,
    DeploymentOperationsGet,
    /// Polling URL of a deployment (`…/deployments/{name}/operationStatuses/{id}`).
    DeploymentOperationStatusesGet,
    /// `POST /providers/Microsoft.ResourceGraph/resources`: a KQL query over every row the caller may
    /// read (the spec's `Resources` operation; authorized row by row).
    ResourceGraphResources,
    /// `GET /providers/Microsoft.ResourceGraph/operations`.
    ResourceGraphOperationsList,
    // Microsoft.Insights activity log.
    ActivityLogsList,
    TenantActivityLogsList,
    /// Microsoft.AlertsManagement: the alerts fired rules leave, their history and summary, at a
    /// subscription and at tenant level (`alerts_route`).
    Alerts(AlertsOp),
    /// Any other resource type: stored as sent plus what ARM adds.
    ResourcesCreateOrUpdate,
    ResourcesGet,
    ResourcesCheckExistence,
    ResourcesUpdate,
    ResourcesDelete,
    ResourcesAction,
    ResourcesListChildren,
    // Microsoft.Compute as `az vm` uses it: the marketplace catalogue and the VM's power.
    VirtualMachineImagesListPublishers,
    VirtualMachineImagesListOffers,
    VirtualMachineImagesListSkus,
    VirtualMachineImagesList,
    VirtualMachineImagesGet,
    VirtualMachineExtensionImagesListTypes,
    VirtualMachineExtensionImagesListVersions,
    VirtualMachineExtensionImagesGet,
    /// GET of one VM (with `$expand=instanceView`); PUT, PATCH, DELETE stay generic.
    VirtualMachinesGet,
    VirtualMachinesInstanceView,
    VirtualMachinesStart,
    VirtualMachinesPowerOff,
    VirtualMachinesDeallocate,
    VirtualMachinesRestart,
    /// Azure Policy: definitions, set definitions, assignments, exemptions (`policy_route`).
    Policy(PolicyOp),
    /// Microsoft.PolicyInsights: policy states and remediations (`policyinsights_route`).
    PolicyInsights(InsightsOp),
    // Microsoft.Management: management groups, their subscriptions and hierarchy settings.
    ManagementGroupsList,
    ManagementGroupsGet,
    ManagementGroupsCreateOrUpdate,
    ManagementGroupsUpdate,
    ManagementGroupsDelete,
    ManagementGroupsGetDescendants,
    ManagementGroupSubscriptionsCreate,
    ManagementGroupSubscriptionsDelete,
    ManagementGroupSubscriptionsGetSubscription,
    ManagementGroupSubscriptionsGetSubscriptionsUnderManagementGroup,
    HierarchySettingsList,
    HierarchySettingsGet,
    HierarchySettingsCreateOrUpdate,
    HierarchySettingsUpdate,
    HierarchySettingsDelete,
    /// `POST /providers/Microsoft.Management/checkNameAvailability`.
    CheckNameAvailability,
    /// `POST /providers/Microsoft.Management/getEntities`.
    EntitiesList,
    /// `GET /providers/Microsoft.Management/operations` (Operations_List).
    ManagementOperationsList,
    StartTenantBackfill,
    TenantBackfillStatus,
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl Route {
    pub fn parse(method: &str, id: &ResourceId) -> Result<Route, ArmError> {
        use Route::*;
        let m = method;
        let not_allowed = || ArmError::method_not_allowed(m);
        if id.tenants {
            return if m == "GET" {
                Ok(TenantsList)
            } else {
                Err(not_allowed())
            };
        }
        let sub = id.subscription.as_deref();
        let rg = id.resource_group.as_deref();
        if let Some(r) = management_route(m, id) {
            return r;
        }
        // Extension types ARM serves itself, matched on the last provider part.
        if let Some(last) = id.last() {
            let ns = last.namespace.as_str();
            let first_type = last.types[0].0.as_str();
            let leaf_name = last.types.last().and_then(|(_, n)| n.as_deref());
            let depth = last.types.len();
            if eq(ns, "Microsoft.Resources")
                && eq(first_type, "tags")
                && depth == 1
                && leaf_name.is_some_and(|n| eq(n, "default"))
                && (sub.is_some() || id.providers.len() > 1)
            {
                return match m {
                    "GET" => Ok(TagsGetAtScope),
                    "PUT" => Ok(TagsCreateOrUpdateAtScope),
                    "PATCH" => Ok(TagsUpdateAtScope),
                    "DELETE" => Ok(TagsDeleteAtScope),
                    _ => Err(not_allowed()),
                };
            }
            if eq(ns, "Microsoft.ResourceGraph")
                && sub.is_none()
                && id.providers.len() == 1
                && depth == 1
                && leaf_name.is_none()
            {
                return match (first_type.to_ascii_lowercase().as_str(), m) {
                    ("resources", "POST") => Ok(ResourceGraphResources),
                    ("operations", "GET") => Ok(ResourceGraphOperationsList),
                    ("resources" | "operations", _) => Err(not_allowed()),
                    _ => Err(ArmError::not_found(format!(
                        "The resource type '{first_type}' could not be found in the namespace 'Microsoft.ResourceGraph'."
                    ))),
                };
            }
            if eq(ns, "Microsoft.Resources")
                && eq(first_type, "deployments")
                && (id.providers.len() == 1
                    || (id.providers.len() == 2
                        && eq(&id.providers[0].namespace, "Microsoft.Management")))
            {
                return deployments_route(m, last);
            }
            if eq(ns, "Microsoft.Subscription")
                && sub.is_some()
                && rg.is_none()
                && id.providers.len() == 1
                && depth == 1
                && leaf_name.is_none()
            {
                return match (first_type.to_ascii_lowercase().as_str(), m) {
                    ("cancel", "POST") => Ok(SubscriptionCancel),
                    ("enable", "POST") => Ok(SubscriptionEnable),
                    ("rename", "POST") => Ok(SubscriptionRename),
                    ("cancel" | "enable" | "rename", _) => Err(not_allowed()),
                    _ => Err(ArmError::not_found(format!(
                        "The resource type '{first_type}' could not be found in the namespace 'Microsoft.Subscription'."
                    ))),
                };
            }
            if let Some(r) = PolicyOp::parse(m, id) {
                return r.map(Policy);
            }
            if let Some(r) = InsightsOp::parse(m, id) {
                return r.map(PolicyInsights);
            }
            if eq(ns, "Microsoft.Authorization") {
                let t = first_type.to_ascii_lowercase();
                let step = || {
                    last.types.len() == 2
                        && (eq(&last.types[1].0, "steps") || eq(&last.types[1].0, "stages"))
                };
                // The read-only PIM collections answer GET by name with the same handler as the
                // list (it looks at the name); the spec's approval steps are `steps`, some of its
                // examples say `stages`: both are accepted.
                let pim = match (t.as_str(), depth, leaf_name, m) {
                    ("roleassignmentschedulerequests", 1, Some(_), "PUT") => {
                        Some(RoleAssignmentScheduleRequestsCreate)
                    }
                    ("roleassignmentschedulerequests", 1, Some(_), "GET") => {
                        Some(RoleAssignmentScheduleRequestsGet)
                    }
                    ("roleassignmentschedulerequests", 1, None, "GET") => {
                        Some(RoleAssignmentScheduleRequestsListForScope)
                    }
                    ("roleassignmentschedulerequests", 2, None, "POST")
                        if eq(&last.types[1].0, "cancel") =>
                    {
                        Some(RoleAssignmentScheduleRequestsCancel)
                    }
                    ("roleassignmentschedules", 1, _, "GET") => {
                        Some(RoleAssignmentSchedulesListForScope)
                    }
                    ("roleassignmentscheduleinstances", 1, _, "GET") => {
                        Some(RoleAssignmentScheduleInstancesListForScope)
                    }
                    ("roleeligibilityschedules", 1, _, "GET") => {
                        Some(RoleEligibilitySchedulesListForScope)
                    }
                    ("roleeligibilityscheduleinstances", 1, _, "GET") => {
                        Some(RoleEligibilityScheduleInstancesListForScope)
                    }
                    ("roleassignmentapprovals", 1, _, "GET") => Some(RoleAssignmentApprovalsList),
                    ("roleassignmentapprovals", 2, _, "GET") if step() => {
                        Some(RoleAssignmentApprovalsList)
                    }
                    ("roleassignmentapprovals", 2, Some(_), "PUT" | "PATCH") if step() => {
                        Some(RoleAssignmentApprovalStepsPut)
                    }
                    _ => None,
                };
                if pim.is_none()
                    && matches!(
                        t.as_str(),
                        "roleassignmentschedulerequests"
                            | "roleassignmentschedules"
                            | "roleassignmentscheduleinstances"
                            | "roleeligibilityschedules"
                            | "roleeligibilityscheduleinstances"
                            | "roleassignmentapprovals"
                    )
                {
                    // PIM state is written only through its own operations, never as a generic resource.
                    return Err(not_allowed());
                }
                if let Some(r) = pim {
                    return Ok(r);
                }
            }
            if eq(ns, "Microsoft.ManagedServices") && id.providers.len() == 1 {
                let t = first_type.to_ascii_lowercase();
                let ms = match (t.as_str(), depth, leaf_name, m) {
                    ("registrationdefinitions", 1, Some(_), "PUT") => {
                        Some(RegistrationDefinitionsCreateOrUpdate)
                    }
                    ("registrationdefinitions", 1, Some(_), "GET") => {
                        Some(RegistrationDefinitionsGet)
                    }
                    ("registrationdefinitions", 1, Some(_), "DELETE") => {
                        Some(RegistrationDefinitionsDelete)
                    }
                    ("registrationdefinitions", 1, None, "GET") => {
                        Some(RegistrationDefinitionsList)
                    }
                    ("registrationassignments", 1, Some(_), "PUT") => {
                        Some(RegistrationAssignmentsCreateOrUpdate)
                    }
                    ("registrationassignments", 1, Some(_), "GET") => {
                        Some(RegistrationAssignmentsGet)
                    }
                    ("registrationassignments", 1, Some(_), "DELETE") => {
                        Some(RegistrationAssignmentsDelete)
                    }
                    ("registrationassignments", 1, None, "GET") => {
                        Some(RegistrationAssignmentsList)
                    }
                    ("marketplaceregistrationdefinitions", 1, None, "GET") => {
                        Some(MarketplaceRegistrationDefinitionsList)
                    }
                    ("marketplaceregistrationdefinitions", 1, Some(_), "GET") => {
                        Some(MarketplaceRegistrationDefinitionsGet)
                    }
                    ("operations", 1, None, "GET") => Some(ManagedServicesOperationsList),
                    (
                        "registrationdefinitions"
                        | "registrationassignments"
                        | "marketplaceregistrationdefinitions"
                        | "operations",
                        _,
                        _,
                        _,
                    ) => return Err(not_allowed()),
                    _ => None,
                };
                if let Some(r) = ms {
                    return Ok(r);
                }
            }
            if eq(ns, "Microsoft.Insights")
                && id.providers.len() == 1
                && rg.is_none()
                && depth == 2
                && eq(first_type, "eventtypes")
                && eq(&last.types[1].0, "values")
                && last.types[0]
                    .1
                    .as_deref()
                    .is_some_and(|n| eq(n, "management"))
            {
                return match (m, sub) {
                    ("GET", Some(_)) => Ok(ActivityLogsList),
                    ("GET", None) => Ok(TenantActivityLogsList),
                    _ => Err(not_allowed()),
                };
            }
            if let Some(r) = AlertsOp::parse(m, id) {
                return r.map(Alerts);
            }
            if eq(ns, "Microsoft.Authorization") && depth == 1 {
                return match (first_type.to_ascii_lowercase().as_str(), leaf_name, m) {
                    ("roleassignments", None, "GET") => Ok(RoleAssignmentsListForScope),
                    ("roleassignments", Some(_), "GET") => Ok(RoleAssignmentsGet),
                    ("roleassignments", Some(_), "PUT") => Ok(RoleAssignmentsCreate),
                    ("roleassignments", Some(_), "DELETE") => Ok(RoleAssignmentsDelete),
                    ("roleassignments", _, _) => Err(not_allowed()),
                    ("roledefinitions", None, "GET") => Ok(RoleDefinitionsList),
                    ("roledefinitions", Some(_), "GET") => Ok(RoleDefinitionsGet),
                    ("roledefinitions", Some(_), "PUT") => Ok(RoleDefinitionsCreateOrUpdate),
                    ("roledefinitions", Some(_), "DELETE") => Ok(RoleDefinitionsDelete),
                    ("roledefinitions", _, _) => Err(not_allowed()),
                    ("locks", Some(_), "PUT") => Ok(ManagementLocksCreateOrUpdate),
                    ("locks", Some(_), "GET") => Ok(ManagementLocksGet),
                    ("locks", Some(_), "DELETE") => Ok(ManagementLocksDelete),
                    ("locks", None, "GET") => Ok(ManagementLocksList),
                    ("locks", _, _) => Err(not_allowed()),
                    ("denyassignments", Some(_), "GET") => Ok(DenyAssignmentsGet),
                    ("denyassignments", None, "GET") => Ok(DenyAssignmentsList),
                    ("denyassignments", Some(_), "PUT") => Ok(DenyAssignmentsCreate),
                    ("denyassignments", Some(_), "DELETE") => Ok(DenyAssignmentsDelete),
                    ("denyassignments", _, _) => Err(not_allowed()),
                    ("permissions", None, "GET") => Ok(PermissionsListForScope),
                    ("permissions", _, _) => Err(not_allowed()),
                    ("operations", None, "GET") if id.providers.len() == 1 && sub.is_none() => {
                        Ok(ProviderOperationsList)
                    }
                    _ => generic(m, id),
                };
            }
            if id.providers.len() == 1 && rg.is_none() {
                if depth == 1 && eq(first_type, "operationStatuses") {
                    return if m == "GET" && leaf_name.is_some() {
                        Ok(OperationStatusesGet)
                    } else {
                        Err(not_allowed())
                    };
                }
                if eq(ns, "Microsoft.Resources") && depth == 1 && leaf_name.is_none() {
                    match (first_type.to_ascii_lowercase().as_str(), sub.is_some(), m) {
                        ("checkzonepeers", true, "POST") => return Ok(SubscriptionsCheckZonePeers),
                        ("checkresourcename", false, "POST") => return Ok(CheckResourceName),
                        ("calculatetemplatehash", false, "POST") => {
                            return Ok(DeploymentsCalculateTemplateHash)
                        }
                        _ => {}
                    }
                }
                if sub.is_some()
                    && depth == 1
                    && leaf_name.is_none()
                    && m == "GET"
                    && eq(first_type, "resourceTypes")
                {
                    return Ok(ProviderResourceTypesList);
                }
                if sub.is_some() && depth == 1 && leaf_name.is_none() && m == "POST" {
                    if eq(first_type, "register") {
                        return Ok(ProvidersRegister);
                    }
                    if eq(first_type, "unregister") {
                        return Ok(ProvidersUnregister);
                    }
                }
            }
            if let Some(r) = compute_route(m, id) {
                return Ok(r);
            }
            return generic(m, id);
        }
        if id.providers_collection {
            return if m == "GET" {
                Ok(ProvidersList)
            } else {
                Err(not_allowed())
            };
        }
        if id.provider_namespace_only.is_some() {
            return if m == "GET" {
                Ok(ProvidersGet)
            } else {
                Err(not_allowed())
            };
        }
        match (sub, rg) {
            (Some(""), None) => {
                if m == "GET" {
                    Ok(SubscriptionsList)
                } else {
                    Err(not_allowed())
                }
            }
            (Some(_), None) if id.resources_collection => {
                if m == "GET" {
                    Ok(ResourcesList)
                } else {
                    Err(not_allowed())
                }
            }
            (Some(_), None) if !id.extra.is_empty() => {
                let first = id.extra[0].to_ascii_lowercase();
                match (first.as_str(), id.extra.len(), m) {
                    ("locations", 1, "GET") => Ok(SubscriptionsListLocations),
                    ("tagnames", 1, "GET") => Ok(TagsList),
                    ("operationresults", 2, "GET") => Ok(OperationResultsGet),
                    _ => Err(ArmError::not_found(format!(
                        "The requested path '{}' was not found.",
                        id.canonical()
                    ))),
                }
            }
            (Some(_), None) => {
                if m == "GET" {
                    Ok(SubscriptionsGet)
                } else {
                    Err(not_allowed())
                }
            }
            (Some(_), Some("")) => {
                if m == "GET" {
                    Ok(ResourceGroupsList)
                } else {
                    Err(not_allowed())
                }
            }
            (Some(_), Some(_)) if !id.extra.is_empty() => match m {
                "POST" => Ok(ResourceGroupsExportTemplate),
                _ => Err(not_allowed()),
            },
            (Some(_), Some(_)) if id.resources_collection => {
                if m == "GET" {
                    Ok(ResourcesListByResourceGroup)
                } else {
                    Err(not_allowed())
                }
            }
            (Some(_), Some(_)) => match m {
                "PUT" => Ok(ResourceGroupsCreateOrUpdate),
                "GET" => Ok(ResourceGroupsGet),
                "HEAD" => Ok(ResourceGroupsCheckExistence),
                "PATCH" => Ok(ResourceGroupsUpdate),
                "DELETE" => Ok(ResourceGroupsDelete),
                _ => Err(not_allowed()),
            },
            _ => Err(ArmError::not_found(format!(
                "The requested path '{}' was not found.",
                id.canonical()
            ))),
        }
    }

    /// The api-version family the route checks against.
    pub fn family(&self, id: &ResourceId) -> Family {
        use Route::*;
        match self {
            TenantsList
            | SubscriptionsList
            | SubscriptionsGet
            | SubscriptionsListLocations
            | SubscriptionsCheckZonePeers
            | CheckResourceName => Family::Subscriptions,
            ResourceGraphResources | ResourceGraphOperationsList => Family::ResourceGraph,
            SubscriptionCancel | SubscriptionEnable | SubscriptionRename => {
                Family::SubscriptionLifecycle
            }
            RoleDefinitionsList
            | RoleDefinitionsGet
            | RoleDefinitionsCreateOrUpdate
            | RoleDefinitionsDelete => Family::RoleDefinitions,
            RoleAssignmentsListForScope
            | RoleAssignmentsCreate
            | RoleAssignmentsGet
            | RoleAssignmentsDelete => Family::RoleAssignments,
            PermissionsListForScope => Family::Permissions,
            ManagementLocksCreateOrUpdate
            | ManagementLocksGet
            | ManagementLocksDelete
            | ManagementLocksList => Family::Locks,
            DenyAssignmentsGet
            | DenyAssignmentsList
            | DenyAssignmentsCreate
            | DenyAssignmentsDelete => Family::DenyAssignments,
            RoleAssignmentScheduleRequestsCreate
            | RoleAssignmentScheduleRequestsGet
            | RoleAssignmentScheduleRequestsListForScope
            | RoleAssignmentScheduleRequestsCancel
            | RoleAssignmentSchedulesListForScope
            | RoleAssignmentScheduleInstancesListForScope
            | RoleEligibilitySchedulesListForScope
            | RoleEligibilityScheduleInstancesListForScope
            | RoleAssignmentApprovalsList
            | RoleAssignmentApprovalStepsPut => Family::Pim,
            RegistrationDefinitionsCreateOrUpdate
            | RegistrationDefinitionsGet
            | RegistrationDefinitionsDelete
            | RegistrationDefinitionsList
            | RegistrationAssignmentsCreateOrUpdate
            | RegistrationAssignmentsGet
            | RegistrationAssignmentsDelete
            | RegistrationAssignmentsList
            | MarketplaceRegistrationDefinitionsList
            | MarketplaceRegistrationDefinitionsGet
            | ManagedServicesOperationsList => Family::ManagedServices,
            ActivityLogsList | TenantActivityLogsList => Family::ActivityLog,
            Alerts(_) => Family::AlertsManagement,
            Policy(_) => Family::Policy,
            PolicyInsights(_) => Family::PolicyInsights,
            DeploymentsCreateOrUpdate
            | DeploymentsGet
            | DeploymentsCheckExistence
            | DeploymentsDelete
            | DeploymentsList
            | DeploymentsValidate
            | DeploymentsWhatIf
            | DeploymentsCancel
            | DeploymentsExportTemplate
            | DeploymentOperationsList
            | DeploymentOperationsGet
            | DeploymentOperationStatusesGet => Family::Resources,
            ProviderOperationsList => Family::Generic,
            r if r.is_management_group() => Family::Generic,
            OperationResultsGet | OperationStatusesGet => Family::Generic,
            ResourcesCreateOrUpdate
            | ResourcesGet
            | ResourcesCheckExistence
            | ResourcesUpdate
            | ResourcesDelete
            | ResourcesAction
            | ResourcesListChildren
            | VirtualMachineImagesListPublishers
            | VirtualMachineImagesListOffers
            | VirtualMachineImagesListSkus
            | VirtualMachineImagesList
            | VirtualMachineImagesGet
            | VirtualMachineExtensionImagesListTypes
            | VirtualMachineExtensionImagesListVersions
            | VirtualMachineExtensionImagesGet
            | VirtualMachinesGet
            | VirtualMachinesInstanceView
            | VirtualMachinesStart
            | VirtualMachinesPowerOff
            | VirtualMachinesDeallocate
            | VirtualMachinesRestart => match id.full_type().map(|t| t.to_ascii_lowercase()) {
                Some(t) if t.starts_with("microsoft.managedservices/") => Family::ManagedServices,
                Some(t) if t.starts_with("microsoft.authorization/locks") => Family::Locks,
                Some(t) if t.starts_with("microsoft.authorization/denyassignments") => {
                    Family::DenyAssignments
                }
                _ => Family::Generic,
            },
            _ => Family::Resources,
        }
    }

    /// The RBAC action this request needs (ARM-FACTS.md §3.7).
    pub fn action(&self, method: &str, id: &ResourceId) -> String {
        use Route::*;
        match self {
            TenantsList => "Microsoft.Resources/tenants/read".into(),
            ResourceGraphResources => "Microsoft.ResourceGraph/resources/read".into(),
            ResourceGraphOperationsList => "Microsoft.ResourceGraph/operations/read".into(),
            SubscriptionsList => "Microsoft.Resources/subscriptions/read".into(),
            SubscriptionsListLocations => "Microsoft.Resources/subscriptions/locations/read".into(),
            TagsList => "Microsoft.Resources/subscriptions/tagNames/read".into(),
            ResourceGroupsExportTemplate => {
                "Microsoft.Resources/subscriptions/resourceGroups/exportTemplate/action".into()
            }
            ProvidersList | ProvidersGet | ProviderResourceTypesList => {
                "Microsoft.Resources/subscriptions/providers/read".into()
            }
            SubscriptionsCheckZonePeers => "Microsoft.Resources/checkZonePeers/action".into(),
            ProvidersRegister => format!("{}/register/action", id.namespace().unwrap_or_default()),
            ProvidersUnregister => {
                format!("{}/unregister/action", id.namespace().unwrap_or_default())
            }
            ResourceGroupsCheckExistence => {
                "Microsoft.Resources/subscriptions/resourceGroups/read".into()
            }
            ResourcesCheckExistence => id.action("GET"),
            Policy(op) => op.action(method, id),
            PolicyInsights(op) => op.action().into(),
            OperationResultsGet => "Microsoft.Resources/subscriptions/operationresults/read".into(),
            ActivityLogsList | TenantActivityLogsList => {
                "Microsoft.Insights/eventtypes/values/read".into()
            }
            ManagedServicesOperationsList => "Microsoft.ManagedServices/operations/read".into(),
            Alerts(op) => op.action().into(),
            DeploymentsCreateOrUpdate => "Microsoft.Resources/deployments/write".into(),
            DeploymentsGet | DeploymentsCheckExistence | DeploymentsList => {
                "Microsoft.Resources/deployments/read".into()
            }
            DeploymentsDelete => "Microsoft.Resources/deployments/delete".into(),
            DeploymentsValidate => "Microsoft.Resources/deployments/validate/action".into(),
            DeploymentsWhatIf => "Microsoft.Resources/deployments/whatIf/action".into(),
            DeploymentsCancel => "Microsoft.Resources/deployments/cancel/action".into(),
            DeploymentsExportTemplate => {
                "Microsoft.Resources/deployments/exportTemplate/action".into()
            }
            DeploymentOperationsList | DeploymentOperationsGet => {
                "Microsoft.Resources/deployments/operations/read".into()
            }
            DeploymentOperationStatusesGet => {
                "Microsoft.Resources/deployments/operationstatuses/read".into()
            }
            ResourcesAction
            | VirtualMachinesStart
            | VirtualMachinesPowerOff
            | VirtualMachinesDeallocate
            | VirtualMachinesRestart => {
                // POST …/{type}/{name}/{verb}: the verb is the last name-less segment
                let mut parent = id.clone();
                let verb = parent
                    .providers
                    .last_mut()
                    .and_then(|p| p.types.pop())
                    .map(|(t, _)| t)
                    .unwrap_or_default();
                match parent.full_type() {
                    Some(t) => format!("{t}/{verb}/action"),
                    None => format!("{verb}/action"),
                }
            }
            _ => id.action(method),
        }
    }

    /// Reads of a subscription's own metadata: anyone with a role anywhere in it may make them.
    pub fn is_subscription_metadata(&self) -> bool {
        use Route::*;
        matches!(
            self,
            ProvidersList
                | ProvidersGet
                | ProviderResourceTypesList
                | SubscriptionsListLocations
                | SubscriptionsCheckZonePeers
                // the marketplace catalogue is the same for every caller of a subscription
                | VirtualMachineImagesListPublishers
                | VirtualMachineImagesListOffers
                | VirtualMachineImagesListSkus
                | VirtualMachineImagesList
                | VirtualMachineImagesGet
                | VirtualMachineExtensionImagesListTypes
                | VirtualMachineExtensionImagesListVersions
                | VirtualMachineExtensionImagesGet
        )
    }

    /// Lists ARM answers with only the items the caller may read, rather than refusing.
    pub fn is_rbac_filtered_list(&self) -> bool {
        use Route::*;
        matches!(
            self,
            ResourceGroupsList | ResourcesList | ResourcesListByResourceGroup
        )
    }

    /// Does this route change state (and so count as a write for locks and the activity log)?
    pub fn is_write(&self) -> bool {
        use Route::*;
        if let Policy(op) = self {
            return op.is_write();
        }
        if let PolicyInsights(op) = self {
            return op.is_write();
        }
        if let Alerts(op) = self {
            return op.is_write();
        }
        matches!(
            self,
            ProvidersRegister
                | ProvidersUnregister
                | SubscriptionCancel
                | SubscriptionEnable
                | SubscriptionRename
                | ResourceGroupsCreateOrUpdate
                | ResourceGroupsUpdate
                | ResourceGroupsDelete
                | RoleDefinitionsCreateOrUpdate
                | RoleDefinitionsDelete
                | RoleAssignmentsCreate
                | RoleAssignmentsDelete
                | ManagementLocksCreateOrUpdate
                | ManagementLocksDelete
                | DenyAssignmentsCreate
                | DenyAssignmentsDelete
                | RoleAssignmentScheduleRequestsCreate
                | RoleAssignmentScheduleRequestsCancel
                | RoleAssignmentApprovalStepsPut
                | RegistrationDefinitionsCreateOrUpdate
                | RegistrationDefinitionsDelete
                | RegistrationAssignmentsCreateOrUpdate
                | RegistrationAssignmentsDelete
                | ResourcesCreateOrUpdate
                | ResourcesUpdate
                | ResourcesDelete
                | ResourcesAction
                | DeploymentsCreateOrUpdate
                | DeploymentsDelete
                | DeploymentsCancel
                | TagsCreateOrUpdateAtScope
                | TagsUpdateAtScope
                | TagsDeleteAtScope
                | VirtualMachinesStart
                | VirtualMachinesPowerOff
                | VirtualMachinesDeallocate
                | VirtualMachinesRestart
                | ManagementGroupsCreateOrUpdate
                | ManagementGroupsUpdate
                | ManagementGroupsDelete
                | ManagementGroupSubscriptionsCreate
                | ManagementGroupSubscriptionsDelete
                | HierarchySettingsCreateOrUpdate
                | HierarchySettingsUpdate
                | HierarchySettingsDelete
        )
    }

    /// The Microsoft.Management routes: every one authorizes inside its handler (the tenant root is
    /// readable by its whole tenant, and moves to or from the root need no right on it).
    pub fn is_management_group(&self) -> bool {
        use Route::*;
        matches!(
            self,
            ManagementGroupsList
                | ManagementGroupsGet
                | ManagementGroupsCreateOrUpdate
                | ManagementGroupsUpdate
                | ManagementGroupsDelete
                | ManagementGroupsGetDescendants
                | ManagementGroupSubscriptionsCreate
                | ManagementGroupSubscriptionsDelete
                | ManagementGroupSubscriptionsGetSubscription
                | ManagementGroupSubscriptionsGetSubscriptionsUnderManagementGroup
                | HierarchySettingsList
                | HierarchySettingsGet
                | HierarchySettingsCreateOrUpdate
                | HierarchySettingsUpdate
                | HierarchySettingsDelete
                | CheckNameAvailability
                | EntitiesList
                | ManagementOperationsList
                | StartTenantBackfill
                | TenantBackfillStatus
        )
    }

    /// Routes that need no authorization decision beyond a valid token (the caller's own view).
    pub fn is_self_scoped(&self) -> bool {
        use Route::*;
        if let Alerts(op) = self {
            return op.is_self_scoped();
        }
        self.is_management_group()
            || matches!(
                self,
                TenantsList
                | SubscriptionsList
                | CheckResourceName
                | DeploymentsCalculateTemplateHash
                // Resource Graph decides row by row, inside the handler
                | ResourceGraphResources
                | ResourceGraphOperationsList
                | ProviderOperationsList
                | OperationResultsGet
                | OperationStatusesGet
                | ManagedServicesOperationsList
                | MarketplaceRegistrationDefinitionsList
                | MarketplaceRegistrationDefinitionsGet
                // PIM requests are authorized by eligibility, inside the handler
                | RoleAssignmentScheduleRequestsCreate
                | RoleAssignmentScheduleRequestsGet
                | RoleAssignmentScheduleRequestsListForScope
                | RoleAssignmentScheduleRequestsCancel
                | RoleAssignmentSchedulesListForScope
                | RoleAssignmentScheduleInstancesListForScope
                | RoleEligibilitySchedulesListForScope
                | RoleEligibilityScheduleInstancesListForScope
                | RoleAssignmentApprovalsList
                | RoleAssignmentApprovalStepsPut
                | TenantActivityLogsList
                // answered 405 by the handler whatever the caller holds
                | DenyAssignmentsCreate
                | DenyAssignmentsDelete
            )
    }
}

/// `/providers/Microsoft.Management/…` at tenant level (Microsoft.Management 2023-04-01): groups, their
/// descendants, subscriptions and settings, and the provider's tenant-level actions. `None` for any
/// other path (extension resources below a group route by their own namespace).
fn management_route(m: &str, id: &ResourceId) -> Option<Result<Route, ArmError>> {
    use Route::*;
    if id.subscription.is_some() || id.providers.len() != 1 {
        return None;
    }
    let p = &id.providers[0];
    if !eq(&p.namespace, "Microsoft.Management") {
        return None;
    }
    let t: Vec<(String, bool)> = p
        .types
        .iter()
        .map(|(t, n)| (t.to_ascii_lowercase(), n.is_some()))
        .collect();
    let shape: Vec<(&str, bool)> = t.iter().map(|(t, n)| (t.as_str(), *n)).collect();
    let r = match (shape.as_slice(), m) {
        ([("managementgroups", false)], "GET") => ManagementGroupsList,
        ([("managementgroups", true)], "GET") => ManagementGroupsGet,
        ([("managementgroups", true)], "PUT") => ManagementGroupsCreateOrUpdate,
        ([("managementgroups", true)], "PATCH") => ManagementGroupsUpdate,
        ([("managementgroups", true)], "DELETE") => ManagementGroupsDelete,
        ([("managementgroups", true), ("descendants", false)], "GET") => {
            ManagementGroupsGetDescendants
        }
        ([("managementgroups", true), ("subscriptions", false)], "GET") => {
            ManagementGroupSubscriptionsGetSubscriptionsUnderManagementGroup
        }
        ([("managementgroups", true), ("subscriptions", true)], "GET") => {
            ManagementGroupSubscriptionsGetSubscription
        }
        ([("managementgroups", true), ("subscriptions", true)], "PUT") => {
            ManagementGroupSubscriptionsCreate
        }
        ([("managementgroups", true), ("subscriptions", true)], "DELETE") => {
            ManagementGroupSubscriptionsDelete
        }
        ([("managementgroups", true), ("settings", false)], "GET") => HierarchySettingsList,
        ([("managementgroups", true), ("settings", true)], "GET") => HierarchySettingsGet,
        ([("managementgroups", true), ("settings", true)], "PUT") => {
            HierarchySettingsCreateOrUpdate
        }
        ([("managementgroups", true), ("settings", true)], "PATCH") => HierarchySettingsUpdate,
        ([("managementgroups", true), ("settings", true)], "DELETE") => HierarchySettingsDelete,
        ([("checknameavailability", false)], "POST") => CheckNameAvailability,
        ([("getentities", false)], "POST") => EntitiesList,
        ([("operations", false)], "GET") => ManagementOperationsList,
        ([("starttenantbackfill", false)], "POST") => StartTenantBackfill,
        ([("tenantbackfillstatus", false)], "POST") => TenantBackfillStatus,
        ([("operationstatuses", _)], _) => return None,
        (
            [(
                "managementgroups"
                | "checknameavailability"
                | "getentities"
                | "operations"
                | "starttenantbackfill"
                | "tenantbackfillstatus",
                _,
            ), ..],
            _,
        ) => return Some(Err(ArmError::method_not_allowed(m))),
        _ => return None,
    };
    Some(Ok(r))
}

/// `…/providers/Microsoft.Resources/deployments[/{name}[/{verb}|/operations[/{id}]|/operationStatuses/{id}]]`
fn deployments_route(m: &str, last: &super::resource_id::ProviderPart) -> Result<Route, ArmError> {
    use Route::*;
    let named = last.types[0].1.is_some();
    let sub = last
        .types
        .get(1)
        .map(|(t, n)| (t.to_ascii_lowercase(), n.is_some()));
    let r = match (last.types.len(), named, sub, m) {
        (1, true, None, "PUT") => DeploymentsCreateOrUpdate,
        (1, true, None, "GET") => DeploymentsGet,
        (1, true, None, "HEAD") => DeploymentsCheckExistence,
        (1, true, None, "DELETE") => DeploymentsDelete,
        (1, false, None, "GET") => DeploymentsList,
        (2, true, Some((t, false)), "POST") if t == "validate" => DeploymentsValidate,
        (2, true, Some((t, false)), "POST") if t == "whatif" => DeploymentsWhatIf,
        (2, true, Some((t, false)), "POST") if t == "cancel" => DeploymentsCancel,
        (2, true, Some((t, false)), "POST") if t == "exporttemplate" => DeploymentsExportTemplate,
        (2, true, Some((t, false)), "GET") if t == "operations" => DeploymentOperationsList,
        (2, true, Some((t, true)), "GET") if t == "operations" => DeploymentOperationsGet,
        (2, true, Some((t, true)), "GET") if t == "operationstatuses" => {
            DeploymentOperationStatusesGet
        }
        _ => return Err(ArmError::method_not_allowed(m)),
    };
    Ok(r)
}

/// Microsoft.Compute's own operations: the image catalogue under `…/locations/{l}/publishers`
/// (GET only) and a VM's GET, instance view and power actions.
fn compute_route(m: &str, id: &ResourceId) -> Option<Route> {
    use Route::*;
    let last = id.last()?;
    if id.providers.len() != 1 || !eq(&last.namespace, "Microsoft.Compute") {
        return None;
    }
    let t: Vec<(String, bool)> = last
        .types
        .iter()
        .map(|(t, n)| (t.to_ascii_lowercase(), n.is_some()))
        .collect();
    let is = |i: usize, name: &str, named: bool| {
        t.get(i).is_some_and(|(tt, n)| tt == name && *n == named)
    };
    if id.resource_group.is_none() && is(0, "locations", true) && t.len() >= 2 && m == "GET" {
        let artifact = last.types.get(2).and_then(|(_, n)| n.as_deref());
        let image = artifact.is_some_and(|a| eq(a, "vmimage")) && is(2, "artifacttypes", true);
        let extension =
            artifact.is_some_and(|a| eq(a, "vmextension")) && is(2, "artifacttypes", true);
        return match t.len() {
            2 if is(1, "publishers", false) => Some(VirtualMachineImagesListPublishers),
            4 if image && is(3, "offers", false) => Some(VirtualMachineImagesListOffers),
            5 if image && is(3, "offers", true) && is(4, "skus", false) => {
                Some(VirtualMachineImagesListSkus)
            }
            6 if image && is(4, "skus", true) && is(5, "versions", false) => {
                Some(VirtualMachineImagesList)
            }
            6 if image && is(4, "skus", true) && is(5, "versions", true) => {
                Some(VirtualMachineImagesGet)
            }
            4 if extension && is(3, "types", false) => Some(VirtualMachineExtensionImagesListTypes),
            5 if extension && is(3, "types", true) && is(4, "versions", false) => {
                Some(VirtualMachineExtensionImagesListVersions)
            }
            5 if extension && is(3, "types", true) && is(4, "versions", true) => {
                Some(VirtualMachineExtensionImagesGet)
            }
            _ => None,
        };
    }
    if id.resource_group.as_deref().is_none_or(|r| r.is_empty()) || !is(0, "virtualmachines", true)
    {
        return None;
    }
    match (t.len(), t.get(1).map(|(v, named)| (v.as_str(), *named)), m) {
        (1, None, "GET") => Some(VirtualMachinesGet),
        (2, Some(("instanceview", false)), "GET") => Some(VirtualMachinesInstanceView),
        (2, Some(("start", false)), "POST") => Some(VirtualMachinesStart),
        (2, Some(("poweroff", false)), "POST") => Some(VirtualMachinesPowerOff),
        (2, Some(("deallocate", false)), "POST") => Some(VirtualMachinesDeallocate),
        (2, Some(("restart", false)), "POST") => Some(VirtualMachinesRestart),
        _ => None,
    }
}

fn generic(m: &str, id: &ResourceId) -> Result<Route, ArmError> {
    use Route::*;
    if id.is_instance() {
        match m {
            "PUT" => Ok(ResourcesCreateOrUpdate),
            "GET" => Ok(ResourcesGet),
            "HEAD" => Ok(ResourcesCheckExistence),
            "PATCH" => Ok(ResourcesUpdate),
            "DELETE" => Ok(ResourcesDelete),
            _ => Err(ArmError::method_not_allowed(m)),
        }
    } else {
        match m {
            "GET" => Ok(ResourcesListChildren),
            "POST" => Ok(ResourcesAction),
            _ => Err(ArmError::method_not_allowed(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: &str, path: &str, route: Route, action: &str) {
        let id = ResourceId::parse(path).unwrap();
        let r = Route::parse(method, &id).unwrap();
        assert_eq!(r, route, "{method} {path}");
        assert_eq!(r.action(method, &id), action, "{method} {path}");
    }

    #[test]
    fn routes_from_the_spec_examples() {
        use Route::*;
        let s = "/subscriptions/20000000-0000-0000-0000-000000002001";
        check(
            "GET",
            "/subscriptions",
            SubscriptionsList,
            "Microsoft.Resources/subscriptions/read",
        );
        check(
            "GET",
            s,
            SubscriptionsGet,
            "Microsoft.Resources/subscriptions/read",
        );
        check(
            "GET",
            "/tenants",
            TenantsList,
            "Microsoft.Resources/tenants/read",
        );
        check(
            "PUT",
            &format!("{s}/resourcegroups/rg"),
            ResourceGroupsCreateOrUpdate,
            "Microsoft.Resources/subscriptions/resourceGroups/write",
        );
        check(
            "HEAD",
            &format!("{s}/resourcegroups/rg"),
            ResourceGroupsCheckExistence,
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        );
        check(
            "DELETE",
            &format!("{s}/resourceGroups/rg"),
            ResourceGroupsDelete,
            "Microsoft.Resources/subscriptions/resourceGroups/delete",
        );
        check(
            "GET",
            &format!("{s}/resourcegroups"),
            ResourceGroupsList,
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        );
        check(
            "GET",
            &format!("{s}/resources"),
            ResourcesList,
            "Microsoft.Resources/subscriptions/resources/read",
        );
        check(
            "GET",
            &format!("{s}/resourceGroups/rg/resources"),
            ResourcesListByResourceGroup,
            "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
        );
        check(
            "PATCH",
            &format!("{s}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/providers/Microsoft.Resources/tags/default"),
            TagsUpdateAtScope,
            "Microsoft.Resources/tags/write",
        );
        check(
            "GET",
            &format!("{s}/providers/Microsoft.Resources/tags/default"),
            TagsGetAtScope,
            "Microsoft.Resources/tags/read",
        );
        check(
            "GET",
            &format!("{s}/tagNames"),
            TagsList,
            "Microsoft.Resources/subscriptions/tagNames/read",
        );
        check(
            "POST",
            &format!("{s}/resourcegroups/rg/exportTemplate"),
            ResourceGroupsExportTemplate,
            "Microsoft.Resources/subscriptions/resourceGroups/exportTemplate/action",
        );
        check(
            "POST",
            &format!("{s}/providers/Microsoft.ManagedServices/register"),
            ProvidersRegister,
            "Microsoft.ManagedServices/register/action",
        );
        check(
            "GET",
            &format!("{s}/providers"),
            ProvidersList,
            "Microsoft.Resources/subscriptions/providers/read",
        );
        check("PUT", &format!("{s}/providers/Microsoft.Authorization/roleAssignments/7d0a8f9c-0000-0000-0000-000000000001"), RoleAssignmentsCreate, "Microsoft.Authorization/roleAssignments/write");
        check(
            "GET",
            &format!("{s}/resourceGroups/rg/providers/Microsoft.Authorization/permissions"),
            PermissionsListForScope,
            "Microsoft.Authorization/permissions/read",
        );
        check("GET", "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", RoleDefinitionsGet, "Microsoft.Authorization/roleDefinitions/read");
        check(
            "PUT",
            &format!("{s}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"),
            ResourcesCreateOrUpdate,
            "Microsoft.Network/virtualNetworks/write",
        );
        check(
            "POST",
            &format!(
                "{s}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/restart"
            ),
            VirtualMachinesRestart,
            "Microsoft.Compute/virtualMachines/restart/action",
        );
        check(
            "GET",
            &format!("{s}/operationresults/abc"),
            OperationResultsGet,
            "Microsoft.Resources/subscriptions/operationresults/read",
        );
        check(
            "GET",
            &format!("{s}/providers/Microsoft.ManagedServices/operationStatuses/abc"),
            OperationStatusesGet,
            "Microsoft.ManagedServices/operationStatuses/read",
        );
    }

    #[test]
    fn compute_routes() {
        use Route::*;
        let s = "/subscriptions/20000000-0000-0000-0000-000000002001";
        let l = format!("{s}/providers/Microsoft.Compute/locations/westeurope/publishers");
        let img = format!("{l}/Canonical/artifacttypes/vmimage/offers");
        let ext = format!("{l}/Microsoft.Azure.Extensions/artifacttypes/vmextension/types");
        let vm = format!("{s}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1");
        for (m, path, route, action) in [
            (
                "GET",
                l.clone(),
                VirtualMachineImagesListPublishers,
                "Microsoft.Compute/locations/publishers/read",
            ),
            (
                "GET",
                img.clone(),
                VirtualMachineImagesListOffers,
                "Microsoft.Compute/locations/publishers/artifacttypes/offers/read",
            ),
            (
                "GET",
                format!("{img}/o/skus"),
                VirtualMachineImagesListSkus,
                "Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/read",
            ),
            (
                "GET",
                format!("{img}/o/skus/k/versions"),
                VirtualMachineImagesList,
                "Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read",
            ),
            (
                "GET",
                format!("{img}/o/skus/k/versions/1.0"),
                VirtualMachineImagesGet,
                "Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read",
            ),
            (
                "GET",
                ext.clone(),
                VirtualMachineExtensionImagesListTypes,
                "Microsoft.Compute/locations/publishers/artifacttypes/types/read",
            ),
            (
                "GET",
                format!("{ext}/CustomScript/versions"),
                VirtualMachineExtensionImagesListVersions,
                "Microsoft.Compute/locations/publishers/artifacttypes/types/versions/read",
            ),
            (
                "GET",
                vm.clone(),
                VirtualMachinesGet,
                "Microsoft.Compute/virtualMachines/read",
            ),
            (
                "GET",
                format!("{vm}/instanceView"),
                VirtualMachinesInstanceView,
                "Microsoft.Compute/virtualMachines/instanceView/read",
            ),
            (
                "POST",
                format!("{vm}/start"),
                VirtualMachinesStart,
                "Microsoft.Compute/virtualMachines/start/action",
            ),
            (
                "POST",
                format!("{vm}/powerOff"),
                VirtualMachinesPowerOff,
                "Microsoft.Compute/virtualMachines/powerOff/action",
            ),
            (
                "POST",
                format!("{vm}/deallocate"),
                VirtualMachinesDeallocate,
                "Microsoft.Compute/virtualMachines/deallocate/action",
            ),
            (
                "POST",
                format!("{vm}/restart"),
                VirtualMachinesRestart,
                "Microsoft.Compute/virtualMachines/restart/action",
            ),
            (
                "PUT",
                vm.clone(),
                ResourcesCreateOrUpdate,
                "Microsoft.Compute/virtualMachines/write",
            ),
            (
                "PUT",
                format!("{vm}/extensions/CustomScript"),
                ResourcesCreateOrUpdate,
                "Microsoft.Compute/virtualMachines/extensions/write",
            ),
            (
                "POST",
                format!("{vm}/capture"),
                ResourcesAction,
                "Microsoft.Compute/virtualMachines/capture/action",
            ),
        ] {
            check(m, &path, route, action);
        }
    }

    #[test]
    fn wrong_methods_are_refused() {
        let id = ResourceId::parse("/subscriptions").unwrap();
        assert_eq!(Route::parse("PUT", &id).unwrap_err().status, 405);
        let id = ResourceId::parse(
            "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/x",
        )
        .unwrap();
        assert_eq!(Route::parse("PATCH", &id).unwrap_err().status, 405);
    }

    #[test]
    fn pim_routes() {
        use Route::*;
        let s =
            "/subscriptions/20000000-0000-0000-0000-000000004001/providers/Microsoft.Authorization";
        let a = "/providers/Microsoft.Authorization/roleAssignmentApprovals/a1";
        for (m, path, route) in [
            (
                "PUT",
                format!("{s}/roleAssignmentScheduleRequests/r1"),
                RoleAssignmentScheduleRequestsCreate,
            ),
            (
                "GET",
                format!("{s}/roleAssignmentScheduleRequests/r1"),
                RoleAssignmentScheduleRequestsGet,
            ),
            (
                "GET",
                format!("{s}/roleAssignmentScheduleRequests"),
                RoleAssignmentScheduleRequestsListForScope,
            ),
            (
                "POST",
                format!("{s}/roleAssignmentScheduleRequests/r1/cancel"),
                RoleAssignmentScheduleRequestsCancel,
            ),
            (
                "GET",
                format!("{s}/roleAssignmentSchedules"),
                RoleAssignmentSchedulesListForScope,
            ),
            (
                "GET",
                format!("{s}/roleAssignmentSchedules/x"),
                RoleAssignmentSchedulesListForScope,
            ),
            (
                "GET",
                format!("{s}/roleAssignmentScheduleInstances"),
                RoleAssignmentScheduleInstancesListForScope,
            ),
            (
                "GET",
                format!("{s}/roleEligibilitySchedules"),
                RoleEligibilitySchedulesListForScope,
            ),
            (
                "GET",
                format!("{s}/roleEligibilityScheduleInstances/x"),
                RoleEligibilityScheduleInstancesListForScope,
            ),
            (
                "GET",
                "/providers/Microsoft.Authorization/roleAssignmentApprovals".into(),
                RoleAssignmentApprovalsList,
            ),
            ("GET", a.into(), RoleAssignmentApprovalsList),
            ("GET", format!("{a}/steps"), RoleAssignmentApprovalsList),
            (
                "PUT",
                format!("{a}/steps/s1"),
                RoleAssignmentApprovalStepsPut,
            ),
            (
                "PATCH",
                format!("{a}/stages/s1"),
                RoleAssignmentApprovalStepsPut,
            ),
        ] {
            let id = ResourceId::parse(&path).unwrap();
            assert_eq!(Route::parse(m, &id).unwrap(), route, "{m} {path}");
            assert_eq!(route.family(&id), Family::Pim);
        }
        // PIM state is never a generic resource
        for (m, path) in [
            ("PUT", format!("{s}/roleAssignmentSchedules/x")),
            ("DELETE", format!("{s}/roleAssignmentScheduleRequests/r1")),
            ("PUT", format!("{s}/roleEligibilitySchedules/x")),
            ("PUT", format!("{a}/other/s1")),
        ] {
            let id = ResourceId::parse(&path).unwrap();
            assert_eq!(Route::parse(m, &id).unwrap_err().status, 405, "{m} {path}");
        }
    }
}
