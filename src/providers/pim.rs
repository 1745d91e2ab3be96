//! Privileged Identity Management for Lighthouse eligible authorizations: self-activation and
//! deactivation requests (policy checks, approval when the definition names approvers), role
//! assignment/eligibility schedules and instances, approvals. Eligibility comes only from registration
//! definitions (`Snapshot::eligible`); an activation is a stored role assignment schedule that
//! `Snapshot::load` turns into an expiring delegated grant, so expiry follows the emulator clock.
//! Follows the Microsoft.Authorization 2020-10-01 PIM spec, the 2021-01-01-preview approvals spec and
//! the "privileged role common errors" page; ARM-FACTS.md §7.3. Never grants anything itself.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::{list_reply, parse_eq_filter, split_and, stored_row, Cx};
use crate::arm::error::ArmError;
use crate::arm::resource_id::{is_at_or_above, ResourceId};
use crate::authz::{self, Path, Subject};
use crate::clock::{arm_time, parse_duration};
use crate::facts::{derived_guid, role_guid, unix_of, Eligibility, Snapshot, ACTIVATION_TYPE};
use crate::store::{Store, Stored};
use crate::wire::Reply;
use crate::world::PrincipalKind;

/// User Access Administrator: never eligible (ARM-FACTS §7.3).
pub const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";

const REQUEST_TYPE: &str = "microsoft.authorization/roleassignmentschedulerequests";
const APPROVAL_TYPE: &str = "microsoft.authorization/roleassignmentapprovals";
const NS: &str = "/providers/Microsoft.Authorization";

// --- shared helpers ---

/// The scope an operation addresses: (display form, lower-cased key). The tenant root is ("", "/").
fn scope_of(id: &ResourceId) -> (String, String) {
    let s = id.scope_of_last_part();
    let key = s.key();
    let display = if key == "/" {
        String::new()
    } else {
        s.canonical()
    };
    (display, key)
}

fn sub_of(scope_key: &str) -> Option<&str> {
    scope_key
        .strip_prefix("/subscriptions/")
        .and_then(|r| r.split('/').next())
        .filter(|s| !s.is_empty())
}

fn role_full_id(scope_key: &str, guid: &str) -> String {
    match sub_of(scope_key) {
        Some(s) => format!("/subscriptions/{s}{NS}/roleDefinitions/{guid}"),
        None => format!("{NS}/roleDefinitions/{guid}"),
    }
}

fn eligibility_schedule_id(e: &Eligibility) -> String {
    format!("{}{NS}/RoleEligibilitySchedules/{}", e.scope_display, e.id)
}

fn eligibility_instance_id(e: &Eligibility) -> String {
    format!(
        "{}{NS}/RoleEligibilityScheduleInstances/{}",
        e.scope_display, e.instance_id
    )
}

/// Is the caller this principal, or a member of this group?
fn is_or_member(cx: &Cx, principal: &str) -> bool {
    cx.caller.object_id.eq_ignore_ascii_case(principal)
        || cx
            .caller
            .groups
            .iter()
            .any(|g| g.eq_ignore_ascii_case(principal))
}

/// Is `who` this principal or a member of it (for `assignedTo('{who}')`)?
fn covers(snap: &Snapshot, who: &str, principal: &str) -> bool {
    who.eq_ignore_ascii_case(principal)
        || snap
            .dir
            .groups_of(who)
            .iter()
            .any(|g| g.eq_ignore_ascii_case(principal))
}

/// May the caller do `action` at `scope_key` through RBAC or a delegation (lists of other principals'
/// PIM objects need read access to their scope)?
fn may(cx: &Cx, action: &str, scope_key: &str) -> bool {
    if cx.caller.platform {
        return true;
    }
    let Some(sub) = sub_of(scope_key).and_then(|s| cx.snap.dir.subscription(s)) else {
        return false;
    };
    let path = if sub.tenant_id.eq_ignore_ascii_case(&cx.caller.tenant_id) {
        Path::Customer
    } else {
        Path::Delegated
    };
    let subject = Subject {
        object_id: &cx.caller.object_id,
        groups: &cx.caller.groups,
    };
    authz::decide(
        &subject,
        action,
        false,
        scope_key,
        path,
        &cx.snap.access,
        cx.now.unix_timestamp(),
    )
    .is_allowed()
}

fn principal_type(snap: &Snapshot, id: &str) -> &'static str {
    snap.dir
        .principal(id)
        .map(|p| p.kind.as_str())
        .unwrap_or("User")
}

/// ARM's `expandedProperties` of PIM objects: scope, role definition and principal.
fn expanded(snap: &Snapshot, scope_display: &str, role: &str, principal: &str) -> Value {
    let scope_key = scope_display.to_lowercase();
    let (scope_name, scope_type) = match ResourceId::parse(scope_display) {
        Ok(id) if id.resource_group.as_deref().is_some_and(|r| !r.is_empty()) => (
            id.resource_group.clone().unwrap_or_default(),
            "resourcegroup",
        ),
        _ => (
            sub_of(&scope_key)
                .and_then(|s| snap.dir.subscription(s))
                .map(|s| s.display_name.clone())
                .unwrap_or_default(),
            "subscription",
        ),
    };
    let r = snap.role(role);
    let p = snap.dir.principal(principal);
    json!({
        "scope": {"id": scope_display, "displayName": scope_name, "type": scope_type},
        "roleDefinition": {
            "id": role_full_id(&scope_key, role),
            "displayName": r.map(|r| r.role_name.clone()),
            "type": r.map(|r| r.role_type.clone()),
        },
        "principal": {
            "id": principal,
            "displayName": p.map(|p| p.display_name.clone()),
            "email": p.and_then(|p| p.user_principal_name.clone()),
            "type": p.map(|p| p.kind.as_str()),
        },
    })
}

