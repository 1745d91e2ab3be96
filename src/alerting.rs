//! Azure Monitor alerting, pure: an activity-log alert rule's conditions matched against an EventData
//! record, a scheduled query rule (the 2018-04-16 `source`/`schedule`/`action` shape and the 2021+
//! `criteria` shape) read into one form with its schedule and threshold, an action group's receivers,
//! and the payloads Azure sends (the common alert schema, the legacy activity-log and log-alert
//! webhook schemas, e-mail and SMS text). Never touches the store, the clock or the network. Follows
//! activityLogAlerts_API.json 2020-10-01, scheduledQueryRule_API.json 2018-04-16 and 2023-12-01,
//! actionGroups.json, and "Common alert schema" / "Webhook actions for log alerts" (Microsoft Learn).

use serde_json::{json, Map, Value};
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------------------------------------
// Activity-log alert rules

/// One condition of an activity-log alert (`allOf` of leaves, a leaf being `field` + `equals` or
/// `containsAny`, or an `anyOf` of leaves).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Leaf {
        field: String,
        /// The field's place in the EventData record (`field_path`), resolved once.
        path: Vec<String>,
        equals: Option<String>,
        /// Lower-cased.
        contains_any: Vec<String>,
    },
    AllOf(Vec<Condition>),
    AnyOf(Vec<Condition>),
}

/// An enabled activity-log alert rule, ready to match.
#[derive(Debug, Clone)]
pub struct ActivityRule {
    /// The rule's ARM id as stored.
    pub id: String,
    pub name: String,
    pub description: String,
    /// Lower-cased scopes with a leading `/`.
    pub scopes: Vec<String>,
    pub condition: Condition,
    /// (action group id, webhookProperties).
    pub action_groups: Vec<(String, Map<String, Value>)>,
}

fn leaf(v: &Value) -> Option<Condition> {
    if let Some(any) = v.get("anyOf").and_then(Value::as_array) {
        return Some(Condition::AnyOf(any.iter().filter_map(leaf).collect()));
    }
    let field = v.get("field")?.as_str()?.to_string();
    let equals = v.get("equals").and_then(Value::as_str).map(str::to_string);
    let contains_any = v
        .get("containsAny")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    Some(Condition::Leaf {
        path: field_path(&field),
        field,
        equals,
        contains_any,
    })
}

/// A stored activity-log alert's body as a rule; `None` when it is disabled or has no condition.
pub fn activity_rule(body: &Value) -> Option<ActivityRule> {
    let p = &body["properties"];
    if p["enabled"] == json!(false) || p["enabled"] == json!("false") {
        return None;
    }
    let all = p["condition"]["allOf"].as_array()?;
    let condition = Condition::AllOf(all.iter().filter_map(leaf).collect());
    let id = body["id"].as_str().unwrap_or_default().to_string();
    let scopes = p["scopes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| format!("/{}", s.trim_matches('/').to_lowercase()))
                .collect()
        })
        .unwrap_or_default();
    let action_groups = p["actions"]["actionGroups"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|g| {
                    let id = g["actionGroupId"].as_str()?.to_string();
                    let props = g["webhookProperties"].as_object().cloned();
                    Some((id, props.unwrap_or_default()))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ActivityRule {
        name: id.rsplit('/').next().unwrap_or_default().to_string(),
        id,
        description: p["description"].as_str().unwrap_or_default().to_string(),
        scopes,
        condition,
        action_groups,
    })
}

/// Where an activity-log alert `field` is in an EventData record: the documented fields map to the
/// event's members (`category`, `operationName`, `resourceType`, `resourceProvider`, `status` and
/// `subStatus` read their `value`), `properties.x` and any other dotted path read the event itself;
/// field names are matched without regard to case.
pub fn field_path(field: &str) -> Vec<String> {
    let known: &[&str] = match field.to_ascii_lowercase().as_str() {
        "category" => &["category", "value"],
        "operationname" => &["operationName", "value"],
        "resourcetype" => &["resourceType", "value"],
        "resourceprovider" => &["resourceProviderName", "value"],
        "status" => &["status", "value"],
        "substatus" => &["subStatus", "value"],
        "level" => &["level"],
        "caller" => &["caller"],
        "resourcegroup" => &["resourceGroupName"],
        "resourceid" => &["resourceId"],
        "correlationid" => &["correlationId"],
        "eventname" => &["eventName", "value"],
        _ => return field.split('.').map(str::to_string).collect(),
    };
    known.iter().map(|s| s.to_string()).collect()
}

/// The value at `path` in an EventData record (an object with a `value` reads as that value).
pub fn event_value<'a>(event: &'a Value, path: &[String]) -> Option<std::borrow::Cow<'a, str>> {
    let mut cur = event;
    for seg in path {
        let Value::Object(m) = cur else {
            return None;
        };
        // the event's own casing first (one hash probe), then any casing
        cur = match m.get(seg.as_str()) {
            Some(v) => v,
            None => m
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(seg))
                .map(|(_, v)| v)?,
        };
    }
    match cur {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Value::Object(m) => m
            .get("value")
            .and_then(Value::as_str)
            .map(std::borrow::Cow::Borrowed),
        Value::Null => None,
        other => Some(std::borrow::Cow::Owned(other.to_string())),
    }
}

/// The value of an activity-log alert `field` in an EventData record.
pub fn event_field(event: &Value, field: &str) -> Option<String> {
    event_value(event, &field_path(field)).map(|v| v.into_owned())
}

/// The values at a path with `[*]` segments (`properties.impactedServices[*].ServiceName`, as
/// Service Health alert rules write): every element of each array; a string holding JSON (as
/// EventData's `properties` values do) is read as that JSON.
pub fn event_values(event: &Value, path: &[String]) -> Vec<String> {
    fn walk(cur: &Value, path: &[String], out: &mut Vec<String>) {
        let cur = match cur {
            Value::String(s) if !path.is_empty() && (s.starts_with('[') || s.starts_with('{')) => {
                match serde_json::from_str::<Value>(s) {
                    Ok(v) => return walk(&v, path, out),
                    Err(_) => return,
                }
            }
            other => other,
        };
        let Some((seg, rest)) = path.split_first() else {
            if let Some(v) = event_value(cur, &[]) {
                out.push(v.into_owned());
            }
            return;
        };
        let (name, all) = match seg.strip_suffix("[*]") {
            Some(n) => (n, true),
            None => (seg.as_str(), false),
        };
        let Value::Object(m) = cur else {
            return;
        };
        let Some(next) = m.get(name).or_else(|| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        }) else {
            return;
        };
        if !all {
            return walk(next, rest, out);
        }
        let next = match next {
            Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
            other => other.clone(),
        };
        for item in next.as_array().into_iter().flatten() {
            walk(item, rest, out);
        }
    }
    let mut out = Vec::new();
    walk(event, path, &mut out);
    out
}

