//! The description of a decision: the scope a decision is made at, the short form of a decision for the
//! `x-ms-emulator-decision` header and the request log (`describe`), and `explain` — why a principal may or
//! may not do an action at a scope, with every reason (grant, deny assignment, lock, tenant standing, data
//! plane, Azure Policy) — served at `POST /_emulator/explain`. Never changes state; never answers HTTP.

use serde_json::{json, Value};

use crate::app::App;
use crate::arm::resource_id::{is_at_or_above, ResourceId};
use crate::arm::route::Route;
use crate::authz::{self, Decision, MethodKind, Path, Subject, Via};
use crate::facts::Snapshot;
use crate::providers::subscriptions::{standing, Standing};
use crate::providers::{self, Caller};

/// The scope an authorization decision is made at: the resource itself, or the scope a collection or
/// action hangs from.
pub fn decision_scope(route: &Route, id: &ResourceId) -> ResourceId {
    let mut s = id.clone();
    match route {
        Route::ResourceGroupsList
        | Route::SubscriptionsListLocations
        | Route::TagsList
        | Route::ProvidersList => {
            s.resource_group = None;
            s.extra.clear();
            s.providers_collection = false;
        }
        Route::ResourcesList | Route::ResourcesListByResourceGroup => {
            s.resources_collection = false
        }
        Route::ProvidersGet => s.provider_namespace_only = None,
        Route::ResourceGroupsExportTemplate => s.extra.clear(),
        _ => {
            if !s.is_instance() {
                if let Some(p) = s.providers.last_mut() {
                    p.types.pop();
                    if p.types.is_empty() {
                        s.providers.pop();
                    }
                }
            }
        }
    }
    s
}

/// The scope of a deny assignment as written in its id (the rule keeps a lower-cased key).
pub fn deny_scope(d: &authz::DenyRule) -> &str {
    d.id.rsplit_once("/providers/Microsoft.Authorization/denyAssignments/")
        .map(|(s, _)| s)
        .unwrap_or(&d.scope)
}

/// The short form of a decision for the `x-ms-emulator-decision` header and the request log.
pub fn describe(d: &Decision) -> String {
    match d {
        Decision::Allowed(g) => match &g.via {
            Via::RoleAssignment => format!(
                "allowed; role assignment {} ({} at {})",
                g.id.rsplit('/').next().unwrap_or_default(),
                g.role.role_name,
                g.scope
            ),
            Via::Delegation {
                registration_assignment_id,
                ..
            } => format!(
                "allowed; delegated authorization {} via registration assignment {} ({} at {}{})",
                g.principal_id,
                registration_assignment_id
                    .rsplit('/')
                    .next()
                    .unwrap_or_default(),
                g.role.role_name,
                g.scope,
                if g.assignable_roles().is_some() {
                    ", limited to assigning its delegatedRoleDefinitionIds to managed identities"
                } else {
                    ""
                }
            ),
        },
        Decision::Denied(d) => format!(
            "denied; deny assignment {} ({}) at {}",
            d.id.rsplit('/').next().unwrap_or_default(),
            d.name,
            deny_scope(d)
        ),
        Decision::NoGrant => {
            "denied; no role assignment or delegated authorization grants this action".into()
        }
    }
}