fn policy_failed(rules: &[&str], why: &[String]) -> ArmError {
    // Wire text from the "privileged role common errors" page: the rule names as a JSON array.
    let mut e = ArmError::new(
        "RoleAssignmentRequestPolicyValidationFailed",
        format!(
            "The following policy rules failed: {}",
            serde_json::to_string(rules).unwrap_or_default()
        ),
    );
    for (rule, w) in rules.iter().zip(why) {
        // emulator choice: say why in `details`, the message stays Azure's
        e = e.with_detail(rule, w.clone());
    }
    e
}

fn missing(property: &str) -> ArmError {
    ArmError::invalid_request_content(&format!("The property 'properties.{property}' is required"))
}

/// The activation length asked for, in seconds from `now`: `AfterDuration` (duration), `AfterDateTime`
/// (endDateTime) or, when no expiration is sent, the policy maximum (emulator choice).
fn requested_secs(props: &Map<String, Value>, now: i64, max: i64) -> Result<i64, String> {
    let exp = &props.get("scheduleInfo").cloned().unwrap_or(Value::Null)["expiration"];
    let kind = exp["type"].as_str().unwrap_or("");
    let duration = exp["duration"].as_str().filter(|d| !d.is_empty());
    let end = exp["endDateTime"].as_str().filter(|d| !d.is_empty());
    if kind.eq_ignore_ascii_case("NoExpiration") {
        return Err(
            "An activation must expire: expiration type NoExpiration is not allowed.".into(),
        );
    }
    if kind.eq_ignore_ascii_case("AfterDateTime") || (kind.is_empty() && end.is_some()) {
        let end = end.ok_or("Expiration type AfterDateTime needs endDateTime.")?;
        let t = unix_of(end).ok_or_else(|| format!("'{end}' is not an RFC 3339 time."))?;
        return Ok(t - now);
    }
    match duration {
        Some(d) => parse_duration(d)
            .map(|d| d.whole_seconds())
            .ok_or_else(|| format!("'{d}' is not an ISO 8601 duration such as PT2H.")),
        None if kind.is_empty() || kind.eq_ignore_ascii_case("AfterDuration") => Ok(max),
        None => Err(format!("Unknown expiration type '{kind}'.")),
    }
}

fn hms(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if s > 0 || out == "PT" {
        out.push_str(&format!("{s}S"));
    }
    out
}

// --- filters ---

#[derive(Debug, Clone, PartialEq)]
enum Clause {
    AsTarget,
    AsRequestor,
    AsApprover,
    AsCreatedBy,
    AtScope,
    PrincipalId(String),
    AssignedTo(String),
    RoleDefinitionId(String),
    Status(String),
}

fn parse_filter(cx: &Cx) -> Result<Vec<Clause>, ArmError> {
    let f = cx.req.query("$filter").unwrap_or("").trim().to_string();
    if f.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in split_and(&f) {
        let p = part.trim();
        let compact: String = p
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        let clause = match compact.as_str() {
            "astarget()" => Clause::AsTarget,
            "asrequestor()" => Clause::AsRequestor,
            "asapprover()" => Clause::AsApprover,
            "ascreatedby()" => Clause::AsCreatedBy,
            "atscope()" => Clause::AtScope,
            c if c.starts_with("assignedto(") && c.ends_with(')') => {
                let v = &c["assignedto(".len()..c.len() - 1];
                Clause::AssignedTo(v.trim_matches('\'').to_string())
            }
            _ => match parse_eq_filter(p).as_deref() {
                Some([(k, v)]) => match k.to_ascii_lowercase().as_str() {
                    "principalid" => Clause::PrincipalId(v.to_lowercase()),
                    "roledefinitionid" => Clause::RoleDefinitionId(role_guid(v)),
                    "status" => Clause::Status(v.clone()),
                    _ => return Err(ArmError::invalid_filter(&f)),
                },
                _ => return Err(ArmError::invalid_filter(&f)),
            },
        };
        out.push(clause);
    }
    Ok(out)
}

/// What a filter looks at in one PIM object.
struct Item<'a> {
    scope: &'a str,
    principal: &'a str,
    requestor: Option<&'a str>,
    role: &'a str,
    status: Option<&'a str>,
    approvers: &'a [String],
}

impl Item<'_> {
    fn targets_caller(&self, cx: &Cx) -> bool {
        is_or_member(cx, self.principal)
    }

    fn requested_by_caller(&self, cx: &Cx) -> bool {
        self.requestor
            .is_some_and(|r| r.eq_ignore_ascii_case(&cx.caller.object_id))
    }

    fn approvable_by_caller(&self, cx: &Cx) -> bool {
        is_approver(cx, self.approvers, self.requestor.unwrap_or(self.principal))
    }

    /// Does the item pass the filter at `list_scope`, and may the caller see it (its own objects, or
    /// read access to the item's scope with `read_action`)?
    fn shown(&self, cx: &Cx, clauses: &[Clause], list_scope: &str, read_action: &str) -> bool {
        let related_scope = if clauses.contains(&Clause::AtScope) {
            is_at_or_above(self.scope, list_scope)
        } else {
            is_at_or_above(self.scope, list_scope) || is_at_or_above(list_scope, self.scope)
        };
        let passes = clauses.iter().all(|c| match c {
            Clause::AsTarget => self.targets_caller(cx),
            Clause::AsRequestor | Clause::AsCreatedBy => self.requested_by_caller(cx),
            Clause::AsApprover => self.approvable_by_caller(cx),
            Clause::AtScope => true,
            Clause::PrincipalId(p) => self.principal.eq_ignore_ascii_case(p),
            Clause::AssignedTo(p) => covers(cx.snap, p, self.principal),
            Clause::RoleDefinitionId(r) => self.role.eq_ignore_ascii_case(r),
            Clause::Status(s) => self.status.is_some_and(|x| x.eq_ignore_ascii_case(s)),
        });
        related_scope
            && passes
            && (self.targets_caller(cx)
                || self.requested_by_caller(cx)
                || self.approvable_by_caller(cx)
                || may(cx, read_action, self.scope))
    }
}