/// Does `event` meet `c`? `equals` and `containsAny` compare without regard to case ("The value of
/// the event's field will be compared to this value (case-insensitive)", AlertRuleLeafCondition,
/// activityLogAlerts_API.json); values have no wildcards, field paths may hold `[*]`.
pub fn matches(c: &Condition, event: &Value) -> bool {
    match c {
        Condition::AllOf(cs) => cs.iter().all(|c| matches(c, event)),
        Condition::AnyOf(cs) => cs.iter().any(|c| matches(c, event)),
        Condition::Leaf {
            path,
            equals,
            contains_any,
            ..
        } => {
            let one = |got: &str| {
                let eq_ok = equals.as_ref().is_none_or(|e| e.eq_ignore_ascii_case(got));
                eq_ok
                    && (contains_any.is_empty() || {
                        let got = got.to_lowercase();
                        contains_any.iter().any(|c| got.contains(c.as_str()))
                    })
            };
            if path.iter().any(|s| s.ends_with("[*]")) {
                let all = event_values(event, path);
                return if all.is_empty() {
                    one("")
                } else {
                    all.iter().any(|v| one(v))
                };
            }
            one(&event_value(event, path).unwrap_or_default())
        }
    }
}

/// Where an event is, for matching scopes: its resource id lower-cased and its subscription's scope.
pub struct EventScope {
    resource: String,
    subscription: String,
}

impl EventScope {
    pub fn of(event: &Value) -> EventScope {
        let sub = event["subscriptionId"].as_str().unwrap_or_default();
        EventScope {
            resource: event["resourceId"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase(),
            subscription: if sub.is_empty() {
                String::new()
            } else {
                format!("/subscriptions/{}", sub.to_lowercase())
            },
        }
    }

    /// Is the event's resource at or below one of the (lower-cased) scopes?
    pub fn within(&self, scopes: &[String]) -> bool {
        let r = self.resource.as_str();
        scopes.iter().any(|s| {
            (r.starts_with(s.as_str()) && (r.len() == s.len() || r.as_bytes()[s.len()] == b'/'))
                || (!self.subscription.is_empty() && *s == self.subscription)
        })
    }
}

/// Is the event's resource at or below one of the rule's scopes?
pub fn in_scope(scopes: &[String], event: &Value) -> bool {
    EventScope::of(event).within(scopes)
}

// ---------------------------------------------------------------------------------------------
// Scheduled query rules

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Equal,
}

impl Operator {
    pub fn parse(s: &str) -> Option<Operator> {
        Some(match s.to_ascii_lowercase().as_str() {
            "greaterthan" => Operator::GreaterThan,
            "greaterthanorequal" => Operator::GreaterThanOrEqual,
            "lessthan" => Operator::LessThan,
            "lessthanorequal" => Operator::LessThanOrEqual,
            "equal" | "equals" => Operator::Equal,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Operator::GreaterThan => "GreaterThan",
            Operator::GreaterThanOrEqual => "GreaterThanOrEqual",
            Operator::LessThan => "LessThan",
            Operator::LessThanOrEqual => "LessThanOrEqual",
            Operator::Equal => "Equal",
        }
    }

    /// The words of the legacy log-alert payloads ("Greater Than").
    pub fn words(self) -> &'static str {
        match self {
            Operator::GreaterThan => "Greater Than",
            Operator::GreaterThanOrEqual => "Greater Than Or Equal",
            Operator::LessThan => "Less Than",
            Operator::LessThanOrEqual => "Less Than Or Equal",
            Operator::Equal => "Equal",
        }
    }

    pub fn breached(self, value: f64, threshold: f64) -> bool {
        match self {
            Operator::GreaterThan => value > threshold,
            Operator::GreaterThanOrEqual => value >= threshold,
            Operator::LessThan => value < threshold,
            Operator::LessThanOrEqual => value <= threshold,
            Operator::Equal => value == threshold,
        }
    }
}

/// How the query's rows become the value compared with the threshold.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregation {
    /// The number of rows (`queryType: ResultCount`, `timeAggregation: Count` without a column).
    Count,
    Total(String),
    Average(String),
    Minimum(String),
    Maximum(String),
}

/// A scheduled query rule in one form, whichever api-version wrote it.
#[derive(Debug, Clone)]
pub struct QueryRule {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The 2018-04-16 shape (`source`/`schedule`/`action`): Log Analytics' legacy log alert.
    pub legacy: bool,
    /// The workspaces or resources the query runs over (`dataSourceId` + `authorizedResources`, or `scopes`).
    pub scopes: Vec<String>,
    pub query: String,
    pub frequency: Duration,
    pub window: Duration,
    pub operator: Operator,
    pub threshold: f64,
    pub aggregation: Aggregation,
    /// (numberOfEvaluationPeriods, minFailingPeriodsToAlert).
    pub failing: (usize, usize),
    /// 0 (Critical) … 4 (Verbose).
    pub severity: u8,
    pub action_groups: Vec<String>,
    pub custom_properties: Map<String, Value>,
    pub email_subject: Option<String>,
    /// Stateful: fire once, then not again until the condition clears (`autoMitigate`, default true).
    pub auto_mitigate: bool,
    /// No new alert within this long of the last (2018's `throttlingInMin`).
    pub throttle: Duration,
    /// `criteria.allOf[0].dimensions`: the result is split into one time series per combination.
    pub dimensions: Vec<crate::log_alerts::Dimension>,
    /// `criteria.allOf[0].resourceIdColumn`: split by the resource too.
    pub resource_id_column: Option<String>,
    /// 2018-04-16 `action.trigger.metricTrigger` (metric measurement).
    pub metric_trigger: Option<crate::log_alerts::MetricTrigger>,
    /// 2018-04-16 `aznsAction.customWebhookPayload`.
    pub custom_webhook: Option<String>,
}

fn minutes(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .or_else(|| v.as_f64().map(|f| f as i64))
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn truthy(v: &Value, default: bool) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => !s.eq_ignore_ascii_case("false"),
        _ => default,
    }
}

