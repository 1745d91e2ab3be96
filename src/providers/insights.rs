//! Microsoft.Insights activity log: the subscription and tenant event lists with the `$filter`
//! grammar and `$select` of ARM-FACTS.md §8, in the EventData shape `crate::activity` writes.
//! The filter parser is pure and table-tested; the 90-day retention is measured from the emulator clock.

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Cx;
use crate::activity::tenant_log_key;
use crate::arm::error::ArmError;
use crate::authz::{Subject, Via};
use crate::clock::arm_time;
use crate::store::Store;
use crate::wire::Reply;

/// Events per page before a `nextLink` with `$skiptoken` is given.
const PAGE: usize = 200;
/// How far back the activity log keeps events.
const RETENTION_DAYS: i64 = 90;
const READ_ACTION: &str = "Microsoft.Insights/eventtypes/values/read";

/// The one optional narrowing clause of an activity-log filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Narrow {
    ResourceGroupName(String),
    ResourceUri(String),
    ResourceProvider(String),
    CorrelationId(String),
}

/// A parsed activity-log `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub from: OffsetDateTime,
    /// `None`: up to now.
    pub to: Option<OffsetDateTime>,
    pub narrow: Option<Narrow>,
    /// `levels eq 'Error,Warning'`, when given (lower-cased).
    pub levels: Option<Vec<String>>,
}

/// The grammar in words, for error messages.
const GRAMMAR: &str = "The supported form is eventTimestamp ge '{start}' [and eventTimestamp le '{end}'] [and eventChannels eq '{channels}'] [and levels eq '{levels}'] with at most one of resourceGroupName, resourceUri, resourceProvider or correlationId eq '{value}'; times in ISO 8601";

fn missing_filter() -> ArmError {
    ArmError::bad_request(format!(
        "The $filter query parameter is required and must include a start time (eventTimestamp ge '{{start}}'). {GRAMMAR}."
    ))
}

fn bad_filter(f: &str, why: &str) -> ArmError {
    ArmError::bad_request(format!("The $filter '{f}' is invalid: {why}. {GRAMMAR}."))
}

/// Parse an ISO 8601 time as the service accepts it: RFC 3339, without a zone (UTC), or a bare date.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    if s.len() == 10 {
        return OffsetDateTime::parse(&format!("{s}T00:00:00Z"), &Rfc3339).ok();
    }
    OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339).ok()
}

/// Parse an activity-log `$filter` (ARM-FACTS §8.1). Field names and operators are case-insensitive;
/// clauses may come in any order. Errors name what is wrong.
pub fn parse_filter(f: &str) -> Result<Filter, String> {
    let mut from = None;
    let mut to = None;
    let mut narrow: Option<Narrow> = None;
    let mut levels = None;
    for clause in super::split_and(f) {
        let clause = clause.trim();
        let mut words = clause.splitn(3, char::is_whitespace);
        let (Some(field), Some(op), Some(value)) = (words.next(), words.next(), words.next())
        else {
            return Err(format!(
                "the clause '{clause}' is not of the form field op 'value'"
            ));
        };
        let op = op.to_ascii_lowercase();
        let raw = value.trim();
        let quoted = raw
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .map(|v| v.replace("''", "'"));
        let field_l = field.to_ascii_lowercase();
        if field_l == "eventtimestamp" {
            // Timestamps may come unquoted (older SDK samples send `eventTimestamp ge 2016-11-17`).
            let text = quoted.clone().unwrap_or_else(|| raw.to_string());
            let t = parse_time(&text).ok_or_else(|| format!("'{text}' is not an ISO 8601 time"))?;
            let slot = match op.as_str() {
                "ge" => &mut from,
                "le" => &mut to,
                _ => return Err(format!("eventTimestamp supports ge and le, not '{op}'")),
            };
            if slot.replace(t).is_some() {
                return Err(format!("eventTimestamp {op} is given twice"));
            }
            continue;
        }
        if op != "eq" {
            return Err(format!("{field} supports only eq, not '{op}'"));
        }
        let Some(v) = quoted else {
            return Err(format!("the value of {field} must be in single quotes"));
        };
        let n = match field_l.as_str() {
            "eventchannels" => continue,
            "levels" => {
                if levels.is_some() {
                    return Err("levels is given twice".into());
                }
                levels = Some(
                    v.split(',')
                        .map(|l| l.trim().to_ascii_lowercase())
                        .filter(|l| !l.is_empty())
                        .collect(),
                );
                continue;
            }
            "resourcegroupname" => Narrow::ResourceGroupName(v),
            "resourceuri" | "resourceid" => Narrow::ResourceUri(v),
            "resourceprovider" => Narrow::ResourceProvider(v),
            "correlationid" => Narrow::CorrelationId(v),
            _ => return Err(format!("'{field}' is not a supported filter field")),
        };
        if narrow.is_some() {
            return Err(
                "only one of resourceGroupName, resourceUri, resourceProvider or correlationId may be given"
                    .into(),
            );
        }
        narrow = Some(n);
    }
    let from = from.ok_or("the start time (eventTimestamp ge '{start}') is missing")?;
    if to.is_some_and(|t| t < from) {
        return Err("the end time is before the start time".into());
    }
    Ok(Filter {
        from,
        to,
        narrow,
        levels,
    })
}