/// An approver is a listed principal or a member of a listed group — never the requester.
fn is_approver(cx: &Cx, approvers: &[String], requester: &str) -> bool {
    !cx.caller.object_id.eq_ignore_ascii_case(requester)
        && approvers.iter().any(|a| is_or_member(cx, a))
}

// --- role assignment schedule requests ---

pub fn role_assignment_schedule_requests_create(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let body = cx.object_body()?;
    let props = body
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| missing("properties").with_target("properties"))?;
    let field = |k: &str| {
        props
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    let request_type = field("requestType");
    let principal = field("principalId").to_lowercase();
    let role = role_guid(&field("roleDefinitionId"));
    for (k, v) in [
        ("requestType", &request_type),
        ("principalId", &principal),
        ("roleDefinitionId", &role),
    ] {
        if v.is_empty() {
            return Err(missing(k));
        }
    }
    let kind = request_type.to_ascii_lowercase();
    if !matches!(kind.as_str(), "selfactivate" | "selfdeactivate") {
        let known = [
            "adminassign",
            "adminremove",
            "adminupdate",
            "adminextend",
            "adminrenew",
            "selfextend",
            "selfrenew",
        ];
        return Err(if known.contains(&kind.as_str()) {
            // emulator choice: only Lighthouse just-in-time activation is modelled
            ArmError::new(
                "RequestTypeNotSupported",
                format!("The emulator models Azure Lighthouse just-in-time access: requestType '{request_type}' is not supported; use SelfActivate or SelfDeactivate."),
            )
        } else {
            ArmError::invalid_request_content(&format!(
                "'{request_type}' is not a valid requestType"
            ))
        });
    }
    let (scope_display, _) = scope_of(cx.id);
    if principal != cx.caller.object_id.to_lowercase() {
        // Activating for someone else is an administrator's request: ARM's RBAC answer.
        return Err(ArmError::authorization_failed(
            &cx.caller.client_name,
            &cx.caller.object_id,
            "Microsoft.Authorization/roleAssignmentScheduleRequests/write",
            &scope_display,
        ));
    }
    if store.read(|tx| tx.get(&cx.id.key()))?.is_some() {
        // emulator choice: a request name is used once
        return Err(ArmError::conflict(format!(
            "A role assignment schedule request named '{}' already exists at this scope.",
            cx.id.name().unwrap_or_default()
        )));
    }
    if kind == "selfactivate" {
        activate(cx, store, props, &role)
    } else {
        deactivate(cx, store, props, &role)
    }
}

fn request_id(cx: &Cx) -> String {
    let (scope_display, _) = scope_of(cx.id);
    format!(
        "{scope_display}{NS}/RoleAssignmentScheduleRequests/{}",
        cx.id.name().unwrap_or_default()
    )
}

fn request_body(
    cx: &Cx,
    props: &Map<String, Value>,
    role: &str,
    status: &str,
    extra: Value,
) -> Value {
    let (scope_display, scope_key) = scope_of(cx.id);
    let me = cx.caller.object_id.to_lowercase();
    let sched = props.get("scheduleInfo").cloned().unwrap_or(Value::Null);
    let exp = &sched["expiration"];
    let mut p = json!({
        "targetRoleAssignmentScheduleId": null,
        "targetRoleAssignmentScheduleInstanceId": null,
        "scope": scope_display,
        "roleDefinitionId": role_full_id(&scope_key, role),
        "principalId": me,
        "principalType": principal_type(cx.snap, &me),
        "requestType": props.get("requestType").cloned().unwrap_or(Value::Null),
        "status": status,
        "approvalId": null,
        "linkedRoleEligibilityScheduleId": props.get("linkedRoleEligibilityScheduleId").cloned().unwrap_or(Value::Null),
        "scheduleInfo": {
            "startDateTime": sched.get("startDateTime").cloned().unwrap_or_else(|| json!(cx.now_str())),
            "expiration": {
                "type": exp.get("type").cloned().unwrap_or(Value::Null),
                "endDateTime": exp.get("endDateTime").cloned().unwrap_or(Value::Null),
                "duration": exp.get("duration").cloned().unwrap_or(Value::Null),
            },
        },
        "ticketInfo": {
            "ticketNumber": props.get("ticketInfo").and_then(|t| t.get("ticketNumber")).cloned().unwrap_or(Value::Null),
            "ticketSystem": props.get("ticketInfo").and_then(|t| t.get("ticketSystem")).cloned().unwrap_or(Value::Null),
        },
        "justification": props.get("justification").cloned().unwrap_or(Value::Null),
        "requestorId": me,
        "createdOn": cx.now_str(),
        "condition": props.get("condition").cloned().unwrap_or(Value::Null),
        "conditionVersion": props.get("conditionVersion").cloned().unwrap_or(Value::Null),
        "expandedProperties": expanded(cx.snap, &scope_display, role, &me),
    });
    if let (Some(p), Value::Object(extra)) = (p.as_object_mut(), extra) {
        p.extend(extra);
    }
    json!({
        "properties": p,
        "name": cx.id.name().unwrap_or_default(),
        "id": request_id(cx),
        "type": "Microsoft.Authorization/RoleAssignmentScheduleRequests",
    })
}