/// Read a stored scheduled query rule. `Ok(None)` when it is disabled; `Err` says what is missing
/// or malformed (the same text the provider answers a bad PUT with).
pub fn query_rule(body: &Value) -> Result<Option<QueryRule>, String> {
    let p = &body["properties"];
    let id = body["id"].as_str().unwrap_or_default().to_string();
    let name = id.rsplit('/').next().unwrap_or_default().to_string();
    let description = p["description"].as_str().unwrap_or_default().to_string();
    let enabled = truthy(&p["enabled"], true);
    let log_to_metric = p["action"]["odata.type"]
        .as_str()
        .is_some_and(|t| t.ends_with("LogToMetricAction"));
    if log_to_metric {
        // a log-to-metric rule turns rows into metrics; it never alerts by itself
        return Ok(None);
    }
    let rule = if p.get("source").is_some() || p.get("action").is_some() {
        let source = &p["source"];
        let query = source["query"]
            .as_str()
            .ok_or("'properties.source.query' is required for an alerting action.")?
            .to_string();
        let data_source = source["dataSourceId"]
            .as_str()
            .ok_or("'properties.source.dataSourceId' is required.")?
            .to_string();
        let mut scopes = vec![data_source];
        if let Some(more) = source["authorizedResources"].as_array() {
            scopes.extend(more.iter().filter_map(Value::as_str).map(str::to_string));
        }
        let freq = minutes(&p["schedule"]["frequencyInMinutes"])
            .ok_or("'properties.schedule.frequencyInMinutes' is required.")?;
        let window = minutes(&p["schedule"]["timeWindowInMinutes"])
            .ok_or("'properties.schedule.timeWindowInMinutes' is required.")?;
        let action = &p["action"];
        let trigger = &action["trigger"];
        let operator = trigger["thresholdOperator"]
            .as_str()
            .and_then(Operator::parse)
            .ok_or("'properties.action.trigger.thresholdOperator' must be GreaterThan, LessThan or Equal.")?;
        let threshold = number(&trigger["threshold"])
            .ok_or("'properties.action.trigger.threshold' is required.")?;
        let azns = &action["aznsAction"];
        QueryRule {
            id,
            name,
            description,
            legacy: true,
            scopes,
            query,
            frequency: Duration::minutes(freq),
            window: Duration::minutes(window),
            operator,
            threshold,
            aggregation: Aggregation::Count,
            failing: (1, 1),
            severity: minutes(&action["severity"]).unwrap_or(3).clamp(0, 4) as u8,
            action_groups: strings(&azns["actionGroup"]),
            custom_properties: Map::new(),
            email_subject: azns["emailSubject"].as_str().map(str::to_string),
            auto_mitigate: false,
            throttle: Duration::minutes(minutes(&action["throttlingInMin"]).unwrap_or(0).max(0)),
            dimensions: Vec::new(),
            resource_id_column: None,
            metric_trigger: crate::log_alerts::metric_trigger(&trigger["metricTrigger"])?,
            custom_webhook: azns["customWebhookPayload"]
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string),
        }
    } else {
        let crit = p["criteria"]["allOf"]
            .as_array()
            .and_then(|a| a.first())
            .ok_or("'properties.criteria.allOf' must hold one condition.")?;
        let query = crit["query"]
            .as_str()
            .ok_or("'properties.criteria.allOf[0].query' is required.")?
            .to_string();
        let scopes: Vec<String> = p["scopes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if scopes.is_empty() {
            return Err("'properties.scopes' must name one resource.".into());
        }
        let freq = p["evaluationFrequency"]
            .as_str()
            .and_then(parse_iso_duration)
            .ok_or("'properties.evaluationFrequency' must be an ISO 8601 duration such as PT5M.")?;
        let window = p["windowSize"]
            .as_str()
            .and_then(parse_iso_duration)
            .ok_or("'properties.windowSize' must be an ISO 8601 duration such as PT5M.")?;
        let operator = crit["operator"]
            .as_str()
            .and_then(Operator::parse)
            .ok_or("'properties.criteria.allOf[0].operator' must be one of Equals, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual.")?;
        let threshold = number(&crit["threshold"])
            .ok_or("'properties.criteria.allOf[0].threshold' is required.")?;
        let column = crit["metricMeasureColumn"].as_str().map(str::to_string);
        let aggregation = match (
            crit["timeAggregation"]
                .as_str()
                .unwrap_or("Count")
                .to_ascii_lowercase()
                .as_str(),
            column,
        ) {
            ("total", Some(c)) => Aggregation::Total(c),
            ("average", Some(c)) => Aggregation::Average(c),
            ("minimum", Some(c)) => Aggregation::Minimum(c),
            ("maximum", Some(c)) => Aggregation::Maximum(c),
            _ => Aggregation::Count,
        };
        let fp = &crit["failingPeriods"];
        let n = minutes(&fp["numberOfEvaluationPeriods"])
            .unwrap_or(1)
            .max(1) as usize;
        let min = minutes(&fp["minFailingPeriodsToAlert"]).unwrap_or(1).max(1) as usize;
        let actions = &p["actions"];
        QueryRule {
            id,
            name,
            description,
            legacy: false,
            scopes,
            query,
            frequency: freq,
            window,
            operator,
            threshold,
            aggregation,
            failing: (n, min.min(n)),
            severity: minutes(&p["severity"]).unwrap_or(3).clamp(0, 4) as u8,
            // 2021-08-01 on: {actionGroups: [id], customProperties}; 2021-02-01-preview (older
            // `az monitor scheduled-query`): [{actionGroupId, webHookProperties}]
            action_groups: match actions.as_array() {
                Some(list) => list
                    .iter()
                    .filter_map(|a| a["actionGroupId"].as_str().map(str::to_string))
                    .collect(),
                None => strings(&actions["actionGroups"]),
            },
            custom_properties: match actions.as_array() {
                Some(list) => list
                    .iter()
                    .filter_map(|a| a["webHookProperties"].as_object())
                    .flat_map(|m| m.clone())
                    .collect(),
                None => actions["customProperties"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            },
            // "Customize log search alert email subjects": actionProperties' Email.Subject
            email_subject: actions["actionProperties"]["Email.Subject"]
                .as_str()
                .map(str::to_string),
            auto_mitigate: truthy(&p["autoMitigate"], true),
            throttle: p["muteActionsDuration"]
                .as_str()
                .and_then(parse_iso_duration)
                .unwrap_or(Duration::ZERO),
            dimensions: crate::log_alerts::dimensions(crit),
            resource_id_column: crit["resourceIdColumn"]
                .as_str()
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            metric_trigger: None,
            custom_webhook: None,
        }
    };
    if rule.frequency <= Duration::ZERO || rule.window <= Duration::ZERO {
        return Err("The evaluation frequency and the window must be longer than zero.".into());
    }
    Ok(enabled.then_some(rule))
}