impl Filter {
    pub fn matches(&self, e: &Value) -> bool {
        let eq = |v: &Value, want: &str| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(want));
        let narrow_ok = match &self.narrow {
            None => true,
            Some(Narrow::ResourceGroupName(g)) => eq(&e["resourceGroupName"], g),
            Some(Narrow::ResourceUri(u)) => {
                eq(&e["resourceId"], u.trim_end_matches('/')) || eq(&e["resourceId"], u)
                // "/" is the tenant-level events' id
            }
            Some(Narrow::ResourceProvider(p)) => eq(&e["resourceProviderName"]["value"], p),
            Some(Narrow::CorrelationId(c)) => eq(&e["correlationId"], c),
        };
        let level_ok = self.levels.as_ref().is_none_or(|ls| {
            e["level"]
                .as_str()
                .is_some_and(|l| ls.iter().any(|x| x.eq_ignore_ascii_case(l)))
        });
        narrow_ok && level_ok
    }
}

/// Keep only the `$select`ed top-level fields (comma list, case-insensitive), in the event's order.
pub fn select(e: Value, fields: &[String]) -> Value {
    match e {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| fields.iter().any(|f| f.eq_ignore_ascii_case(k)))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

/// The shared body of both lists: parse, check retention, read, filter, select, page.
fn list(cx: &Cx, store: &Store, log_key: &str) -> Result<Reply, ArmError> {
    let raw = cx
        .req
        .query("$filter")
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(missing_filter)?;
    let filter = parse_filter(raw).map_err(|why| bad_filter(raw, &why))?;
    let oldest = cx.now - time::Duration::days(RETENTION_DAYS);
    if filter.from < oldest {
        return Err(ArmError::bad_request(format!(
            "The start time '{}' in $filter is more than {RETENTION_DAYS} days in the past; the activity log keeps events from '{}' on.",
            arm_time(filter.from),
            arm_time(oldest)
        )));
    }
    let to = filter.to.unwrap_or(cx.now);
    let events = store.read(|tx| tx.activity(log_key, &arm_time(filter.from), &arm_time(to)))?;
    let fields: Option<Vec<String>> = cx.req.query("$select").map(|s| {
        s.split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect()
    });
    let matching: Vec<Value> = events
        .into_iter()
        .filter(|e| filter.matches(e))
        .map(|e| match &fields {
            Some(f) if !f.is_empty() => select(e, f),
            _ => e,
        })
        .collect();
    let skip = cx
        .req
        .query("$skiptoken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let total = matching.len();
    let page: Vec<Value> = matching.into_iter().skip(skip).take(PAGE).collect();
    let mut body = json!({ "value": page });
    if skip + PAGE < total {
        body["nextLink"] = json!(super::next_link(cx, skip + PAGE));
    }
    Ok(Reply::json(200, &body))
}

/// `GET /subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values`: the
/// subscription's log (dispatch has checked `Microsoft.Insights/eventtypes/values/read` on it, so a
/// delegated Reader of the managing tenant reads it too).
pub fn activity_logs_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let sub = cx
        .id
        .subscription
        .as_deref()
        .unwrap_or_default()
        .to_lowercase();
    list(cx, store, &sub)
}

/// `GET /providers/Microsoft.Insights/eventtypes/management/values`: the tenant-level log of the
/// caller's home tenant (delegation register/unregister events, ARM-FACTS §8.4).
///
/// Azure wants Monitoring Reader at root scope (`/`) of the tenant, usually after elevate-access; the
/// emulator has neither root-scope assignments nor elevation, so its rule is: the caller (or one of its
/// groups) holds a grant whose role allows `Microsoft.Insights/eventtypes/values/read` somewhere in or
/// for its own tenant — a role assignment on one of the tenant's own subscriptions, or a delegated
/// authorization its tenant manages (Reader, Contributor, Owner, Monitoring Reader all qualify).
/// Otherwise 403 AuthorizationFailed at scope `/`.
pub fn tenant_activity_logs_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let caller = cx.caller;
    if !caller.platform && !may_read_tenant_log(cx) {
        return Err(ArmError::authorization_failed(
            &caller.client_name,
            &caller.object_id,
            READ_ACTION,
            "/",
        ));
    }
    list(cx, store, &tenant_log_key(&caller.tenant_id))
}