/// The stored activation: a role assignment schedule of type `Activated` from `start` for `secs`.
fn schedule_row(
    snap: &Snapshot,
    e: &Eligibility,
    user: &str,
    request_id: &str,
    guid: &str,
    start: OffsetDateTime,
    secs: i64,
) -> Result<Stored, ArmError> {
    let id = format!("{}{NS}/RoleAssignmentSchedules/{guid}", e.scope_display);
    let rid = ResourceId::parse(&id).map_err(|_| ArmError::internal())?;
    let end = start + time::Duration::seconds(secs);
    let body = json!({
        "properties": {
            "scope": e.scope_display,
            "roleDefinitionId": role_full_id(&e.scope, &e.role),
            "principalId": user,
            "principalType": principal_type(snap, user),
            "roleAssignmentScheduleRequestId": request_id,
            "linkedRoleEligibilityScheduleId": eligibility_schedule_id(e),
            "assignmentType": "Activated",
            "memberType": if e.principal_id == user { "Direct" } else { "Group" },
            "status": "Provisioned",
            "startDateTime": arm_time(start),
            "endDateTime": arm_time(end),
            "condition": null,
            "conditionVersion": null,
            "createdOn": arm_time(start),
            "updatedOn": arm_time(start),
            "expandedProperties": expanded(snap, &e.scope_display, &e.role, user),
        },
        "name": guid,
        "id": id,
        "type": "Microsoft.Authorization/RoleAssignmentSchedules",
    });
    Ok(stored_row(&rid, ACTIVATION_TYPE, body))
}

fn str_prop<'a>(body: &'a Value, k: &str) -> &'a str {
    body["properties"][k].as_str().unwrap_or_default()
}

/// Is this stored schedule the caller's activation of `role` at `scope_key`, still running at `now`?
fn running(r: &Stored, user: &str, role: &str, scope_key: &str, now: i64) -> bool {
    r.parent == scope_key
        && str_prop(&r.body, "principalId").eq_ignore_ascii_case(user)
        && role_guid(str_prop(&r.body, "roleDefinitionId")) == role
        && unix_of(str_prop(&r.body, "endDateTime")).is_some_and(|end| end > now)
}

fn activate(
    cx: &Cx,
    store: &Store,
    props: &Map<String, Value>,
    role: &str,
) -> Result<Reply, ArmError> {
    let (scope_display, scope_key) = scope_of(cx.id);
    let me = cx.caller.object_id.to_lowercase();
    let now = cx.now.unix_timestamp();
    let linked = props
        .get("linkedRoleEligibilityScheduleId")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(|s| role_guid(s.trim()));
    let role_name = cx
        .snap
        .role(role)
        .map(|r| r.role_name.clone())
        .unwrap_or_else(|| role.to_string());
    let mine: Vec<&Eligibility> = cx
        .snap
        .eligible
        .iter()
        .filter(|e| {
            e.role == role
                && is_or_member(cx, &e.principal_id)
                && linked.as_ref().is_none_or(|l| *l == e.id)
        })
        .collect();
    let is_user = cx
        .snap
        .dir
        .principal(&me)
        .is_some_and(|p| p.kind == PrincipalKind::User);
    let here = mine.iter().find(|e| e.scope == scope_key).copied();
    let e = match here {
        Some(e) if is_user => e,
        _ => {
            let why = if !is_user && !mine.is_empty() {
                format!("{} is a service principal: eligible authorizations apply to users, directly or through their groups, never to service principals.", cx.caller.client_name)
            } else if let Some(other) = mine.first() {
                format!("{} is eligible for {role_name} at '{}', not at '{scope_display}': activate at the scope of the eligibility.", cx.caller.client_name, other.scope_display)
            } else {
                format!(
                    "{} has no eligible authorization for {role_name} at '{scope_display}'.",
                    cx.caller.client_name
                )
            };
            return Err(policy_failed(&["EligibilityRule"], &[why]));
        }
    };

    let sub = sub_of(&scope_key).map(str::to_string);
    let (requests, schedules) = store.read(|tx| -> Result<_, ArmError> {
        Ok((
            tx.by_type(REQUEST_TYPE, sub.as_deref(), None)?,
            tx.by_type(ACTIVATION_TYPE, sub.as_deref(), None)?,
        ))
    })?;
    if requests.iter().any(|r| {
        r.parent == scope_key
            && str_prop(&r.body, "principalId") == me
            && role_guid(str_prop(&r.body, "roleDefinitionId")) == role
            && str_prop(&r.body, "status") == "PendingApproval"
    }) {
        // emulator choice (recalled ARM wire text, not verified against a document)
        return Err(ArmError::new(
            "PendingRoleAssignmentRequest",
            "There is already an existing pending Role assignment request.",
        ));
    }
    if schedules
        .iter()
        .any(|r| running(r, &me, role, &scope_key, now))
    {
        // Azure's text ("privileged role common errors"); status as Graph's PIM answers it
        return Err(ArmError::new(
            "RoleAssignmentExists",
            "The Role assignment already exists.",
        )
        .with_status(400));
    }

    let mut failed = Vec::new();
    let mut why = Vec::new();
    match requested_secs(props, now, e.max_activation_secs) {
        Ok(s) if s <= 0 => {
            failed.push("ExpirationRule");
            why.push("The activation must end after it starts.".to_string());
        }
        Ok(s) if s > e.max_activation_secs => {
            failed.push("ExpirationRule");
            why.push(format!(
                "The requested activation of {} is longer than the maximumActivationDuration {} of this eligible authorization.",
                hms(s),
                e.max_activation
            ));
        }
        Ok(_) => {}
        Err(w) => {
            failed.push("ExpirationRule");
            why.push(w);
        }
    }
    let justification = props
        .get("justification")
        .and_then(Value::as_str)
        .unwrap_or("");
    if justification.trim().is_empty() {
        failed.push("JustificationRule");
        why.push("A justification is required to activate an eligible authorization.".into());
    }
    // emulator choice: multiFactorAuthProvider 'Azure' is shown but not enforced, since the
    // emulator's sign-in has no second factor (every token would fail the MfaRule).
    if !failed.is_empty() {
        return Err(policy_failed(&failed, &why));
    }
    let secs = requested_secs(props, now, e.max_activation_secs).unwrap_or(0);

    let rid = request_id(cx);
    let linked_id = json!(eligibility_schedule_id(e));
    let (body, schedule, approval) = if e.approvers.is_empty() {
        let sched = schedule_row(cx.snap, e, &me, &rid, cx.new_id, cx.now, secs)?;
        let body = request_body(
            cx,
            props,
            role,
            "Provisioned",
            json!({"targetRoleAssignmentScheduleId": sched.body["id"], "linkedRoleEligibilityScheduleId": linked_id}),
        );
        (body, Some(sched), None)
    } else {
        let a = derived_guid(&format!("approval|{}", cx.new_id));
        let step = derived_guid(&format!("approval-step|{}", cx.new_id));
        let approval_id = format!("{NS}/roleAssignmentApprovals/{a}");
        let approval = json!({
            "id": approval_id,
            "type": "Microsoft.Authorization/roleAssignmentApprovals",
            "name": a,
            "properties": {"steps": [{
                "id": format!("{approval_id}/steps/{step}"),
                "type": "Microsoft.Authorization/roleAssignmentApprovals/steps",
                "name": step,
                "properties": {
                    "displayName": "Approval by the managing tenant's approvers",
                    "status": "InProgress",
                    "assignedToMe": false,
                    "reviewedBy": null,
                    "reviewedDateTime": null,
                    "reviewResult": "NotReviewed",
                    "justification": "",
                },
            }]},
        });
        let aid = ResourceId::parse(&approval_id).map_err(|_| ArmError::internal())?;
        let body = request_body(
            cx,
            props,
            role,
            "PendingApproval",
            json!({"approvalId": approval_id, "linkedRoleEligibilityScheduleId": linked_id}),
        );
        (body, None, Some(stored_row(&aid, APPROVAL_TYPE, approval)))
    };
    let row = stored_row(cx.id, REQUEST_TYPE, body.clone());
    store.write(|tx| -> Result<(), ArmError> {
        tx.put(&row)?;
        if let Some(s) = &schedule {
            tx.put(s)?;
        }
        if let Some(a) = &approval {
            tx.put(a)?;
        }
        Ok(())
    })?;
    Ok(Reply::json(201, &body))
}