/// Why `principal` may or may not do `action` at `scope` (or `method` on a URL): the decision with its
/// reasons — the grant that allowed it, the deny assignment or lock that stopped it, locks bypassed by a
/// delegated caller, or the absence of any grant. Serves `POST /_emulator/explain`.
pub fn explain(app: &App, body: &Value) -> Result<Value, String> {
    let snap = app.snapshot();
    let who = body["principal"]
        .as_str()
        .ok_or("'principal' (object id or sign-in name) is required")?;
    let p = snap
        .dir
        .principal_by_name(who)
        .ok_or_else(|| format!("no principal '{who}' in the world"))?;
    let (method, action, scope_id) = if let Some(url) = body["url"].as_str() {
        let method = body["method"]
            .as_str()
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let path = url
            .split("://")
            .nth(1)
            .map(|r| r.find('/').map(|i| &r[i..]).unwrap_or("/"))
            .unwrap_or(url);
        let path = path.split('?').next().unwrap_or("/");
        let path = percent_encoding::percent_decode_str(path)
            .decode_utf8_lossy()
            .into_owned();
        let id =
            ResourceId::parse(&path).map_err(|e| format!("'{url}' is not an ARM URL: {}", e.0))?;
        let route = Route::parse(&method, &id).map_err(|e| e.message)?;
        let action = route.action(&method, &id);
        (method, action, decision_scope(&route, &id))
    } else {
        let action = body["action"]
            .as_str()
            .ok_or("give 'action' and 'scope', or 'method' and 'url'")?;
        let scope = body["scope"]
            .as_str()
            .ok_or("'scope' is required with 'action'")?;
        let id = ResourceId::parse(scope)
            .map_err(|e| format!("'{scope}' is not a resource id: {}", e.0))?;
        let a = action.to_ascii_lowercase();
        let method = if a.ends_with("/delete") {
            "DELETE"
        } else if a.ends_with("/write") {
            "PUT"
        } else if a.ends_with("/action") {
            "POST"
        } else {
            "GET"
        };
        (method.to_string(), action.to_string(), id)
    };
    let scope_display = scope_id.canonical();
    let scope_key = scope_display.to_lowercase();
    let groups = snap.dir.groups_of(&p.object_id).to_vec();
    let caller = Caller {
        object_id: p.object_id.to_lowercase(),
        tenant_id: p.tenant_id.to_lowercase(),
        groups: groups.clone(),
        client_name: p.client_name().to_string(),
        identity_type: "User",
        claims: crate::auth::token::Claims::None,
        platform: false,
    };
    let mut reasons = Vec::new();
    let who_json = json!({"objectId": p.object_id, "name": p.client_name(), "tenantId": p.tenant_id, "groups": groups});
    let mut path = Path::Customer;
    if let Some(s) = scope_id.subscription.as_deref().filter(|s| !s.is_empty()) {
        let sub = snap
            .dir
            .subscription(s)
            .ok_or_else(|| format!("no subscription '{s}'"))?;
        match standing(&snap, &caller, sub) {
            Standing::Home => {}
            Standing::Delegated => {
                path = Path::Delegated;
                reasons.push(json!({"kind": "tenant", "effect": "delegated",
                    "message": format!("{} is in the managing tenant {}; subscription {} belongs to tenant {} and is delegated to it, so only delegated authorizations count.", p.client_name(), p.tenant_id, sub.subscription_id, sub.tenant_id)}));
            }
            Standing::None => {
                reasons.push(json!({"kind": "tenant", "effect": "denies", "code": "InvalidAuthenticationTokenTenant",
                    "message": format!("{} signs in to tenant {}, which has no standing on subscription {} (tenant {}): no delegation covers it, so ARM refuses the token (401 InvalidAuthenticationTokenTenant).", p.client_name(), p.tenant_id, sub.subscription_id, sub.tenant_id)}));
                return Ok(
                    json!({"decision": "denied", "principal": who_json, "action": action, "scope": scope_display, "reasons": reasons}),
                );
            }
        }
    }
    // Data actions (blob reads, secret reads…) are judged on the data plane: never through a delegation.
    let data = body["data"]
        .as_bool()
        .unwrap_or_else(|| is_data_action(&action));
    // a delegated caller never assigns a role with data actions, whatever its grants say
    let role_refused = path == Path::Delegated
        && match data_action_role_reason(&snap, &action, &body["body"]) {
            Some(r) => {
                reasons.push(r);
                true
            }
            None => false,
        };
    if data && path == Path::Delegated {
        if let Some(r) = providers::compute::delegated_data_action_reason(&action) {
            reasons.push(r);
            return Ok(
                json!({"decision": "denied", "principal": who_json, "action": action, "scope": scope_display, "reasons": reasons}),
            );
        }
    }
    if data && path == Path::Delegated {
        let storage = action
            .to_ascii_lowercase()
            .starts_with("microsoft.storage/");
        reasons.push(json!({"kind": "dataPlane", "effect": "denies",
            "code": if storage { "InvalidAuthenticationInfo" } else { "Unauthorized" },
            "message": format!("'{action}' is a data action: data-plane requests are never delegated (Azure Lighthouse). The {} accepts only tokens issued by its own tenant, so a token from {} is refused ({}) whatever the delegation grants.",
                if storage { "storage account" } else { "key vault" }, p.tenant_id,
                if storage { "401 InvalidAuthenticationInfo: Issuer validation failed" } else { "401 AKV10032: Invalid issuer" })}));
        reasons.extend(providers::compute::disk_encryption_note(&action));
        return Ok(
            json!({"decision": "denied", "principal": who_json, "action": action, "scope": scope_display, "reasons": reasons}),
        );
    }
    let subject = Subject {
        object_id: &caller.object_id,
        groups: &caller.groups,
    };
    let decision = authz::decide(
        &subject,
        &action,
        data,
        &scope_key,
        path,
        &snap.access,
        app.clock.unix(),
    );
    let mut allowed = false;
    match &decision {
        Decision::Allowed(g) => {
            allowed = true;
            reasons.push(grant_reason(g, "allows"));
            // A delegated User Access Administrator: the role assignment's body decides the rest.
            if g.assignable_roles().is_some() {
                if let Some(why) = explain_delegated_assignment(app, &snap, &subject, &scope_display, &body["body"]) {
                    allowed = false;
                    reasons.push(json!({"kind": "delegatedRoleAssignment", "effect": "denies", "code": "AuthorizationFailed", "message": why}));
                }
            }
        }
        Decision::Denied(d) => reasons.push(json!({"kind": "denyAssignment", "effect": "denies", "code": "DenyAssignmentAuthorizationFailed",
            "id": d.id, "name": d.name, "scope": deny_scope(d),
            "message": format!("The deny assignment '{}' at {} covers this principal and action '{}'; deny assignments are evaluated before any grant.", d.name, deny_scope(d), action)})),
        Decision::NoGrant => {
            let near: Vec<Value> = snap
                .access
                .grants_of(&subject)
                .filter(|g| is_at_or_above(&g.scope, &scope_key) || is_at_or_above(&scope_key, &g.scope))
                .map(|g| grant_reason(g, "doesNotCover"))
                .collect();
            reasons.push(json!({"kind": "noGrant", "effect": "denies", "code": if data { "AuthorizationPermissionMismatch" } else { "AuthorizationFailed" },
                "message": format!("No {} grants '{}' at {}.", if path == Path::Delegated { "delegated authorization" } else { "role assignment" }, action, scope_display)}));
            reasons.extend(near);
        }
    }
    // Locks govern the control plane: the data plane (blobs, secrets) never consults them.
    let kind = if data {
        MethodKind::Read
    } else {
        MethodKind::of_method(&method)
    };
    let blocking = authz::lock_blocks(&snap.locks, kind, &scope_key, path, &action);
    if !blocking.is_empty() || role_refused {
        allowed = false;
    }
    for l in blocking {
        reasons.push(json!({"kind": "lock", "effect": "denies", "code": "ScopeLocked", "id": l.id, "name": l.name, "level": l.level.as_str(), "scope": l.scope_display,
            "message": format!("The {} lock '{}' on {} stops this {}.", l.level, l.name, l.scope_display, if kind == MethodKind::Delete { "delete" } else { "write" })}));
    }
    if path == Path::Delegated {
        for l in authz::locks_in_the_way(&snap.locks, kind, &scope_key, &action) {
            reasons.push(json!({"kind": "lock", "effect": "bypassed", "id": l.id, "name": l.name, "level": l.level.as_str(), "scope": l.scope_display,
                "message": format!("The {} lock '{}' on {} does not stop a principal acting through a delegation (Azure Lighthouse).", l.level, l.name, l.scope_display)}));
        }
    }
    // Azure Policy, after RBAC as in the pipeline: the assignment that would refuse or change it
    let (policy, refused) = crate::policy_gate::explain(
        app,
        &snap,
        &method,
        &scope_id,
        body.get("body").filter(|b| !b.is_null()),
    );
    if refused {
        allowed = false;
    }
    reasons.extend(policy);
    Ok(
        json!({"decision": if allowed { "allowed" } else { "denied" }, "principal": who_json, "action": action, "scope": scope_display, "reasons": reasons}),
    )
}