fn may_read_tenant_log(cx: &Cx) -> bool {
    let caller = cx.caller;
    let subject = Subject {
        object_id: &caller.object_id,
        groups: &caller.groups,
    };
    let now = cx.now.unix_timestamp();
    cx.snap.access.grants_of(&subject).any(|g| {
        if !g.active(now) || !g.covers(READ_ACTION, false) {
            return false;
        }
        match &g.via {
            Via::Delegation {
                managed_by_tenant_id,
                ..
            } => managed_by_tenant_id.eq_ignore_ascii_case(&caller.tenant_id),
            Via::RoleAssignment => match g.scope.split('/').nth(2) {
                Some(sub) if g.scope.starts_with("/subscriptions/") => cx
                    .snap
                    .dir
                    .subscription(sub)
                    .is_some_and(|s| s.tenant_id.eq_ignore_ascii_case(&caller.tenant_id)),
                // tenant root or management group: the caller's own tenant by construction
                _ => true,
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> OffsetDateTime {
        parse_time(s).unwrap()
    }

    fn check(f: &str, expected: Result<Filter, &str>) {
        match (parse_filter(f), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{f}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{f}: {got}"),
            (got, want) => panic!("{f}: got {got:?}, want {want:?}"),
        }
    }

    fn window(narrow: Option<Narrow>) -> Filter {
        Filter {
            from: t("2024-05-01T00:00:00Z"),
            to: Some(t("2024-05-02T00:00:00Z")),
            narrow,
            levels: None,
        }
    }

    #[test]
    fn filters() {
        let w =
            "eventTimestamp ge '2024-05-01T00:00:00Z' and eventTimestamp le '2024-05-02T00:00:00Z'";
        check(w, Ok(window(None)));
        check(
            "EVENTTIMESTAMP LE '2024-05-02T00:00:00Z' AND eventtimestamp GE '2024-05-01T00:00:00Z'",
            Ok(window(None)),
        );
        check(
            &format!("{w} and resourceGroupName eq 'rg-web'"),
            Ok(window(Some(Narrow::ResourceGroupName("rg-web".into())))),
        );
        check(
            &format!("resourceUri eq '/subscriptions/s/resourceGroups/rg' and {w}"),
            Ok(window(Some(Narrow::ResourceUri(
                "/subscriptions/s/resourceGroups/rg".into(),
            )))),
        );
        check(
            &format!("{w} and resourceProvider eq 'Microsoft.Resources'"),
            Ok(window(Some(Narrow::ResourceProvider(
                "Microsoft.Resources".into(),
            )))),
        );
        check(
            &format!("{w} and correlationId eq 'abc' and eventChannels eq 'Admin, Operation'"),
            Ok(window(Some(Narrow::CorrelationId("abc".into())))),
        );
        check(
            "eventTimestamp ge '2024-05-01T00:00:00.1234567Z'",
            Ok(Filter {
                from: t("2024-05-01T00:00:00.1234567Z"),
                to: None,
                narrow: None,
                levels: None,
            }),
        );
        check(
            "eventTimestamp ge 2024-05-01 and levels eq 'Error, Warning'",
            Ok(Filter {
                from: t("2024-05-01T00:00:00Z"),
                to: None,
                narrow: None,
                levels: Some(vec!["error".into(), "warning".into()]),
            }),
        );
        check(
            "eventTimestamp ge '2024-05-01T02:00:00+02:00'",
            Ok(Filter {
                from: t("2024-05-01T00:00:00Z"),
                to: None,
                narrow: None,
                levels: None,
            }),
        );
        check("resourceGroupName eq 'rg'", Err("start time"));
        check(
            "eventTimestamp le '2024-05-01T00:00:00Z'",
            Err("start time"),
        );
        check("eventTimestamp ge 'yesterday'", Err("not an ISO 8601 time"));
        check("eventTimestamp gt '2024-05-01'", Err("supports ge and le"));
        check(
            &format!("{w} and resourceGroupName eq 'a' and correlationId eq 'b'"),
            Err("only one of"),
        );
        check(
            &format!("{w} and status eq 'Failed'"),
            Err("'status' is not"),
        );
        check(&format!("{w} and resourceGroupName ne 'a'"), Err("only eq"));
        check(
            &format!("{w} and resourceGroupName eq a"),
            Err("single quotes"),
        );
        check("garbage", Err("not of the form"));
        check(
            "eventTimestamp ge '2024-05-02' and eventTimestamp le '2024-05-01'",
            Err("before the start"),
        );
        check(
            "eventTimestamp ge '2024-05-02' and eventTimestamp ge '2024-05-01'",
            Err("twice"),
        );
    }

    #[test]
    fn matching_and_select() {
        let e = json!({
            "caller": "a", "correlationId": "C1", "level": "Error", "resourceGroupName": "RG-Web",
            "resourceId": "/subscriptions/s/resourceGroups/RG-Web",
            "resourceProviderName": {"value": "Microsoft.Resources"}, "status": {"value": "Failed"},
        });
        let f = |n| window(Some(n));
        assert!(f(Narrow::ResourceGroupName("rg-web".into())).matches(&e));
        assert!(!f(Narrow::ResourceGroupName("rg-data".into())).matches(&e));
        assert!(f(Narrow::ResourceUri(
            "/SUBSCRIPTIONS/s/resourcegroups/rg-web".into()
        ))
        .matches(&e));
        assert!(!f(Narrow::ResourceUri("/subscriptions/s".into())).matches(&e));
        assert!(f(Narrow::ResourceProvider("microsoft.resources".into())).matches(&e));
        assert!(f(Narrow::CorrelationId("c1".into())).matches(&e));
        let mut lv = window(None);
        lv.levels = Some(vec!["warning".into()]);
        assert!(!lv.matches(&e));
        assert_eq!(
            select(e, &["STATUS".into(), "caller".into()]),
            json!({"caller": "a", "status": {"value": "Failed"}})
        );
    }
}