fn deactivate(
    cx: &Cx,
    store: &Store,
    props: &Map<String, Value>,
    role: &str,
) -> Result<Reply, ArmError> {
    let (_, scope_key) = scope_of(cx.id);
    let me = cx.caller.object_id.to_lowercase();
    let now = cx.now.unix_timestamp();
    let sub = sub_of(&scope_key).map(str::to_string);
    let schedules = store.read(|tx| tx.by_type(ACTIVATION_TYPE, sub.as_deref(), None))?;
    let mut active: Vec<Stored> = schedules
        .into_iter()
        .filter(|r| running(r, &me, role, &scope_key, now))
        .collect();
    if active.is_empty() {
        // emulator choice: Graph PIM's code and text for deactivating what is not active
        return Err(ArmError::new(
            "RoleAssignmentDoesNotExist",
            "The Role assignment does not exist.",
        ));
    }
    for r in &mut active {
        r.body["properties"]["endDateTime"] = json!(cx.now_str());
        r.body["properties"]["updatedOn"] = json!(cx.now_str());
    }
    let body = request_body(
        cx,
        props,
        role,
        "Revoked",
        json!({"targetRoleAssignmentScheduleId": active[0].body["id"]}),
    );
    let row = stored_row(cx.id, REQUEST_TYPE, body.clone());
    store.write(|tx| -> Result<(), ArmError> {
        for r in &active {
            tx.put(r)?;
        }
        tx.put(&row)?;
        Ok(())
    })?;
    Ok(Reply::json(201, &body))
}

fn request_not_found(cx: &Cx) -> ArmError {
    // emulator choice: code and text
    ArmError::new(
        "RoleAssignmentScheduleRequestNotFound",
        format!(
            "The role assignment schedule request '{}' could not be found.",
            cx.id.name().unwrap_or_default()
        ),
    )
    .with_status(404)
}

/// The approvers of a stored request: those of the eligibility it activates (today's data).
fn approvers_of<'a>(snap: &'a Snapshot, request: &Value) -> &'a [String] {
    let linked = role_guid(str_prop(request, "linkedRoleEligibilityScheduleId"));
    snap.eligible
        .iter()
        .find(|e| e.id == linked)
        .map(|e| e.approvers.as_slice())
        .unwrap_or(&[])
}

fn request_item<'a>(snap: &'a Snapshot, r: &'a Stored, role: &'a str) -> Item<'a> {
    Item {
        scope: &r.parent,
        principal: str_prop(&r.body, "principalId"),
        requestor: Some(str_prop(&r.body, "requestorId")),
        role,
        status: Some(str_prop(&r.body, "status")),
        approvers: approvers_of(snap, &r.body),
    }
}

pub fn role_assignment_schedule_requests_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let r = store
        .read(|tx| tx.get(&cx.id.key()))?
        .ok_or_else(|| request_not_found(cx))?;
    let role = role_guid(str_prop(&r.body, "roleDefinitionId"));
    let item = request_item(cx.snap, &r, &role);
    if !item.shown(
        cx,
        &[],
        &r.parent,
        "Microsoft.Authorization/roleAssignmentScheduleRequests/read",
    ) {
        let (scope_display, _) = scope_of(cx.id);
        return Err(ArmError::authorization_failed(
            &cx.caller.client_name,
            &cx.caller.object_id,
            "Microsoft.Authorization/roleAssignmentScheduleRequests/read",
            &scope_display,
        ));
    }
    Ok(Reply::json(200, &r.body))
}

pub fn role_assignment_schedule_requests_list_for_scope(
    cx: &Cx,
    store: &Store,
) -> Result<Reply, ArmError> {
    let clauses = parse_filter(cx)?;
    let (_, scope_key) = scope_of(cx.id);
    let rows = store.read(|tx| tx.by_type(REQUEST_TYPE, sub_of(&scope_key), None))?;
    let items = rows
        .iter()
        .filter(|r| {
            let role = role_guid(str_prop(&r.body, "roleDefinitionId"));
            request_item(cx.snap, r, &role).shown(
                cx,
                &clauses,
                &scope_key,
                "Microsoft.Authorization/roleAssignmentScheduleRequests/read",
            )
        })
        .map(|r| r.body.clone())
        .collect();
    Ok(list_reply(cx, items))
}