/// `PT5M`, `PT1H`, `P1D`, `PT1H30M` → a duration (no years or months: alert schedules never use them).
pub fn parse_iso_duration(s: &str) -> Option<Duration> {
    let s = s.trim().to_ascii_uppercase();
    let rest = s.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total = Duration::ZERO;
    if !days.is_empty() {
        total += Duration::days(days.strip_suffix('D')?.parse().ok()?);
    }
    let mut num = String::new();
    for c in time.chars() {
        match c {
            '0'..='9' | '.' => num.push(c),
            'H' | 'M' | 'S' => {
                let n: f64 = num.parse().ok()?;
                num.clear();
                total += Duration::seconds_f64(
                    n * match c {
                        'H' => 3600.0,
                        'M' => 60.0,
                        _ => 1.0,
                    },
                );
            }
            _ => return None,
        }
    }
    (num.is_empty() && (total > Duration::ZERO || s == "PT0S")).then_some(total)
}

/// The evaluation times after `last` up to `now`, every `every`: at most `cap` of them (the first
/// ones), and the time to remember as the last evaluation (the latest due, even past the cap).
pub fn due_times(
    last: OffsetDateTime,
    every: Duration,
    now: OffsetDateTime,
    cap: usize,
) -> (Vec<OffsetDateTime>, OffsetDateTime) {
    if every <= Duration::ZERO || now < last + every {
        return (Vec::new(), last);
    }
    let n = ((now - last).whole_milliseconds() / every.whole_milliseconds().max(1)) as i64;
    let times = (1..=n.min(cap as i64))
        .map(|k| last + every * k as i32)
        .collect();
    (times, last + every * n as i32)
}

/// The value a rule compares with its threshold, from the query's result (column names and rows).
pub fn measure(agg: &Aggregation, columns: &[String], rows: &[Vec<f64>], row_count: usize) -> f64 {
    let col = |name: &str| columns.iter().position(|c| c.eq_ignore_ascii_case(name));
    let values = |name: &str| -> Vec<f64> {
        col(name)
            .map(|i| {
                rows.iter()
                    .filter_map(|r| r.get(i).copied())
                    .filter(|v| !v.is_nan())
                    .collect()
            })
            .unwrap_or_default()
    };
    match agg {
        Aggregation::Count => row_count as f64,
        Aggregation::Total(c) => values(c).iter().sum(),
        Aggregation::Average(c) => {
            let v = values(c);
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        }
        Aggregation::Minimum(c) => values(c).into_iter().fold(f64::NAN, f64::min),
        Aggregation::Maximum(c) => values(c).into_iter().fold(f64::NAN, f64::max),
    }
}

/// Do the last `n` evaluations (newest last) hold at least `min` failures?
pub fn fails_enough(history: &[bool], (n, min): (usize, usize)) -> bool {
    history.iter().rev().take(n).filter(|f| **f).count() >= min
}

// ---------------------------------------------------------------------------------------------
// Action groups

#[derive(Debug, Clone, PartialEq)]
pub enum Receiver {
    Email {
        name: String,
        address: String,
        common: bool,
    },
    Sms {
        name: String,
        number: String,
    },
    /// An HTTP POST: webhook, Logic App, Azure Function or Automation runbook receiver.
    Post {
        kind: &'static str,
        name: String,
        url: String,
        common: bool,
    },
}

