//! Log search alerts, pure: a query result split into time series by a rule's dimensions
//! (`criteria.allOf[].dimensions`, `resourceIdColumn`, the 2018-04-16 `metricTrigger.metricColumn`),
//! each series measured against the threshold (or, for 2018's metric measurement, its breaching bins
//! counted `Total` or `Consecutive`), when a stateful alert resolves, the custom webhook payload of
//! 2018's `aznsAction.customWebhookPayload` and `${…}` in `actionProperties` `Email.Subject`. Never
//! touches the store or the clock. Follows "Create a log search alert rule" (split by dimensions),
//! "Alerts and state" (alerts-overview), "Webhook actions for log alerts" and "Customize log search
//! alert email subjects" (Microsoft Learn), scheduledQueryRule_API.json 2018-04-16 and 2023-12-01.

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::alerting::{measure, Evaluation, Operator, QueryRule};

/// One `criteria.allOf[].dimensions` entry: `Include` keeps the rows whose value is listed (`*`:
/// every value, also ones that appear later), `Exclude` drops them.
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    pub name: String,
    pub exclude: bool,
    pub values: Vec<String>,
}

/// A condition's dimensions as the rule stores them.
pub fn dimensions(crit: &Value) -> Vec<Dimension> {
    crit["dimensions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| {
                    Some(Dimension {
                        name: d["name"].as_str()?.to_string(),
                        exclude: d["operator"]
                            .as_str()
                            .is_some_and(|o| o.eq_ignore_ascii_case("exclude")),
                        values: d["values"]
                            .as_array()
                            .map(|v| v.iter().map(cell).collect())
                            .unwrap_or_else(|| vec!["*".into()]),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    /// The bins that breach, in total.
    Total,
    /// The longest run of breaching bins in time order.
    Consecutive,
}

/// 2018-04-16 `action.trigger.metricTrigger` ("metric measurement" log alerts): the query's
/// `AggregatedValue` of each bin is compared with `trigger.threshold`; the breaching bins of each
/// `metricColumn` value, counted `Total` or `Consecutive`, are compared with this threshold; each
/// value over it is its own alert (Log Analytics' legacy alert API: `Threshold` on the value,
/// `MetricsTrigger` on the number of breaches).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricTrigger {
    pub operator: Operator,
    pub threshold: f64,
    pub kind: TriggerKind,
    pub column: Option<String>,
}

pub fn metric_trigger(v: &Value) -> Result<Option<MetricTrigger>, String> {
    if !v.is_object() {
        return Ok(None);
    }
    let operator = v["thresholdOperator"]
        .as_str()
        .and_then(Operator::parse)
        .ok_or("'properties.action.trigger.metricTrigger.thresholdOperator' must be GreaterThan, LessThan or Equal.")?;
    let threshold = v["threshold"]
        .as_f64()
        .or_else(|| v["threshold"].as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or("'properties.action.trigger.metricTrigger.threshold' is required.")?;
    let kind = match v["metricTriggerType"].as_str().map(str::to_ascii_lowercase) {
        Some(k) if k == "total" => TriggerKind::Total,
        Some(k) if k == "consecutive" => TriggerKind::Consecutive,
        _ => {
            return Err(
                "'properties.action.trigger.metricTrigger.metricTriggerType' must be Consecutive or Total."
                    .into(),
            )
        }
    };
    Ok(Some(MetricTrigger {
        operator,
        threshold,
        kind,
        column: v["metricColumn"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_string),
    }))
}

/// One time series of an evaluation: the rows of one combination of dimension values.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The combination as a key (`""` without dimensions).
    pub key: String,
    /// (dimension, value) in the rule's order.
    pub dims: Vec<(String, String)>,
    /// Indexes of the result's rows that belong to it.
    pub rows: Vec<usize>,
    pub value: f64,
    pub breached: bool,
}

/// A cell as text (a string as is, `null` empty, anything else as JSON).
pub fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn column(columns: &[String], name: &str) -> Option<usize> {
    columns.iter().position(|c| c.eq_ignore_ascii_case(name))
}

/// Split a query result (column names, JSON rows) into the rule's time series and measure each.
/// Without dimensions there is one series, even with no rows (a count of 0 can breach `LessThan`).
pub fn evaluate(rule: &QueryRule, columns: &[String], rows: &[Vec<Value>]) -> Vec<Series> {
    let mut dims: Vec<Dimension> = rule.dimensions.clone();
    let mut implicit = |name: &Option<String>| {
        if let Some(n) = name {
            if !dims.iter().any(|d| d.name.eq_ignore_ascii_case(n)) {
                dims.push(Dimension {
                    name: n.clone(),
                    exclude: false,
                    values: vec!["*".into()],
                });
            }
        }
    };
    implicit(&rule.resource_id_column);
    implicit(&rule.metric_trigger.as_ref().and_then(|m| m.column.clone()));
    // a dimension whose column the result lacks splits nothing
    let dims: Vec<(&Dimension, usize)> = dims
        .iter()
        .filter_map(|d| column(columns, &d.name).map(|i| (d, i)))
        .collect();
    let mut order: Vec<Vec<String>> = Vec::new();
    let mut groups: std::collections::HashMap<Vec<String>, Vec<usize>> =
        std::collections::HashMap::new();
    if dims.is_empty() {
        order.push(Vec::new());
        groups.insert(Vec::new(), (0..rows.len()).collect());
    }
    for (i, row) in rows.iter().enumerate().filter(|_| !dims.is_empty()) {
        let values: Vec<String> = dims
            .iter()
            .map(|(_, c)| row.get(*c).map(cell).unwrap_or_default())
            .collect();
        let kept = dims.iter().zip(&values).all(|((d, _), v)| {
            let listed = d
                .values
                .iter()
                .any(|x| x == "*" || x.eq_ignore_ascii_case(v));
            listed != d.exclude
        });
        if !kept {
            continue;
        }
        if !groups.contains_key(&values) {
            order.push(values.clone());
        }
        groups.entry(values).or_default().push(i);
    }
    order
        .into_iter()
        .map(|values| {
            let members = groups.remove(&values).unwrap_or_default();
            let (value, breached) = measure_series(rule, columns, rows, &members);
            Series {
                key: values.join("\u{1f}"),
                dims: dims
                    .iter()
                    .zip(values)
                    .map(|((d, _), v)| (d.name.clone(), v))
                    .collect(),
                rows: members,
                value,
                breached,
            }
        })
        .collect()
}

fn number(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn measure_series(
    rule: &QueryRule,
    columns: &[String],
    rows: &[Vec<Value>],
    members: &[usize],
) -> (f64, bool) {
    if let Some(mt) = &rule.metric_trigger {
        let Some(agg) = column(columns, "AggregatedValue") else {
            return (0.0, false);
        };
        let mut bins: Vec<(String, bool)> = members
            .iter()
            .map(|&i| {
                let r = &rows[i];
                let at = column(columns, "TimeGenerated")
                    .or_else(|| column(columns, "timestamp"))
                    .and_then(|c| r.get(c))
                    .map(cell)
                    .unwrap_or_default();
                let v = r.get(agg).map(number).unwrap_or(f64::NAN);
                (at, !v.is_nan() && rule.operator.breached(v, rule.threshold))
            })
            .collect();
        bins.sort_by(|a, b| a.0.cmp(&b.0));
        let count = match mt.kind {
            TriggerKind::Total => bins.iter().filter(|b| b.1).count(),
            TriggerKind::Consecutive => {
                let (mut best, mut run) = (0, 0);
                for b in &bins {
                    run = if b.1 { run + 1 } else { 0 };
                    best = best.max(run);
                }
                best
            }
        } as f64;
        return (count, mt.operator.breached(count, mt.threshold));
    }
    let numeric: Vec<Vec<f64>> = members
        .iter()
        .map(|&i| rows[i].iter().map(number).collect())
        .collect();
    let value = measure(&rule.aggregation, columns, &numeric, members.len());
    (
        value,
        !value.is_nan() && rule.operator.breached(value, rule.threshold),
    )
}

/// After how many evaluations in a row without the condition a stateful log search alert resolves
/// ("Alerts and state": a 1-minute rule after 10 minutes, 5 to 15 minutes after three periods,
/// 15 minutes to 11 hours after two, longer after one).
pub fn resolve_after(frequency: Duration) -> usize {
    let m = frequency.whole_minutes().max(1);
    match m {
        m if m < 5 => (10 + m - 1) as usize / m as usize,
        m if m <= 15 => 3,
        m if m < 11 * 60 => 2,
        _ => 1,
    }
}

// ---------------------------------------------------------------------------------------------
// Custom payloads

fn us_time(s: &str) -> String {
    let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) else {
        return s.to_string();
    };
    let (h12, ampm) = match t.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{:02}/{:02}/{:04} {:02}:{:02}:{:02} {ampm}",
        t.month() as u8,
        t.day(),
        t.year(),
        h12,
        t.minute(),
        t.second()
    )
}

/// The value of a `#variable` of a custom webhook payload ("Webhook actions for log alerts").
fn variable(name: &str, e: &Evaluation) -> Option<String> {
    let r = e.rule;
    let w = r.window.whole_seconds();
    Some(match name {
        "#alertrulename" => r.name.clone(),
        "#severity" => r.severity.to_string(),
        "#thresholdoperator" => r.operator.words().to_string(),
        "#thresholdvalue" => r.threshold.to_string(),
        "#linktosearchresults"
        | "#linktosearchresultsapi"
        | "#linktofilteredsearchresultsui"
        | "#linktofilteredsearchresultsapi" => String::new(),
        "#searchresultcount" => e.row_count.to_string(),
        "#searchintervalendtimeutc" => us_time(&e.end),
        "#searchintervalstarttimeutc" => us_time(&e.start),
        "#searchinterval" => format!("{:02}:{:02}:{:02}", w / 3600, (w % 3600) / 60, w % 60),
        "#searchquery" => r.query.clone(),
        "#alerttype" => alert_type(r).to_string(),
        "#workspaceid" => e.workspace_id.clone(),
        "#applicationid" => String::new(),
        "#subscriptionid" => e.subscription.clone(),
        _ => return None,
    })
}

/// The documented variables, longest first so `#searchinterval` never eats `#searchintervalendtimeutc`.
const VARIABLES: &[&str] = &[
    "#linktofilteredsearchresultsapi",
    "#linktofilteredsearchresultsui",
    "#searchintervalstarttimeutc",
    "#searchintervalendtimeutc",
    "#linktosearchresultsapi",
    "#linktosearchresults",
    "#searchresultcount",
    "#thresholdoperator",
    "#searchinterval",
    "#thresholdvalue",
    "#subscriptionid",
    "#alertrulename",
    "#applicationid",
    "#searchquery",
    "#workspaceid",
    "#alerttype",
    "#severity",
];

/// `Number of results` or `Metric measurement`.
pub fn alert_type(r: &QueryRule) -> &'static str {
    if r.metric_trigger.is_some() {
        "Metric measurement"
    } else {
        "Number of results"
    }
}