pub fn role_assignment_schedule_requests_cancel(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    // The id ends with `/cancel`: the request is its parent.
    let req = cx.id.parent().ok_or_else(|| request_not_found(cx))?;
    let mut r = store
        .read(|tx| tx.get(&req.key()))?
        .ok_or_else(|| request_not_found(cx))?;
    let me = cx.caller.object_id.to_lowercase();
    if str_prop(&r.body, "requestorId") != me && str_prop(&r.body, "principalId") != me {
        let (scope_display, _) = scope_of(cx.id);
        return Err(ArmError::authorization_failed(
            &cx.caller.client_name,
            &cx.caller.object_id,
            "Microsoft.Authorization/roleAssignmentScheduleRequests/cancel/action",
            &scope_display,
        ));
    }
    let status = str_prop(&r.body, "status").to_string();
    if status != "PendingApproval" {
        // emulator choice: code and text
        return Err(ArmError::new(
            "InvalidRequestState",
            format!("Only a pending role assignment schedule request can be canceled; this one is '{status}'."),
        ));
    }
    r.body["properties"]["status"] = json!("Canceled");
    let approval_key = str_prop(&r.body, "approvalId").to_lowercase();
    store.write(|tx| -> Result<(), ArmError> {
        if let Some(mut a) = tx.get(&approval_key)? {
            // emulator choice: a canceled request's approval step is closed unreviewed
            for s in a.body["properties"]["steps"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                s["properties"]["status"] = json!("Completed");
            }
            tx.put(&a)?;
        }
        tx.put(&r)?;
        Ok(())
    })?;
    Ok(Reply::empty(200))
}

// --- role assignment schedules and instances (active activations) ---

/// The running activations the caller may see at this scope, as stored schedules.
fn running_schedules(cx: &Cx, store: &Store) -> Result<Vec<Value>, ArmError> {
    let clauses = parse_filter(cx)?;
    let (_, scope_key) = scope_of(cx.id);
    let now = cx.now.unix_timestamp();
    let rows = store.read(|tx| tx.by_type(ACTIVATION_TYPE, sub_of(&scope_key), None))?;
    Ok(rows
        .iter()
        .filter(|r| {
            let p = &r.body["properties"];
            let start = unix_of(p["startDateTime"].as_str().unwrap_or_default()).unwrap_or(0);
            let end = unix_of(p["endDateTime"].as_str().unwrap_or_default()).unwrap_or(0);
            let role = role_guid(p["roleDefinitionId"].as_str().unwrap_or_default());
            let item = Item {
                scope: &r.parent,
                principal: p["principalId"].as_str().unwrap_or_default(),
                requestor: p["principalId"].as_str(),
                role: &role,
                status: p["status"].as_str(),
                approvers: &[],
            };
            start <= now
                && now < end
                && item.shown(
                    cx,
                    &clauses,
                    &scope_key,
                    "Microsoft.Authorization/roleAssignmentSchedules/read",
                )
        })
        .map(|r| r.body.clone())
        .collect())
}

/// A list, or the one item named by the path (the spec's `Get` on the same collection).
fn list_or_get(cx: &Cx, items: Vec<Value>, what: &str) -> Result<Reply, ArmError> {
    match cx.id.name() {
        None => Ok(list_reply(cx, items)),
        Some(n) => items
            .into_iter()
            .find(|v| {
                v["name"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(n))
            })
            .map(|v| Reply::json(200, &v))
            // emulator choice: code and text
            .ok_or_else(|| {
                ArmError::new(
                    &format!("{what}NotFound"),
                    format!("The {what} '{n}' could not be found."),
                )
                .with_status(404)
            }),
    }
}

pub fn role_assignment_schedules_list_for_scope(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let items = running_schedules(cx, store)?;
    list_or_get(cx, items, "RoleAssignmentSchedule")
}