/// The receivers of an enabled action group that send something (e-mail, SMS, HTTP POST); voice,
/// push, ITSM, Event Hubs and ARM-role receivers are stored only.
pub fn receivers(body: &Value) -> Vec<Receiver> {
    let p = &body["properties"];
    if !truthy(&p["enabled"], true) {
        return Vec::new();
    }
    let list = |k: &str| p[k].as_array().cloned().unwrap_or_default();
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let common = |v: &Value| v["useCommonAlertSchema"] == json!(true);
    let mut out = Vec::new();
    for r in list("emailReceivers") {
        if r["status"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("disabled"))
        {
            continue;
        }
        out.push(Receiver::Email {
            name: s(&r, "name"),
            address: s(&r, "emailAddress"),
            common: common(&r),
        });
    }
    for r in list("smsReceivers") {
        if r["status"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("disabled"))
        {
            continue;
        }
        out.push(Receiver::Sms {
            name: s(&r, "name"),
            number: format!("+{} {}", s(&r, "countryCode"), s(&r, "phoneNumber")),
        });
    }
    for (key, kind, url) in [
        ("webhookReceivers", "webhook", "serviceUri"),
        ("logicAppReceivers", "logicApp", "callbackUrl"),
        ("azureFunctionReceivers", "azureFunction", "httpTriggerUrl"),
        (
            "automationRunbookReceivers",
            "automationRunbook",
            "serviceUri",
        ),
    ] {
        for r in list(key) {
            let u = s(&r, url);
            if u.starts_with("http://") || u.starts_with("https://") {
                out.push(Receiver::Post {
                    kind,
                    name: s(&r, "name"),
                    url: u,
                    common: common(&r),
                });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Fired alerts and their payloads

/// What every notification of one fired alert is built from.
#[derive(Debug, Clone)]
pub struct Fired {
    /// `/subscriptions/{sub}/providers/Microsoft.AlertsManagement/alerts/{guid}`.
    pub alert_id: String,
    pub subscription: String,
    pub rule_id: String,
    pub rule_name: String,
    pub description: String,
    pub severity: u8,
    /// `Activity Log`, `Log`.
    pub signal_type: &'static str,
    /// The common schema's `monitoringService` (`Activity Log - Administrative`, `Log Analytics`, `Log Alerts V2`).
    pub monitoring_service: String,
    /// AlertsManagement's `monitorService` (`ActivityLog Administrative`, `Log Analytics`, `Log Alerts V2`).
    pub monitor_service: String,
    pub target_ids: Vec<String>,
    pub fired: String,
    pub alert_context: Value,
    /// The payload a receiver without the common schema gets.
    pub legacy: Value,
    pub custom_properties: Map<String, Value>,
    pub email_subject: Option<String>,
    /// When a stateful alert resolved (its `Resolved` notification), `None` while fired.
    pub resolved: Option<String>,
}

impl Fired {
    /// `Fired` or `Resolved`.
    pub fn condition(&self) -> &'static str {
        if self.resolved.is_some() {
            "Resolved"
        } else {
            "Fired"
        }
    }
}

/// The fired alert an AlertsManagement alert was stored from (its `context` is the common schema's
/// `data`), as its `Resolved` notification at `resolved`.
pub fn resolved_from(alert: &Value, resolved: &str) -> Option<Fired> {
    let ctx = &alert["properties"]["context"];
    let ess = &ctx["essentials"];
    let ess2 = &alert["properties"]["essentials"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let id = alert["id"].as_str()?.to_string();
    let subscription = id.split('/').nth(2).unwrap_or_default().to_string();
    Some(Fired {
        alert_id: id,
        subscription,
        rule_id: s(&ess["alertRuleID"]),
        rule_name: s(&ess["alertRule"]),
        description: s(&ess["description"]),
        severity: s(&ess["severity"])
            .trim_start_matches("Sev")
            .parse()
            .unwrap_or(3),
        signal_type: match ess["signalType"].as_str() {
            Some("Activity Log") => "Activity Log",
            Some("Metric") => "Metric",
            _ => "Log",
        },
        monitoring_service: s(&ess["monitoringService"]),
        monitor_service: s(&ess2["monitorService"]),
        target_ids: ess2["targetResource"]
            .as_str()
            .map(|t| vec![t.to_string()])
            .unwrap_or_default(),
        fired: s(&ess["firedDateTime"]),
        alert_context: ctx["alertContext"].clone(),
        legacy: Value::Null,
        custom_properties: ctx["customProperties"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
        email_subject: None,
        resolved: Some(resolved.to_string()),
    })
}

fn severity_name(s: u8) -> String {
    format!("Sev{s}")
}

fn last_segment(id: &str) -> String {
    id.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The common alert schema (`azureMonitorCommonAlertSchema`).
pub fn common_payload(f: &Fired) -> Value {
    let mut data = json!({
        "essentials": {
            "alertId": f.alert_id,
            "alertRule": f.rule_name,
            "severity": severity_name(f.severity),
            "signalType": f.signal_type,
            "monitorCondition": f.condition(),
            "monitoringService": f.monitoring_service,
            "alertTargetIDs": f.target_ids.iter().map(|t| t.to_lowercase()).collect::<Vec<_>>(),
            "configurationItems": f.target_ids.iter().map(|t| last_segment(t)).collect::<Vec<_>>(),
            "originAlertId": format!("{}_{}", f.subscription, last_segment(&f.alert_id)),
            "firedDateTime": f.fired,
            "description": f.description,
            "essentialsVersion": "1.0",
            "alertContextVersion": "1.0",
            "alertRuleID": f.rule_id,
        },
        "alertContext": f.alert_context,
    });
    if let Some(r) = &f.resolved {
        // "Common alert schema": resolvedDateTime, for a stateful alert's Resolved notification
        data["essentials"]["resolvedDateTime"] = json!(r);
    }
    if !f.custom_properties.is_empty() {
        data["customProperties"] = Value::Object(f.custom_properties.clone());
    }
    json!({"schemaId": "azureMonitorCommonAlertSchema", "data": data})
}

/// The activity-log alert context of the common schema, from the EventData record.
pub fn activity_context(event: &Value) -> Value {
    let v = |k: &str| event[k]["value"].clone();
    json!({
        "authorization": event["authorization"],
        "channels": event["channels"],
        "claims": event["claims"].to_string(),
        "caller": event["caller"],
        "correlationId": event["correlationId"],
        "eventSource": v("category"),
        "eventTimestamp": event["eventTimestamp"],
        "httpRequest": event["httpRequest"].to_string(),
        "eventDataId": event["eventDataId"],
        "level": event["level"],
        "operationName": v("operationName"),
        "operationId": event["operationId"],
        "properties": event["properties"],
        "status": v("status"),
        "subStatus": v("subStatus"),
        "submissionTimestamp": event["submissionTimestamp"],
    })
}

/// The legacy activity-log alert webhook payload (`Microsoft.Insights/activityLogs`).
pub fn legacy_activity_payload(event: &Value, props: &Map<String, Value>) -> Value {
    let mut log = activity_context(event);
    log["description"] = event["description"].clone();
    log["resourceId"] = event["resourceId"].clone();
    log["resourceGroupName"] = event["resourceGroupName"].clone();
    log["resourceProviderName"] = event["resourceProviderName"]["value"].clone();
    log["resourceType"] = event["resourceType"]["value"].clone();
    log["subscriptionId"] = event["subscriptionId"].clone();
    json!({
        "schemaId": "Microsoft.Insights/activityLogs",
        "data": {
            "status": "Activated",
            "context": {"activityLog": log},
            "properties": props,
        }
    })
}

/// What one evaluation of a scheduled query rule saw.
pub struct Evaluation<'a> {
    pub rule: &'a QueryRule,
    pub start: String,
    pub end: String,
    pub value: f64,
    pub row_count: usize,
    /// The result table as the query API answers it.
    pub table: Value,
    pub workspace_id: String,
    pub subscription: String,
    /// The time series' dimension values (empty without dimensions).
    pub dims: Vec<(String, String)>,
}

/// The log alert's context of the common schema: Log Alerts V2's `LogQueryCriteria` for the current
/// shape, Log Analytics' V1 fields for the 2018-04-16 shape.
pub fn log_context(e: &Evaluation) -> Value {
    let r = e.rule;
    if r.legacy {
        return json!({
            "SearchQuery": r.query,
            "SearchIntervalStartTimeUtc": e.start,
            "SearchIntervalEndtimeUtc": e.end,
            "ResultCount": e.row_count,
            "LinkToSearchResults": "",
            "SeverityDescription": severity_description(r.severity),
            "WorkspaceId": e.workspace_id,
            "SearchIntervalDurationMin": (r.window.whole_minutes()).to_string(),
            "AffectedConfigurationItems": [],
            "SearchIntervalInMinutes": (r.frequency.whole_minutes()).to_string(),
            "Threshold": r.threshold,
            "Operator": r.operator.words(),
            "SearchResults": {"tables": [e.table]},
            "IncludedSearchResults": "True",
            "AlertType": crate::log_alerts::alert_type(r),
            "Dimensions": crate::log_alerts::dims_json(&e.dims),
        });
    }
    let agg = match &r.aggregation {
        Aggregation::Count => ("Count", Value::Null),
        Aggregation::Total(c) => ("Total", json!(c)),
        Aggregation::Average(c) => ("Average", json!(c)),
        Aggregation::Minimum(c) => ("Minimum", json!(c)),
        Aggregation::Maximum(c) => ("Maximum", json!(c)),
    };
    json!({
        "properties": {},
        "conditionType": "LogQueryCriteria",
        "condition": {
            "windowSize": iso_duration(r.window),
            "allOf": [{
                "searchQuery": r.query,
                "metricMeasureColumn": agg.1,
                "targetResourceTypes": "",
                "operator": r.operator.name(),
                "threshold": r.threshold.to_string(),
                "timeAggregation": agg.0,
                "dimensions": crate::log_alerts::dims_json(&e.dims),
                "metricValue": e.value,
                "failingPeriods": {
                    "numberOfEvaluationPeriods": r.failing.0,
                    "minFailingPeriodsToAlert": r.failing.1,
                },
                "linkToSearchResultsUI": "",
                "linkToFilteredSearchResultsUI": "",
                "linkToSearchResultsAPI": "",
                "linkToFilteredSearchResultsAPI": "",
            }],
            "windowStartTime": e.start,
            "windowEndTime": e.end,
        }
    })
}

/// The legacy log-alert webhook payload (Log Analytics' "Webhook actions for log alerts").
pub fn legacy_log_payload(e: &Evaluation) -> Value {
    let r = e.rule;
    json!({
        "SubscriptionId": e.subscription,
        "AlertRuleName": r.name,
        "SearchQuery": r.query,
        "SearchIntervalStartTimeUtc": e.start,
        "SearchIntervalEndtimeUtc": e.end,
        "AlertThresholdOperator": r.operator.words(),
        "AlertThresholdValue": r.threshold,
        "ResultCount": e.row_count,
        "SearchIntervalInSeconds": r.window.whole_seconds(),
        "LinkToSearchResults": "",
        "Description": r.description,
        "Severity": severity_description(r.severity),
        "SearchResult": {"tables": [e.table]},
        "WorkspaceId": e.workspace_id,
        "AlertType": crate::log_alerts::alert_type(r),
        "AffectedConfigurationItems": e.dims.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        "Dimensions": crate::log_alerts::dims_json(&e.dims),
    })
}

fn severity_description(s: u8) -> &'static str {
    match s {
        0 => "Critical",
        1 => "Error",
        2 => "Warning",
        3 => "Informational",
        _ => "Verbose",
    }
}

/// A duration as ISO 8601 (`PT5M`, `PT1H`, `P1D`).
pub fn iso_duration(d: Duration) -> String {
    let s = d.whole_seconds();
    if s > 0 && s % 86_400 == 0 {
        return format!("P{}D", s / 86_400);
    }
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if sec > 0 || out == "PT" {
        out.push_str(&format!("{sec}S"));
    }
    out
}

/// The `Microsoft.AlertsManagement/alerts` resource of a fired alert (Alerts_GetById).
pub fn alert_resource(f: &Fired) -> Value {
    let target = f.target_ids.first().cloned().unwrap_or_default();
    let parts: Vec<&str> = target.split('/').collect();
    let rg = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("resourceGroups"))
        .and_then(|i| parts.get(i + 1))
        .copied()
        .unwrap_or_default();
    let rtype = parts
        .iter()
        .rposition(|p| p.eq_ignore_ascii_case("providers"))
        .and_then(|i| parts.get(i + 2))
        .copied()
        .unwrap_or(if rg.is_empty() {
            "subscriptions"
        } else {
            "resourceGroups"
        });
    json!({
        "properties": {
            "essentials": {
                "severity": severity_name(f.severity),
                "signalType": f.signal_type,
                "alertState": "New",
                "monitorCondition": "Fired",
                "monitorService": f.monitor_service,
                "targetResource": target,
                "targetResourceName": last_segment(&target),
                "targetResourceGroup": rg,
                "targetResourceType": rtype,
                "sourceCreatedId": format!("{}_{}", f.subscription, last_segment(&f.alert_id)),
                "smartGroupId": "",
                "smartGroupingReason": "",
                "alertRule": f.rule_id,
                "startDateTime": f.fired,
                "lastModifiedDateTime": f.fired,
                "lastModifiedUserName": "System",
                "actionStatus": {"isSuppressed": false},
                "description": f.description,
            },
            "context": common_payload(f)["data"],
            "egressConfig": {},
        },
        "id": f.alert_id,
        "type": "Microsoft.AlertsManagement/alerts",
        "name": f.rule_name,
    })
}

/// One entry of an alert's history (`AlertModificationItem` of AlertsManagement.json
/// 2025-05-25-preview, as Alerts_History.json shows it).
#[allow(clippy::too_many_arguments)]
pub fn modification(
    event: &str,
    description: &str,
    at: &str,
    by: &str,
    old: &str,
    new: &str,
    comments: &str,
    details: Value,
) -> Value {
    json!({
        "description": description,
        "comments": comments,
        "modificationEvent": event,
        "modifiedAt": at,
        "modifiedBy": by,
        "newValue": new,
        "oldValue": old,
        "details": details,
    })
}

/// The history a fired alert starts with: its creation by the system, then one `ActionsTriggered`
/// per action group notified (the ids in `groups`).
pub fn created_history(f: &Fired, groups: &[String]) -> Vec<Value> {
    let mut out = vec![modification(
        "AlertCreated",
        "New Alert Object is created",
        &f.fired,
        "System",
        "",
        "",
        "",
        Value::Null,
    )];
    for g in groups {
        out.push(modification(
            "ActionsTriggered",
            "Actions triggered",
            &f.fired,
            "System",
            "",
            "",
            "",
            json!({
                "type": "ActionsTriggered",
                "actionGroup": {"actionGroupId": g, "ruleId": f.rule_id, "ruleType": "AlertRule"},
                "notificationResult": {"status": "Accepted"},
            }),
        ));
    }
    out
}

/// A change of an alert's state by `by` (Alerts_ChangeState), with the request's comment.
pub fn state_change(at: &str, by: &str, old: &str, new: &str, comment: &str) -> Value {
    modification(
        "StateChange",
        &format!("State changed from '{old}' to '{new}'"),
        at,
        by,
        old,
        new,
        comment,
        json!({"type": "PropertyChange", "comment": comment, "newValue": new, "oldValue": old}),
    )
}

/// The subject and text of the e-mail Azure sends for a fired alert.
pub fn email_text(f: &Fired) -> (String, String) {
    let target = f
        .target_ids
        .first()
        .map(|t| last_segment(t))
        .unwrap_or_default();
    let subject = f.email_subject.clone().unwrap_or_else(|| {
        format!(
            "{}:{} Azure Monitor Alert {} on {} at {}",
            f.condition(),
            severity_name(f.severity),
            f.rule_name,
            target,
            f.fired
        )
    });
    let body = format!(
        "Your Azure Monitor alert was {}.\n\nAlert rule: {}\nSeverity: {}\nMonitoring service: {}\nAffected resource: {}\nSubscription: {}\nFired at: {}{}\nDescription: {}\nAlert: {}\n",
        if f.resolved.is_some() { "resolved" } else { "triggered" },
        f.rule_name,
        severity_name(f.severity),
        f.monitoring_service,
        f.target_ids.join(", "),
        f.subscription,
        f.fired,
        f.resolved
            .as_ref()
            .map(|r| format!("\nResolved at: {r}"))
            .unwrap_or_default(),
        f.description,
        f.alert_id,
    );
    (subject, body)
}

/// The text of the SMS Azure sends for a fired alert.
pub fn sms_text(f: &Fired) -> String {
    let target = f
        .target_ids
        .first()
        .map(|t| last_segment(t))
        .unwrap_or_default();
    format!(
        "{}:{} Azure Monitor Alert {} on {}",
        f.condition(),
        severity_name(f.severity),
        f.rule_name,
        target
    )
}

/// The strings of a JSON array (others skipped); empty when `v` is not an array.
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn event() -> Value {
        json!({
            "category": {"value": "Administrative"},
            "operationName": {"value": "Microsoft.Resources/subscriptions/resourceGroups/delete"},
            "resourceType": {"value": "Microsoft.Resources/subscriptions/resourceGroups"},
            "status": {"value": "Succeeded"},
            "level": "Informational",
            "caller": "alice@contosomsp.onmicrosoft.com",
            "resourceGroupName": "rg-x",
            "resourceId": "/subscriptions/S1/resourceGroups/rg-x",
            "subscriptionId": "s1",
            "properties": {"statusCode": "Accepted"},
        })
    }

    #[test]
    fn conditions() {
        let leaf = |f: &str, e: &str| Condition::Leaf {
            field: f.into(),
            path: field_path(f),
            equals: Some(e.into()),
            contains_any: vec![],
        };
        let cases: &[(Condition, bool)] = &[
            (leaf("category", "administrative"), true),
            (leaf("Category", "Policy"), false),
            (
                leaf(
                    "operationName",
                    "microsoft.resources/subscriptions/resourcegroups/delete",
                ),
                true,
            ),
            (leaf("status", "Succeeded"), true),
            (leaf("status", "Failed"), false),
            (leaf("caller", "alice@contosomsp.onmicrosoft.com"), true),
            (leaf("resourceGroup", "RG-X"), true),
            (leaf("level", "Error"), false),
            (leaf("properties.statusCode", "accepted"), true),
            (
                leaf(
                    "resourceType",
                    "Microsoft.Resources/subscriptions/resourceGroups",
                ),
                true,
            ),
            (
                Condition::AnyOf(vec![leaf("level", "Error"), leaf("level", "Informational")]),
                true,
            ),
            (
                Condition::AllOf(vec![leaf("level", "Error"), leaf("status", "Succeeded")]),
                false,
            ),
            (
                Condition::Leaf {
                    field: "caller".into(),
                    path: field_path("caller"),
                    equals: None,
                    contains_any: vec!["bob".into(), "alice".into()],
                },
                true,
            ),
        ];
        for (c, want) in cases {
            assert_eq!(matches(c, &event()), *want, "{c:?}");
        }
        // Service Health: a [*] path into properties.impactedServices, a JSON string in EventData
        let mut health = event();
        health["properties"]["impactedServices"] = json!(
            r#"[{"ServiceName":"Virtual Machines","ImpactedRegions":[{"RegionName":"West Europe"}]},{"ServiceName":"Storage","ImpactedRegions":[{"RegionName":"East US"}]}]"#
        );
        for (f, e, want) in [
            (
                "properties.impactedServices[*].ServiceName",
                "storage",
                true,
            ),
            (
                "properties.impactedServices[*].ServiceName",
                "SQL Database",
                false,
            ),
            (
                "properties.impactedServices[*].ImpactedRegions[*].RegionName",
                "west europe",
                true,
            ),
            ("properties.impactedServices[*].Nope", "x", false),
            // no wildcards in values: '*' is a character like any other
            ("caller", "*", false),
            ("caller", "alice@*", false),
        ] {
            assert_eq!(matches(&leaf(f, e), &health), want, "{f} = {e}");
        }
    }

    #[test]
    fn scopes() {
        let e = event();
        assert!(in_scope(&["/subscriptions/s1".into()], &e));
        assert!(in_scope(
            &["/subscriptions/s1/resourcegroups/rg-x".into()],
            &e
        ));
        assert!(!in_scope(
            &["/subscriptions/s1/resourcegroups/rg-y".into()],
            &e
        ));
        assert!(!in_scope(&["/subscriptions/s2".into()], &e));
    }

    #[test]
    fn rules_of_both_shapes() {
        let legacy = json!({"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Insights/scheduledQueryRules/armDelegation",
            "properties": {"enabled": "true", "source": {"query": "AzureActivity", "dataSourceId": "/w", "queryType": "ResultCount"},
            "schedule": {"frequencyInMinutes": 5, "timeWindowInMinutes": 5},
            "action": {"severity": "0", "throttlingInMin": 0, "aznsAction": {"actionGroup": ["/ag"], "emailSubject": "S"},
                       "trigger": {"thresholdOperator": "GreaterThan", "threshold": 0}}}});
        let r = query_rule(&legacy).unwrap().unwrap();
        assert!(r.legacy);
        assert_eq!(r.name, "armDelegation");
        assert_eq!(r.frequency, Duration::minutes(5));
        assert_eq!(r.severity, 0);
        assert_eq!(r.action_groups, vec!["/ag".to_string()]);
        assert_eq!(r.email_subject.as_deref(), Some("S"));
        let current = json!({"id": "/x/perf", "properties": {"severity": 2, "enabled": true, "evaluationFrequency": "PT5M",
            "windowSize": "PT10M", "scopes": ["/w"], "criteria": {"allOf": [{"query": "Perf", "timeAggregation": "Average",
            "metricMeasureColumn": "v", "operator": "GreaterThan", "threshold": 70,
            "failingPeriods": {"numberOfEvaluationPeriods": 3, "minFailingPeriodsToAlert": 2}}]}}});
        let r = query_rule(&current).unwrap().unwrap();
        assert!(!r.legacy);
        assert_eq!(r.window, Duration::minutes(10));
        assert_eq!(r.aggregation, Aggregation::Average("v".into()));
        assert_eq!(r.failing, (3, 2));
        assert!(r.auto_mitigate);
        let mut preview = current.clone();
        preview["properties"]["actions"] =
            json!([{"actionGroupId": "/ag1", "webHookProperties": {"k": "v"}}]);
        let r = query_rule(&preview).unwrap().unwrap();
        assert_eq!(r.action_groups, vec!["/ag1".to_string()]);
        assert_eq!(r.custom_properties["k"], "v");
        let mut off = current.clone();
        off["properties"]["enabled"] = json!(false);
        assert!(query_rule(&off).unwrap().is_none());
        let mut bad = current.clone();
        bad["properties"]["evaluationFrequency"] = json!("five minutes");
        assert!(query_rule(&bad).is_err());
    }

    #[test]
    fn durations_and_schedule() {
        for (s, want) in [
            ("PT5M", Some(Duration::minutes(5))),
            ("PT1H30M", Some(Duration::minutes(90))),
            ("P1D", Some(Duration::days(1))),
            ("PT", None),
            ("5M", None),
        ] {
            assert_eq!(parse_iso_duration(s), want, "{s}");
        }
        assert_eq!(iso_duration(Duration::minutes(5)), "PT5M");
        assert_eq!(iso_duration(Duration::days(1)), "P1D");
        let t0 = datetime!(2027-01-01 00:00 UTC);
        let (due, last) = due_times(t0, Duration::minutes(5), t0 + Duration::minutes(12), 10);
        assert_eq!(
            due,
            vec![t0 + Duration::minutes(5), t0 + Duration::minutes(10)]
        );
        assert_eq!(last, t0 + Duration::minutes(10));
        let (due, last) = due_times(t0, Duration::minutes(5), t0 + Duration::minutes(4), 10);
        assert!(due.is_empty());
        assert_eq!(last, t0);
        let (due, last) = due_times(t0, Duration::minutes(5), t0 + Duration::days(1), 3);
        assert_eq!(due.len(), 3);
        assert_eq!(last, t0 + Duration::days(1));
    }

    #[test]
    fn thresholds_and_periods() {
        assert!(Operator::GreaterThan.breached(1.0, 0.0));
        assert!(!Operator::GreaterThan.breached(0.0, 0.0));
        assert!(Operator::LessThanOrEqual.breached(0.0, 0.0));
        assert!(Operator::parse("Equals").is_some());
        let cols = vec!["v".to_string()];
        let rows = vec![vec![1.0], vec![3.0]];
        assert_eq!(measure(&Aggregation::Count, &cols, &rows, 2), 2.0);
        assert_eq!(
            measure(&Aggregation::Average("v".into()), &cols, &rows, 2),
            2.0
        );
        assert_eq!(
            measure(&Aggregation::Maximum("V".into()), &cols, &rows, 2),
            3.0
        );
        assert!(fails_enough(&[true, false, true], (3, 2)));
        assert!(!fails_enough(&[true, false, false], (2, 1)));
    }

    #[test]
    fn receivers_and_payloads() {
        let ag = json!({"properties": {"enabled": true,
            "emailReceivers": [{"name": "ops", "emailAddress": "ops@x", "useCommonAlertSchema": true}],
            "smsReceivers": [{"name": "p", "countryCode": "1", "phoneNumber": "5551234"}],
            "webhookReceivers": [{"name": "hook", "serviceUri": "http://127.0.0.1:9/x", "useCommonAlertSchema": true}],
            "logicAppReceivers": [{"name": "la", "callbackUrl": "<callbackUrl>"}]}});
        let r = receivers(&ag);
        assert_eq!(r.len(), 3);
        assert!(matches!(&r[1], Receiver::Sms { number, .. } if number == "+1 5551234"));
        let mut off = ag.clone();
        off["properties"]["enabled"] = json!(false);
        assert!(receivers(&off).is_empty());
        let f = Fired {
            alert_id: "/subscriptions/s1/providers/Microsoft.AlertsManagement/alerts/a1".into(),
            subscription: "s1".into(),
            rule_id: "/subscriptions/s1/resourceGroups/g/providers/microsoft.insights/activityLogAlerts/r".into(),
            rule_name: "r".into(),
            description: String::new(),
            severity: 4,
            signal_type: "Activity Log",
            monitoring_service: "Activity Log - Administrative".into(),
            monitor_service: "ActivityLog Administrative".into(),
            target_ids: vec!["/subscriptions/s1/resourceGroups/rg-x".into()],
            fired: "2027-01-01T00:00:00.0000000Z".into(),
            alert_context: activity_context(&event()),
            legacy: legacy_activity_payload(&event(), &Map::new()),
            custom_properties: Map::new(),
            email_subject: None,
            resolved: None,
        };
        let p = common_payload(&f);
        assert_eq!(p["schemaId"], "azureMonitorCommonAlertSchema");
        assert_eq!(p["data"]["essentials"]["alertRule"], "r");
        assert_eq!(p["data"]["essentials"]["severity"], "Sev4");
        assert_eq!(
            p["data"]["alertContext"]["caller"],
            "alice@contosomsp.onmicrosoft.com"
        );
        assert_eq!(f.legacy["schemaId"], "Microsoft.Insights/activityLogs");
        let a = alert_resource(&f);
        assert_eq!(a["properties"]["essentials"]["targetResourceGroup"], "rg-x");
        assert_eq!(a["properties"]["essentials"]["alertState"], "New");
        let (subject, _) = email_text(&f);
        assert!(subject.starts_with("Fired:Sev4 Azure Monitor Alert r on rg-x"));
    }
}