fn substitute(text: &str, e: &Evaluation) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let hit = VARIABLES.iter().find(|v| {
            tail.len() >= v.len()
                && tail.is_char_boundary(v.len())
                && tail[..v.len()].eq_ignore_ascii_case(v)
        });
        match hit.and_then(|v| variable(v, e).map(|val| (v.len(), val))) {
            Some((len, val)) => {
                out.push_str(&val);
                rest = &tail[len..];
            }
            None => {
                out.push('#');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn substitute_all(v: &mut Value, e: &Evaluation) {
    match v {
        Value::String(s) => *s = substitute(s, e),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute_all(x, e)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute_all(x, e)),
        _ => {}
    }
}

/// The body a webhook without the common schema gets for a rule with `customWebhookPayload`: the
/// custom JSON with the variables of its strings replaced, `SearchResults` added when it holds
/// `"IncludeSearchResults": true` and `Dimensions` when it holds `"IncludeDimensions": true`. A
/// payload that is not JSON is sent as the text it becomes.
pub fn custom_payload(template: &str, e: &Evaluation) -> Value {
    let Ok(mut v) = serde_json::from_str::<Value>(template) else {
        return Value::String(substitute(template, e));
    };
    substitute_all(&mut v, e);
    if let Value::Object(m) = &mut v {
        let flag = |m: &Map<String, Value>, k: &str| {
            m.iter()
                .any(|(key, val)| key.eq_ignore_ascii_case(k) && truthy(val))
        };
        if flag(m, "IncludeSearchResults") {
            m.insert("SearchResults".into(), json!({"tables": [e.table]}));
        }
        if flag(m, "IncludeDimensions") {
            m.insert("Dimensions".into(), dims_json(&e.dims));
        }
    }
    v
}

fn truthy(v: &Value) -> bool {
    v == &json!(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

/// `[{"name": …, "value": …}]`, as the payloads list dimensions.
pub fn dims_json(dims: &[(String, String)]) -> Value {
    Value::Array(
        dims.iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

/// `${data.essentials.monitorCondition}`-style references of an `Email.Subject` action property,
/// read from the common-schema payload (`[n]` indexes arrays); unknown paths become empty.
pub fn expand_subject(template: &str, payload: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let path = &rest[i + 2..i + end];
        let mut cur = payload;
        for seg in path.split('.') {
            let (key, idx) = match seg.split_once('[') {
                Some((k, n)) => (k, n.trim_end_matches(']').parse::<usize>().ok()),
                None => (seg, None),
            };
            cur = &cur[key];
            if let Some(n) = idx {
                cur = &cur[n];
            }
        }
        out.push_str(&cell(cur));
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::query_rule;

    fn rule(crit_extra: Value) -> QueryRule {
        let mut crit = json!({"query": "T", "timeAggregation": "Count", "operator": "GreaterThan", "threshold": 1});
        crit.as_object_mut()
            .unwrap()
            .extend(crit_extra.as_object().unwrap().clone());
        query_rule(&json!({"id": "/x/r", "properties": {"evaluationFrequency": "PT5M", "windowSize": "PT5M",
            "scopes": ["/w"], "criteria": {"allOf": [crit]}}}))
        .unwrap()
        .unwrap()
    }

    fn table() -> (Vec<String>, Vec<Vec<Value>>) {
        let cols = ["Computer", "Level", "_ResourceId"]
            .map(String::from)
            .to_vec();
        let rows = [
            ["web1", "Error", "/vm/web1"],
            ["web1", "Error", "/vm/web1"],
            ["web2", "Error", "/vm/web2"],
            ["db1", "Warning", "/vm/db1"],
            ["db1", "Error", "/vm/db1"],
            ["db1", "Error", "/vm/db1"],
        ]
        .iter()
        .map(|r| r.iter().map(|s| json!(s)).collect())
        .collect();
        (cols, rows)
    }

    #[test]
    fn splitting_by_dimensions() {
        let (cols, rows) = table();
        type Case = (Value, Vec<(&'static str, f64, bool)>);
        let cases: Vec<Case> = vec![
            (json!({}), vec![("", 6.0, true)]),
            (
                json!({"dimensions": [{"name": "Computer", "operator": "Include", "values": ["*"]}]}),
                vec![
                    ("web1", 2.0, true),
                    ("web2", 1.0, false),
                    ("db1", 3.0, true),
                ],
            ),
            (
                json!({"dimensions": [{"name": "computer", "operator": "Include", "values": ["WEB1", "db1"]}]}),
                vec![("web1", 2.0, true), ("db1", 3.0, true)],
            ),
            (
                json!({"dimensions": [{"name": "Computer", "operator": "Exclude", "values": ["db1"]}]}),
                vec![("web1", 2.0, true), ("web2", 1.0, false)],
            ),
            (
                json!({"dimensions": [{"name": "Computer", "operator": "Include", "values": ["*"]},
                                      {"name": "Level", "operator": "Include", "values": ["Error"]}]}),
                vec![
                    ("web1\u{1f}Error", 2.0, true),
                    ("web2\u{1f}Error", 1.0, false),
                    ("db1\u{1f}Error", 2.0, true),
                ],
            ),
            (
                json!({"resourceIdColumn": "_ResourceId"}),
                vec![
                    ("/vm/web1", 2.0, true),
                    ("/vm/web2", 1.0, false),
                    ("/vm/db1", 3.0, true),
                ],
            ),
            // a dimension the result lacks splits nothing
            (
                json!({"dimensions": [{"name": "Nope", "operator": "Include", "values": ["*"]}]}),
                vec![("", 6.0, true)],
            ),
        ];
        for (extra, want) in cases {
            let r = rule(extra.clone());
            let got: Vec<(String, f64, bool)> = evaluate(&r, &cols, &rows)
                .into_iter()
                .map(|s| (s.key, s.value, s.breached))
                .collect();
            let want: Vec<(String, f64, bool)> = want
                .into_iter()
                .map(|(k, v, b)| (k.to_string(), v, b))
                .collect();
            assert_eq!(got, want, "{extra}");
        }
        let r = rule(
            json!({"dimensions": [{"name": "Computer", "operator": "Include", "values": ["*"]}]}),
        );
        let s = evaluate(&r, &cols, &rows);
        assert_eq!(
            s[0].dims,
            vec![("Computer".to_string(), "web1".to_string())]
        );
        assert_eq!(s[2].rows, vec![3, 4, 5]);
        // no rows and no dimensions: one series of 0
        let r = rule(json!({"operator": "LessThan"}));
        let s = evaluate(&r, &cols, &[]);
        assert_eq!((s.len(), s[0].value, s[0].breached), (1, 0.0, true));
    }

    #[test]
    fn metric_measurement_of_2018() {
        let body = |kind: &str, count: i64| {
            json!({"id": "/x/cpu", "properties": {"enabled": "true",
                "source": {"query": "Perf", "dataSourceId": "/w"},
                "schedule": {"frequencyInMinutes": 15, "timeWindowInMinutes": 60},
                "action": {"odata.type": "Microsoft.WindowsAzure.Management.Monitoring.Alerts.Models.Microsoft.AppInsights.Nexus.DataContracts.Resources.ScheduledQueryRules.AlertingAction",
                    "severity": "1", "aznsAction": {"actionGroup": []},
                    "trigger": {"thresholdOperator": "GreaterThan", "threshold": 80,
                        "metricTrigger": {"thresholdOperator": "GreaterThan", "threshold": count,
                            "metricTriggerType": kind, "metricColumn": "Computer"}}}}})
        };
        let cols = ["Computer", "TimeGenerated", "AggregatedValue"]
            .map(String::from)
            .to_vec();
        let rows: Vec<Vec<Value>> = [
            ("a", "2027-01-01T00:00:00Z", 90.0),
            ("a", "2027-01-01T00:10:00Z", 50.0),
            ("a", "2027-01-01T00:05:00Z", 95.0),
            ("a", "2027-01-01T00:15:00Z", 99.0),
            ("b", "2027-01-01T00:00:00Z", 10.0),
            ("b", "2027-01-01T00:05:00Z", 85.0),
        ]
        .iter()
        .map(|(c, t, v)| vec![json!(c), json!(t), json!(v)])
        .collect();
        // a: bins 00 (90) 05 (95) 10 (50) 15 (99): 3 in total, 2 in a row; b: 1
        for (kind, count, want) in [
            ("Total", 2, vec![(3.0, true), (1.0, false)]),
            ("Consecutive", 2, vec![(2.0, false), (1.0, false)]),
            ("Consecutive", 1, vec![(2.0, true), (1.0, false)]),
        ] {
            let r = query_rule(&body(kind, count)).unwrap().unwrap();
            let got: Vec<(f64, bool)> = evaluate(&r, &cols, &rows)
                .iter()
                .map(|s| (s.value, s.breached))
                .collect();
            assert_eq!(got, want, "{kind} > {count}");
        }
        let mut bad = body("Sometimes", 1);
        assert!(query_rule(&bad).is_err());
        bad["properties"]["action"]["trigger"]["metricTrigger"] = json!(null);
        assert!(query_rule(&bad).unwrap().unwrap().metric_trigger.is_none());
    }

    #[test]
    fn resolution_periods() {
        for (min, want) in [
            (1, 10),
            (2, 5),
            (5, 3),
            (15, 3),
            (30, 2),
            (600, 2),
            (660, 1),
            (1440, 1),
        ] {
            assert_eq!(resolve_after(Duration::minutes(min)), want, "{min} min");
        }
    }

    #[test]
    fn custom_payloads_and_subjects() {
        let mut r = rule(json!({}));
        r.name = "AcmeRule".into();
        r.threshold = 10.0;
        let e = Evaluation {
            rule: &r,
            start: "2018-03-26T20:10:40.0000000Z".into(),
            end: "2018-03-26T21:10:40.0000000Z".into(),
            value: 18.0,
            row_count: 18,
            table: json!({"name": "PrimaryResult", "columns": [], "rows": []}),
            workspace_id: "ws-guid".into(),
            subscription: "sub-guid".into(),
            dims: vec![("Computer".into(), "web1".into())],
        };
        let p = custom_payload(
            r##"{"text": "#alertrulename fired with #searchresultcount over threshold of #thresholdvalue .",
                "window": "#searchintervalstarttimeutc to #searchintervalendtimeutc (#searchinterval)",
                "where": "#workspaceid in #subscriptionid, #alerttype, #unknown",
                "IncludeSearchResults": true, "IncludeDimensions": true}"##,
            &e,
        );
        assert_eq!(p["text"], "AcmeRule fired with 18 over threshold of 10 .");
        assert_eq!(
            p["window"],
            "03/26/2018 08:10:40 PM to 03/26/2018 09:10:40 PM (00:05:00)"
        );
        assert_eq!(
            p["where"],
            "ws-guid in sub-guid, Number of results, #unknown"
        );
        assert_eq!(p["SearchResults"]["tables"][0]["name"], "PrimaryResult");
        assert_eq!(p["Dimensions"][0]["value"], "web1");
        assert_eq!(
            custom_payload("not json #alertrulename", &e),
            json!("not json AcmeRule")
        );
        let payload = json!({"data": {"essentials": {"monitorCondition": "Resolved"},
            "alertContext": {"condition": {"allOf": [{"metricValue": 3.5}]}}}});
        assert_eq!(
            expand_subject(
                "${data.essentials.monitorCondition}: ${data.alertContext.condition.allOf[0].metricValue} ${data.nope}!",
                &payload
            ),
            "Resolved: 3.5 !"
        );
    }
}
