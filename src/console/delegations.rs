//! Both sides of a delegation, as ARM shows them to the signed-in principal: *My customers* (a managing
//! tenant's principal: the customers' delegated subscriptions and resource groups, the delegations'
//! authorizations and eligible authorizations, Activate for an eligible role) and *Service providers* (a
//! customer's principal: offers, delegations, Remove delegation). Every read and action is an ARM request
//! as that principal (`Session::arm`); the Azure CLI equivalent is shown beside each.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{json, Value};

use super::html::{cli, copyable, esc, notice, q};
use super::pages::{frame, needs_principal};
use super::session::{Answer, Session};
use super::{field, form};

const SUBS: &str = "/subscriptions?api-version=2022-12-01";
const MS_API: &str = "2022-10-01";
const PIM_API: &str = "2020-10-01";

fn role_name(s: &Session, role_id: &str) -> String {
    let guid = role_id.rsplit('/').next().unwrap_or(role_id);
    s.app
        .snapshot()
        .role(guid)
        .map(|r| r.role_name.clone())
        .unwrap_or_else(|| guid.to_string())
}

fn sub_name(subs: &[Value], id: &str) -> String {
    subs.iter()
        .find(|s| {
            s["subscriptionId"]
                .as_str()
                .unwrap_or("")
                .eq_ignore_ascii_case(id)
        })
        .and_then(|s| s["displayName"].as_str())
        .unwrap_or(id)
        .to_string()
}

/// The scope of a registration assignment id (what precedes `/providers/Microsoft.ManagedServices`).
fn scope_of(id: &str) -> &str {
    let lower = id.to_ascii_lowercase();
    match lower.find("/providers/microsoft.managedservices/") {
        Some(i) => &id[..i],
        None => id,
    }
}

fn assignments_at(s: &Session, scope: &str) -> Answer {
    s.arm(
        "GET",
        &format!("{scope}/providers/Microsoft.ManagedServices/registrationAssignments?api-version={MS_API}&$expandRegistrationDefinition=true"),
        None,
    )
}

/// An authorization list as a table; `activate` adds the Activate form to eligible rows the principal holds.
fn authorizations(s: &Session, list: &[Value], eligible: bool, scope: &str) -> String {
    if list.is_empty() {
        return "<p class=\"muted\">None.</p>".into();
    }
    let me = s.who.as_ref().map(|w| w.object_id.to_lowercase());
    let groups: Vec<String> = me
        .as_deref()
        .map(|m| s.app.snapshot().dir.groups_of(m).to_vec())
        .unwrap_or_default();
    let mut b = format!(
        "<table><thead><tr><th scope=\"col\">Principal</th><th scope=\"col\">Role</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        if eligible { "Just-in-time policy" } else { "Principal id" }
    );
    for a in list {
        let pid = a["principalId"].as_str().unwrap_or("");
        let name = a["principalIdDisplayName"].as_str().unwrap_or(pid);
        let role_id = a["roleDefinitionId"].as_str().unwrap_or("");
        let role = role_name(s, role_id);
        let mine = me.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(pid))
            || groups.iter().any(|g| g.eq_ignore_ascii_case(pid));
        let third = if eligible {
            let max = a["justInTimeAccessPolicy"]["maximumActivationDuration"]
                .as_str()
                .unwrap_or("PT8H");
            let mut t = format!("at most {}", esc(max));
            if mine {
                t.push_str(&activate_form(s, scope, role_id, &role));
            }
            t
        } else {
            copyable(pid)
        };
        let _ = write!(
            b,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            if mine {
                " <span class=\"muted\">(you)</span>"
            } else {
                ""
            },
            esc(&role),
            third
        );
    }
    b.push_str("</tbody></table>");
    b
}