pub fn role_assignment_schedule_instances_list_for_scope(
    cx: &Cx,
    store: &Store,
) -> Result<Reply, ArmError> {
    let items = running_schedules(cx, store)?
        .into_iter()
        .map(|s| {
            let guid = s["name"].as_str().unwrap_or_default().to_string();
            let scope = s["properties"]["scope"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let instance = derived_guid(&format!("instance|{guid}"));
            let mut p = s["properties"].clone();
            if let Some(m) = p.as_object_mut() {
                m.remove("roleAssignmentScheduleRequestId");
                m.insert("roleAssignmentScheduleId".into(), s["id"].clone());
                m.insert(
                    "originRoleAssignmentId".into(),
                    json!(format!(
                        "{scope}{NS}/roleAssignments/{}",
                        derived_guid(&format!("origin|{guid}"))
                    )),
                );
                let linked = role_guid(
                    s["properties"]["linkedRoleEligibilityScheduleId"]
                        .as_str()
                        .unwrap_or_default(),
                );
                let linked_instance = cx
                    .snap
                    .eligible
                    .iter()
                    .find(|e| e.id == linked)
                    .map(eligibility_instance_id);
                m.insert(
                    "linkedRoleEligibilityScheduleInstanceId".into(),
                    json!(linked_instance),
                );
            }
            json!({
                "properties": p,
                "name": instance,
                "id": format!("{scope}{NS}/RoleAssignmentScheduleInstances/{instance}"),
                "type": "Microsoft.Authorization/RoleAssignmentScheduleInstances",
            })
        })
        .collect();
    list_or_get(cx, items, "RoleAssignmentScheduleInstance")
}

// --- role eligibility schedules and instances (from the delegations) ---

fn eligibility_items(cx: &Cx, instances: bool) -> Result<Vec<Value>, ArmError> {
    let clauses = parse_filter(cx)?;
    let (_, scope_key) = scope_of(cx.id);
    let action = if instances {
        "Microsoft.Authorization/roleEligibilityScheduleInstances/read"
    } else {
        "Microsoft.Authorization/roleEligibilitySchedules/read"
    };
    Ok(cx
        .snap
        .eligible
        .iter()
        // Lighthouse eligibilities are the managing tenant's: the customer's PIM does not list
        // them, as its role assignment lists do not list delegated authorizations (ARM-FACTS §7.1).
        .filter(|e| {
            e.managed_by_tenant_id
                .eq_ignore_ascii_case(&cx.caller.tenant_id)
        })
        .filter(|e| {
            Item {
                scope: &e.scope,
                principal: &e.principal_id,
                requestor: None,
                role: &e.role,
                status: Some("Provisioned"),
                approvers: &[],
            }
            .shown(cx, &clauses, &scope_key, action)
        })
        .map(|e| {
            let member_type = if is_or_member(cx, &e.principal_id)
                && !cx.caller.object_id.eq_ignore_ascii_case(&e.principal_id)
            {
                "Group"
            } else {
                "Direct"
            };
            let mut p = json!({
                "scope": e.scope_display,
                "roleDefinitionId": role_full_id(&e.scope, &e.role),
                "principalId": e.principal_id,
                "principalType": principal_type(cx.snap, &e.principal_id),
                "status": "Provisioned",
                "startDateTime": e.created_on,
                "endDateTime": null,
                "memberType": member_type,
                "createdOn": e.created_on,
                "condition": null,
                "conditionVersion": null,
                "expandedProperties": expanded(cx.snap, &e.scope_display, &e.role, &e.principal_id),
            });
            if instances {
                p["roleEligibilityScheduleId"] = json!(eligibility_schedule_id(e));
                json!({
                    "properties": p,
                    "name": e.instance_id,
                    "id": eligibility_instance_id(e),
                    "type": "Microsoft.Authorization/RoleEligibilityScheduleInstances",
                })
            } else {
                p["roleEligibilityScheduleRequestId"] = Value::Null;
                p["updatedOn"] = json!(e.created_on);
                json!({
                    "properties": p,
                    "name": e.id,
                    "id": eligibility_schedule_id(e),
                    "type": "Microsoft.Authorization/RoleEligibilitySchedules",
                })
            }
        })
        .collect())
}

pub fn role_eligibility_schedules_list_for_scope(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    let items = eligibility_items(cx, false)?;
    list_or_get(cx, items, "RoleEligibilitySchedule")
}

pub fn role_eligibility_schedule_instances_list_for_scope(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    let items = eligibility_items(cx, true)?;
    list_or_get(cx, items, "RoleEligibilityScheduleInstance")
}

// --- approvals ---

/// Stored approvals with the request each one belongs to.
fn approvals_with_requests(store: &Store) -> Result<Vec<(Stored, Stored)>, ArmError> {
    let (approvals, requests) = store.read(|tx| -> Result<_, ArmError> {
        Ok((
            tx.by_type(APPROVAL_TYPE, None, None)?,
            tx.by_type(REQUEST_TYPE, None, None)?,
        ))
    })?;
    let by_approval: HashMap<String, Stored> = requests
        .into_iter()
        .filter(|r| !str_prop(&r.body, "approvalId").is_empty())
        .map(|r| (str_prop(&r.body, "approvalId").to_lowercase(), r))
        .collect();
    Ok(approvals
        .into_iter()
        .filter_map(|a| {
            let r = by_approval.get(&a.key)?.clone();
            Some((a, r))
        })
        .collect())
}

/// The approval as this caller sees it (`assignedToMe`).
fn approval_view(cx: &Cx, a: &Stored, r: &Stored) -> Value {
    let mine = is_approver(
        cx,
        approvers_of(cx.snap, &r.body),
        str_prop(&r.body, "requestorId"),
    );
    let mut v = a.body.clone();
    for s in v["properties"]["steps"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        s["properties"]["assignedToMe"] = json!(mine);
    }
    v
}

pub fn role_assignment_approvals_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let clauses = parse_filter(cx)?;
    let (_, scope_key) = scope_of(cx.id);
    let parts = cx.id.last().map(|p| p.types.clone()).unwrap_or_default();
    let approval_name = parts.first().and_then(|(_, n)| n.clone());
    let step_name = parts.get(1).and_then(|(_, n)| n.clone());
    let mut views: BTreeMap<String, Value> = BTreeMap::new();
    for (a, r) in approvals_with_requests(store)? {
        let role = role_guid(str_prop(&r.body, "roleDefinitionId"));
        let item = request_item(cx.snap, &r, &role);
        // emulator choice: without a filter, the approvals the caller approves, asked for or is
        // the target of (never everyone's)
        let related = item.approvable_by_caller(cx)
            || item.requested_by_caller(cx)
            || item.targets_caller(cx);
        let in_scope = scope_key == "/" || is_at_or_above(&scope_key, &r.parent);
        if related && in_scope && item.shown(cx, &clauses, &r.parent, "-") {
            views.insert(
                a.body["name"].as_str().unwrap_or_default().to_lowercase(),
                approval_view(cx, &a, &r),
            );
        }
    }
    let Some(name) = approval_name else {
        return Ok(list_reply(cx, views.into_values().collect()));
    };
    let not_found = || {
        // emulator choice: code and text
        ArmError::new(
            "RoleAssignmentApprovalNotFound",
            format!("The role assignment approval '{name}' could not be found."),
        )
        .with_status(404)
    };
    let approval = views.remove(&name.to_lowercase()).ok_or_else(not_found)?;
    let steps: Vec<Value> = approval["properties"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match (parts.len(), step_name) {
        (1, _) => Ok(Reply::json(200, &approval)),
        (_, None) => Ok(list_reply(cx, steps)),
        (_, Some(s)) => steps
            .into_iter()
            .find(|x| {
                x["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&s))
            })
            .map(|x| Reply::json(200, &x))
            .ok_or_else(not_found),
    }
}

pub fn role_assignment_approval_steps_put(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let parts = cx.id.last().map(|p| p.types.clone()).unwrap_or_default();
    let approval_name = parts
        .first()
        .and_then(|(_, n)| n.clone())
        .unwrap_or_default();
    let step_name = parts
        .get(1)
        .and_then(|(_, n)| n.clone())
        .unwrap_or_default();
    let not_found = || {
        // emulator choice: code and text
        ArmError::new(
            "RoleAssignmentApprovalNotFound",
            format!("The role assignment approval '{approval_name}' could not be found."),
        )
        .with_status(404)
    };
    let body = cx.object_body()?;
    // The spec's body is the step's properties; its example wraps them in `properties`.
    let props = body
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(body);
    let result = props
        .get("reviewResult")
        .and_then(Value::as_str)
        .unwrap_or("");
    let approve = if result.eq_ignore_ascii_case("Approve") {
        true
    } else if result.eq_ignore_ascii_case("Deny") {
        false
    } else {
        return Err(ArmError::invalid_request_content(
            "The property 'reviewResult' must be 'Approve' or 'Deny'",
        ));
    };
    let key = format!("{NS}/roleAssignmentApprovals/{approval_name}").to_lowercase();
    let (mut a, mut r) = approvals_with_requests(store)?
        .into_iter()
        .find(|(a, _)| a.key == key)
        .ok_or_else(not_found)?;
    let requester = str_prop(&r.body, "requestorId").to_string();
    let approvers = approvers_of(cx.snap, &r.body).to_vec();
    if !is_approver(cx, &approvers, &requester) {
        let related = is_or_member(cx, str_prop(&r.body, "principalId"))
            || requester.eq_ignore_ascii_case(&cx.caller.object_id);
        if !related {
            return Err(not_found());
        }
        // Requesters never approve their own request.
        return Err(ArmError::authorization_failed(
            &cx.caller.client_name,
            &cx.caller.object_id,
            "Microsoft.Authorization/roleAssignmentApprovals/steps/write",
            &cx.id.canonical(),
        ));
    }
    let steps = a.body["properties"]["steps"]
        .as_array_mut()
        .ok_or_else(ArmError::internal)?;
    let step = steps
        .iter_mut()
        .find(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&step_name))
        })
        .ok_or_else(not_found)?;
    if step["properties"]["status"] != "InProgress" {
        // emulator choice: code and text
        return Err(ArmError::new(
            "ApprovalStepNotInProgress",
            format!(
                "The approval step '{step_name}' is {} and can no longer be reviewed.",
                step["properties"]["status"].as_str().unwrap_or("closed")
            ),
        ));
    }
    let me = cx.snap.dir.principal(&cx.caller.object_id);
    step["properties"]["status"] = json!("Completed");
    step["properties"]["reviewResult"] = json!(if approve { "Approve" } else { "Deny" });
    step["properties"]["reviewedDateTime"] = json!(cx.now_str());
    step["properties"]["justification"] = props
        .get("justification")
        .cloned()
        .unwrap_or_else(|| json!(""));
    step["properties"]["reviewedBy"] = json!({
        "principalType": if cx.caller.identity_type == "User" { "user" } else { "servicePrincipal" },
        "principalId": cx.caller.object_id,
        "principalName": me.map(|p| p.display_name.clone()),
        "userPrincipalName": me.and_then(|p| p.user_principal_name.clone()),
    });
    step["properties"]["assignedToMe"] = json!(true);
    let step_view = step.clone();

    let mut schedule = None;
    if approve {
        let linked = role_guid(str_prop(&r.body, "linkedRoleEligibilityScheduleId"));
        let e = cx.snap.eligible.iter().find(|e| e.id == linked);
        let props = r.body["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let now = cx.now.unix_timestamp();
        match e {
            // The activation runs from the approval for what was asked (or until the asked end).
            Some(e) => {
                let secs = requested_secs(&props, now, e.max_activation_secs)
                    .unwrap_or(0)
                    .min(e.max_activation_secs);
                let user = str_prop(&r.body, "principalId").to_string();
                let guid = derived_guid(&format!("schedule|{}", r.key));
                let s = schedule_row(
                    cx.snap,
                    e,
                    &user,
                    r.body["id"].as_str().unwrap_or_default(),
                    &guid,
                    cx.now,
                    secs,
                )?;
                r.body["properties"]["status"] = json!("Provisioned");
                r.body["properties"]["targetRoleAssignmentScheduleId"] = s.body["id"].clone();
                schedule = Some(s);
            }
            // The delegation went away while the request waited.
            None => r.body["properties"]["status"] = json!("Failed"),
        }
    } else {
        r.body["properties"]["status"] = json!("Denied");
    }
    store.write(|tx| -> Result<(), ArmError> {
        tx.put(&a)?;
        tx.put(&r)?;
        if let Some(s) = &schedule {
            tx.put(s)?;
        }
        Ok(())
    })?;
    Ok(Reply::json(200, &step_view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_iso() {
        assert_eq!(hms(9 * 3600), "PT9H");
        assert_eq!(hms(5400), "PT1H30M");
        assert_eq!(hms(0), "PT0S");
    }

    #[test]
    fn requested_lengths() {
        let props = |v: Value| v.as_object().cloned().unwrap();
        let max = 8 * 3600;
        assert_eq!(requested_secs(&props(json!({})), 0, max), Ok(max));
        assert_eq!(
            requested_secs(
                &props(
                    json!({"scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "PT2H"}}})
                ),
                0,
                max
            ),
            Ok(7200)
        );
        assert_eq!(
            requested_secs(
                &props(
                    json!({"scheduleInfo": {"expiration": {"type": "AfterDateTime", "endDateTime": "1970-01-01T01:00:00Z"}}})
                ),
                600,
                max
            ),
            Ok(3000)
        );
        assert!(requested_secs(
            &props(json!({"scheduleInfo": {"expiration": {"type": "NoExpiration"}}})),
            0,
            max
        )
        .is_err());
    }
}