/// For explain: why the role assignment in `ra` (a PUT body; absent → nothing to judge) is refused to a
/// delegated User Access Administrator, by the provider's own rule.
fn explain_delegated_assignment(
    app: &App,
    snap: &Snapshot,
    subject: &Subject,
    scope: &str,
    ra: &Value,
) -> Option<String> {
    let p = &ra["properties"];
    let principal_id = p["principalId"].as_str()?;
    let guid = crate::facts::role_guid(p["roleDefinitionId"].as_str()?);
    let sub = ResourceId::parse(scope).ok()?.subscription?.to_lowercase();
    let tenant = snap.dir.subscription(&sub)?.tenant_id.clone();
    let kind = snap
        .dir
        .principal(principal_id)
        .filter(|pr| pr.tenant_id.eq_ignore_ascii_case(&tenant))
        .map(|pr| pr.kind.as_str());
    let managed_identity = kind.is_none()
        && providers::authorization::is_managed_identity(&app.store, &sub, principal_id)
            .unwrap_or(false);
    let kind_name = match (kind, managed_identity) {
        (Some(k), _) => k,
        (None, true) => "managed identity",
        (None, false) => return Some(format!("no principal {principal_id} in tenant {tenant}")),
    };
    providers::authorization::delegated_assignment_refusal(
        snap,
        subject,
        app.clock.unix(),
        scope,
        &guid,
        principal_id,
        kind_name,
        managed_identity,
    )
}