fn activate_form(s: &Session, scope: &str, role_id: &str, role: &str) -> String {
    let me = s
        .who
        .as_ref()
        .map(|w| w.object_id.clone())
        .unwrap_or_default();
    let guid = role_id.rsplit('/').next().unwrap_or(role_id);
    let key = format!("{}-{}", guid, scope.len());
    let body = json!({"properties": {"principalId": me, "roleDefinitionId": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
        "requestType": "SelfActivate", "justification": "JUSTIFICATION",
        "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "PT1H"}}}});
    format!(
        "<form method=\"post\" action=\"/console/activate\" class=\"card\" aria-label=\"Activate {role}\">\
<input type=\"hidden\" name=\"scope\" value=\"{scope}\"><input type=\"hidden\" name=\"role\" value=\"{guid}\">\
<div class=\"row\"><div><label for=\"dur-{key}\">Duration</label><input id=\"dur-{key}\" name=\"duration\" value=\"PT1H\" size=\"6\" required></div>\
<div><label for=\"just-{key}\">Justification</label><input id=\"just-{key}\" name=\"justification\" required></div>\
<div><button class=\"primary\" type=\"submit\">Activate {role}</button></div></div>{}</form>",
        cli(&format!(
            "az rest --method put --url \"{scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/$(uuidgen)?api-version={PIM_API}\" --body '{}'",
            body
        )),
        role = esc(role),
        scope = esc(scope),
        guid = esc(guid),
        key = esc(&key),
    )
}

fn definition_block(s: &Session, def: &Value, scope: &str) -> String {
    let p = &def["properties"];
    let empty = Vec::new();
    let auths = p["authorizations"].as_array().unwrap_or(&empty);
    let eligible = p["eligibleAuthorizations"].as_array().unwrap_or(&empty);
    format!(
        "<p><strong>{}</strong> — {} <span class=\"muted\">(managed by {})</span></p>\
<h4>Authorizations</h4>{}<h4>Eligible authorizations (just in time)</h4>{}",
        esc(p["registrationDefinitionName"].as_str().unwrap_or("")),
        esc(p["description"].as_str().unwrap_or("")),
        esc(p["managedByTenantName"]
            .as_str()
            .or(p["managedByTenantId"].as_str())
            .unwrap_or("")),
        authorizations(s, auths, false, scope),
        authorizations(s, eligible, true, scope),
    )
}

/// *My customers*: what a managing tenant's principal sees of its customers.
pub fn customers(s: &Session, message: Option<String>) -> String {
    const PATH: &str = "/console/customers";
    let Some(who) = &s.who else {
        return needs_principal(
            s,
            PATH,
            "My customers",
            "My customers shows a managing tenant's delegated customers as its principal sees them.",
        );
    };
    let mut b = String::new();
    if let Some(m) = &message {
        b.push_str(m);
    }
    b.push_str(&cli(
        "az account list --query \"[?tenantId!=homeTenantId]\" -o table",
    ));
    let subs = s.arm("GET", SUBS, None);
    if !subs.ok() {
        b.push_str(&notice("error", &subs.error()));
        return frame(s, PATH, "My customers", &b);
    }
    let home = who.tenant_id.to_lowercase();
    let mut by_tenant: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for sub in subs.items() {
        let t = sub["tenantId"].as_str().unwrap_or("").to_lowercase();
        if t != home {
            by_tenant.entry(t).or_default().push(sub);
        }
    }
    if by_tenant.is_empty() {
        let _ = write!(
            b,
            "<p>{} has no customers: no subscription or resource group of another tenant is delegated to {} for it. \
A customer principal sees its delegations under <a href=\"/console/providers\">Service providers</a>.</p>",
            esc(who.client_name()),
            esc(&s.tenant_name(&who.tenant_id))
        );
        return frame(s, PATH, "My customers", &b);
    }
    let _ = write!(
        b,
        "<p>{} customers delegate to {}. What follows is what {} may read of them through ARM.</p>",
        by_tenant.len(),
        esc(&s.tenant_name(&who.tenant_id)),
        esc(who.client_name())
    );
    for (tenant, subs) in &by_tenant {
        let _ = write!(
            b,
            "<section class=\"card\" aria-labelledby=\"t-{t}\"><h2 id=\"t-{t}\">{}</h2><p>Tenant {}</p>",
            esc(&s.tenant_name(tenant)),
            copyable(tenant),
            t = esc(tenant)
        );
        for sub in subs {
            let sid = sub["subscriptionId"].as_str().unwrap_or("");
            let _ = write!(
                b,
                "<h3>Subscription {}</h3><p>{}</p>",
                esc(sub["displayName"].as_str().unwrap_or(sid)),
                copyable(sid)
            );
            let groups = s.arm(
                "GET",
                &format!("/subscriptions/{sid}/resourcegroups?api-version=2021-04-01"),
                None,
            );
            let names: Vec<&str> = groups
                .items()
                .iter()
                .filter_map(|g| g["name"].as_str())
                .collect();
            let _ = write!(
                b,
                "<p>Resource groups you can see: {}</p>",
                if groups.ok() {
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names
                            .iter()
                            .map(|n| format!("<code>{}</code>", esc(n)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                } else {
                    esc(&groups.error())
                }
            );
            // the delegations: at the subscription, else at each visible group
            let mut found = Vec::new();
            let at_sub = assignments_at(s, &format!("/subscriptions/{sid}"));
            let mut refusal = None;
            if at_sub.ok() {
                found.extend(at_sub.items().iter().cloned());
            } else {
                refusal = Some(at_sub.error());
                for n in &names {
                    let a = assignments_at(s, &format!("/subscriptions/{sid}/resourceGroups/{n}"));
                    if a.ok() {
                        refusal = None;
                        found.extend(a.items().iter().cloned());
                    }
                }
            }
            b.push_str(&cli(&format!(
                "az managedservices assignment list --include-definition true --subscription {sid}"
            )));
            if let Some(r) = refusal.filter(|_| found.is_empty()) {
                let _ = write!(
                    b,
                    "<p class=\"muted\">The delegation's details are not readable with your authorizations: {}</p>",
                    esc(&r)
                );
            }
            for a in &found {
                let id = a["id"].as_str().unwrap_or("");
                let scope = scope_of(id);
                let _ = write!(
                    b,
                    "<div class=\"card\"><p>Delegation {} at <code>{}</code></p>{}</div>",
                    copyable(id),
                    esc(scope),
                    definition_block(s, &a["properties"]["registrationDefinition"], scope)
                );
            }
        }
        b.push_str("</section>");
    }
    frame(s, PATH, "My customers", &b)
}

/// Activate an eligible authorization: a SelfActivate role assignment schedule request as the principal.
pub fn activate(s: &Session) -> String {
    let f = form(s.req);
    let scope = field(&f, "scope");
    let role = field(&f, "role");
    let Some(who) = &s.who else {
        return customers(s, Some(notice("error", "Sign in first.")));
    };
    let body = json!({"properties": {
        "principalId": who.object_id,
        "roleDefinitionId": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
        "requestType": "SelfActivate",
        "justification": field(&f, "justification"),
        "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": field(&f, "duration")}}}});
    let name = uuid::Uuid::new_v4().to_string();
    let a = s.arm(
        "PUT",
        &format!("{scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{name}?api-version={PIM_API}"),
        Some(&body),
    );
    let msg = if a.ok() {
        let p = &a.body["properties"];
        let try_url = format!(
            "{scope}/resourcegroups/rg-console-{}?api-version=2021-04-01",
            &name[..8]
        );
        format!(
            "{}<p><a href=\"/console/explain?method=PUT&amp;url={}&amp;body={}\">Try a write now</a>: create a resource group as {} and see its decision.</p>",
            notice(
                "ok",
                &format!(
                    "Activated {} at {} for {} from {}: status {}.",
                    role_name(s, role),
                    scope,
                    field(&f, "duration"),
                    p["scheduleInfo"]["startDateTime"].as_str().unwrap_or("now"),
                    p["status"].as_str().unwrap_or(""),
                )
            ),
            esc(&q(&try_url)),
            esc(&q("{\"location\":\"westeurope\"}")),
            esc(who.client_name())
        )
    } else {
        notice("error", &format!("Activation refused: {}", a.error()))
    };
    customers(s, Some(msg))
}

/// *Service providers*: a customer's offers and delegations, with Remove delegation.
pub fn providers(s: &Session, message: Option<String>) -> String {
    const PATH: &str = "/console/providers";
    let Some(who) = &s.who else {
        return needs_principal(
            s,
            PATH,
            "Service providers",
            "Service providers shows a customer's delegations to managing tenants.",
        );
    };
    let mut b = String::new();
    if let Some(m) = &message {
        b.push_str(m);
    }
    let subs = s.arm("GET", SUBS, None);
    if !subs.ok() {
        b.push_str(&notice("error", &subs.error()));
        return frame(s, PATH, "Service providers", &b);
    }
    let home = who.tenant_id.to_lowercase();
    let own: Vec<&Value> = subs
        .items()
        .iter()
        .filter(|x| {
            x["tenantId"]
                .as_str()
                .unwrap_or("")
                .eq_ignore_ascii_case(&home)
        })
        .collect();
    // provider tenant → (offers, delegations)
    let mut providers: BTreeMap<String, (Vec<Value>, Vec<Value>)> = BTreeMap::new();
    let mut refusals = Vec::new();
    for sub in &own {
        let sid = sub["subscriptionId"].as_str().unwrap_or("");
        let defs = s.arm(
            "GET",
            &format!("/subscriptions/{sid}/providers/Microsoft.ManagedServices/registrationDefinitions?api-version={MS_API}"),
            None,
        );
        let asg = assignments_at(s, &format!("/subscriptions/{sid}"));
        if !asg.ok() {
            refusals.push(format!("{}: {}", sub_name(subs.items(), sid), asg.error()));
        }
        for d in defs.items() {
            let t = d["properties"]["managedByTenantId"]
                .as_str()
                .unwrap_or("")
                .to_lowercase();
            providers.entry(t).or_default().0.push(d.clone());
        }
        for a in asg.items() {
            let t = a["properties"]["registrationDefinition"]["properties"]["managedByTenantId"]
                .as_str()
                .unwrap_or("")
                .to_lowercase();
            providers.entry(t).or_default().1.push(a.clone());
        }
    }
    b.push_str(&cli(
        "az managedservices assignment list --include-definition true",
    ));
    for r in &refusals {
        b.push_str(&notice("info", r));
    }
    if providers.is_empty() {
        let _ = write!(
            b,
            "<p>No service provider manages anything {} can read: no delegation in {}.</p>",
            esc(who.client_name()),
            esc(&s.tenant_name(&who.tenant_id))
        );
        return frame(s, PATH, "Service providers", &b);
    }
    for (tenant, (offers, delegations)) in &providers {
        let _ = write!(
            b,
            "<section class=\"card\" aria-labelledby=\"p-{t}\"><h2 id=\"p-{t}\">{}</h2><p>Managing tenant {}</p><h3>Offers (registration definitions)</h3>",
            esc(&s.tenant_name(tenant)),
            copyable(tenant),
            t = esc(tenant)
        );
        for d in offers {
            let id = d["id"].as_str().unwrap_or("");
            let _ = write!(
                b,
                "<div class=\"card\"><p>Definition {}</p>{}</div>",
                copyable(id),
                definition_block(s, d, scope_of(id))
            );
        }
        b.push_str("<h3>Delegations (registration assignments)</h3>");
        if delegations.is_empty() {
            b.push_str(
                "<p class=\"muted\">None: the offers above are not assigned to any scope.</p>",
            );
        }
        for a in delegations {
            let id = a["id"].as_str().unwrap_or("");
            let scope = scope_of(id);
            let name = a["name"].as_str().unwrap_or("");
            let may = s.admin(
                "POST",
                "/_emulator/explain",
                Some(&json!({"principal": who.object_id, "method": "DELETE", "url": id})),
            );
            let allowed = !may.ok() || may.body["decision"] == "allowed";
            let def_name = a["properties"]["registrationDefinition"]["properties"]
                ["registrationDefinitionName"]
                .as_str()
                .unwrap_or("");
            let _ = write!(
                b,
                "<div class=\"card\"><p><strong>{}</strong> on <code>{}</code> — {}</p><p>{}</p>",
                esc(def_name),
                esc(scope),
                esc(a["properties"]["provisioningState"].as_str().unwrap_or("")),
                copyable(id)
            );
            if allowed {
                let _ = write!(
                    b,
                    "<form method=\"post\" action=\"/console/remove-delegation\"><input type=\"hidden\" name=\"id\" value=\"{}\">\
<button class=\"danger\" type=\"submit\" aria-label=\"Remove delegation {} on {}\">Remove delegation</button></form>",
                    esc(id),
                    esc(def_name),
                    esc(scope)
                );
            } else {
                let _ = write!(
                    b,
                    "<p class=\"muted\">You may not remove it (<a href=\"/console/explain?method=DELETE&amp;url={}\">why</a>).</p>",
                    esc(&q(id))
                );
            }
            let rg = scope
                .split('/')
                .skip_while(|p| !p.eq_ignore_ascii_case("resourceGroups"))
                .nth(1);
            let sid = scope.split('/').nth(2).unwrap_or("");
            b.push_str(&cli(&format!(
                "az managedservices assignment delete --assignment {name} --subscription {sid}{} --yes",
                rg.map(|g| format!(" --resource-group {g}")).unwrap_or_default()
            )));
            b.push_str("</div>");
        }
        b.push_str("</section>");
    }
    frame(s, PATH, "Service providers", &b)
}

/// Remove a delegation: DELETE of the registration assignment as the principal.
pub fn remove(s: &Session) -> String {
    let f = form(s.req);
    let id = field(&f, "id");
    let a = s.arm("DELETE", &format!("{id}?api-version={MS_API}"), None);
    let msg = if a.ok() {
        notice(
            "ok",
            &format!(
                "Delegation {id} removed ({}). From now on the managing tenant's tokens are refused on its scope.",
                a.status
            ),
        )
    } else {
        notice("error", &format!("Removal refused: {}", a.error()))
    };
    providers(s, Some(msg))
}