/// For a role assignment write whose request `body` names a role with data actions (say Virtual
/// Machine Administrator Login): why a delegated caller can neither hold nor assign it.
fn data_action_role_reason(snap: &Snapshot, action: &str, body: &Value) -> Option<Value> {
    if !action.eq_ignore_ascii_case("Microsoft.Authorization/roleAssignments/write") {
        return None;
    }
    let role_id = body["properties"]["roleDefinitionId"].as_str()?;
    let role = snap.role(role_id.rsplit('/').next().unwrap_or(role_id))?;
    let data: Vec<&str> = role
        .permissions
        .iter()
        .flat_map(|p| p.data_actions.iter().map(String::as_str))
        .collect();
    if data.is_empty() {
        return None;
    }
    Some(
        json!({"kind": "dataActionRole", "effect": "denies", "code": "AuthorizationFailed",
        "role": role.role_name, "roleDefinitionId": role.id, "dataActions": data,
        "message": format!("'{}' carries data actions ({}). Data actions are never delegated (Azure Lighthouse): onboarding refuses a role with data actions in an authorization, and a delegated User Access Administrator may assign only the roles its authorization lists in delegatedRoleDefinitionIds, which cannot have data actions either. So a managing-tenant principal can neither hold nor assign it; only the customer tenant can.", role.role_name, data.join(", "))}),
    )
}

/// Is `action` one that built-in roles list under dataActions (blob reads, secret gets, …)?
fn is_data_action(action: &str) -> bool {
    crate::facts::builtin_roles().values().any(|r| {
        r.permissions.iter().any(|p| {
            p.data_actions
                .iter()
                .any(|d| !d.contains('*') && d.eq_ignore_ascii_case(action))
        })
    })
}

fn grant_reason(g: &authz::Grant, effect: &str) -> Value {
    match &g.via {
        Via::RoleAssignment => {
            json!({"kind": "roleAssignment", "effect": effect, "id": g.id, "name": g.id.rsplit('/').next().unwrap_or_default(),
            "role": g.role.role_name, "roleDefinitionId": g.role.id, "principalId": g.principal_id, "scope": g.scope,
            "message": format!("Role assignment {} gives {} '{}' at {}.", g.id.rsplit('/').next().unwrap_or_default(), g.principal_id, g.role.role_name, g.scope)})
        }
        Via::Delegation {
            registration_assignment_id,
            registration_definition_id,
            managed_by_tenant_id,
            eligible,
            assignable_roles,
        } => json!({
        "kind": "delegatedAuthorization", "effect": effect, "id": registration_assignment_id,
        "name": registration_assignment_id.rsplit('/').next().unwrap_or_default(),
        "registrationDefinitionId": registration_definition_id, "managedByTenantId": managed_by_tenant_id,
        "role": g.role.role_name, "roleDefinitionId": g.role.id, "principalId": g.principal_id, "scope": g.scope,
        "justInTime": eligible, "expiresAt": g.expires_at, "delegatedRoleDefinitionIds": assignable_roles.as_deref(),
        "message": format!("Registration assignment {} delegates '{}' to {} at {}{}{}.", registration_assignment_id.rsplit('/').next().unwrap_or_default(), g.role.role_name, g.principal_id, g.scope,
            if *eligible { " (activated just in time)" } else { "" },
            match assignable_roles {
                Some(r) => format!(", which serves only to assign the roles its delegatedRoleDefinitionIds list ({}) to managed identities in the customer's tenant: no other permission of the role applies", r.join(", ")),
                None => String::new(),
            })}),
    }
}
