//! Log Analytics' data, without HTTP: workspaces by `customerId`, their rows (`AzureActivity` streamed
//! from the activity log through subscription diagnostic settings; rows ingested into any table) as
//! typed tables kept across appends, and `query` — one KQL query over workspaces as a caller, each
//! workspace and table through `authz::decide` — which the query API and alert rules share. Follows the
//! AzureActivity table reference, the standard columns (`TenantId` = workspace id), "Query across workspaces".

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value as Json};
use time::OffsetDateTime;

use crate::authz::{self, Decision, Path, Subject};
use crate::facts::Snapshot;
use crate::kql::{self, Column, KqlError, Row, Table, Tables, Type, Value, WorkspaceError};
use crate::store::{Store, StoreError, Stored, Tx};

pub const WORKSPACE_TYPE: &str = "microsoft.operationalinsights/workspaces";
pub const DIAGNOSTIC_SETTINGS_TYPE: &str = "microsoft.insights/diagnosticsettings";
/// Querying a workspace (Log Analytics Reader's `*/read` covers it; "Manage access to Log Analytics
/// workspaces": workspace-context queries need `…/workspaces/query/read` and, per table,
/// `…/workspaces/query/{Table}/read`).
pub const QUERY_ACTION: &str = "Microsoft.OperationalInsights/workspaces/query/read";
pub const AZURE_ACTIVITY: &str = "AzureActivity";

/// A workspace as queries address it.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Lower-cased ARM id.
    pub key: String,
    /// The ARM id as stored (display casing).
    pub id: String,
    pub name: String,
    /// The workspace id (`properties.customerId`), lower-cased.
    pub customer_id: String,
    /// Lower-cased subscription id.
    pub sub: String,
}

fn workspace_of(r: &Stored) -> Option<Workspace> {
    let customer_id = r.body["properties"]["customerId"].as_str()?.to_lowercase();
    let id = r.body["id"].as_str().unwrap_or(&r.key).to_string();
    Some(Workspace {
        key: r.key.clone(),
        name: id.rsplit('/').next().unwrap_or_default().to_string(),
        id,
        customer_id,
        sub: r.sub.clone(),
    })
}

/// Every workspace in the store (kept until the next write).
pub fn workspaces(store: &Store) -> Result<Arc<Vec<Workspace>>, StoreError> {
    store.memo("logs:workspaces", |tx| {
        Ok(tx
            .by_type(WORKSPACE_TYPE, None, None)?
            .iter()
            .filter_map(workspace_of)
            .collect())
    })
}

/// The workspaces a reference names: its workspace id (customerId), its ARM id, or its name
/// (names are unique per resource group only, so several may answer).
pub fn candidates<'a>(all: &'a [Workspace], reference: &str) -> Vec<&'a Workspace> {
    let r = reference.trim().trim_end_matches('/').to_lowercase();
    if r.starts_with("/subscriptions/") {
        return all.iter().filter(|w| w.key == r).collect();
    }
    let by_id: Vec<&Workspace> = all.iter().filter(|w| w.customer_id == r).collect();
    if !by_id.is_empty() {
        return by_id;
    }
    all.iter()
        .filter(|w| w.name.eq_ignore_ascii_case(&r))
        .collect()
}

// --- AzureActivity ---

/// AzureActivity's columns and types (the table reference; `_d` columns are the dynamic forms).
pub const AZURE_ACTIVITY_COLUMNS: &[(&str, Type)] = &[
    ("TenantId", Type::String),
    ("SourceSystem", Type::String),
    ("CallerIpAddress", Type::String),
    ("CategoryValue", Type::String),
    ("CorrelationId", Type::String),
    ("Authorization", Type::String),
    ("Authorization_d", Type::Dynamic),
    ("Claims", Type::String),
    ("Claims_d", Type::Dynamic),
    ("Level", Type::String),
    ("OperationNameValue", Type::String),
    ("Properties", Type::String),
    ("Properties_d", Type::Dynamic),
    ("Caller", Type::String),
    ("EventDataId", Type::String),
    ("EventSubmissionTimestamp", Type::DateTime),
    ("HTTPRequest", Type::String),
    ("OperationId", Type::String),
    ("ResourceGroup", Type::String),
    ("ResourceProviderValue", Type::String),
    ("ActivityStatusValue", Type::String),
    ("ActivitySubstatusValue", Type::String),
    ("Hierarchy", Type::String),
    ("TimeGenerated", Type::DateTime),
    ("SubscriptionId", Type::String),
    ("OperationName", Type::String),
    ("ActivityStatus", Type::String),
    ("ActivitySubstatus", Type::String),
    ("Category", Type::String),
    ("ResourceId", Type::String),
    ("ResourceProvider", Type::String),
    ("Resource", Type::String),
    ("_ResourceId", Type::String),
    ("_SubscriptionId", Type::String),
    ("Type", Type::String),
];

/// One activity-log EventData (ARM-FACTS §8.2) as the AzureActivity row a workspace receives.
/// Operation and provider names upper-cased as the table carries them; `_ResourceId` lower-cased.
pub fn azure_activity_row(e: &Json, workspace_id: &str) -> Json {
    let s = |v: &Json| v.as_str().unwrap_or_default().to_string();
    let text = |v: &Json| {
        if v.is_null() {
            String::new()
        } else {
            v.to_string()
        }
    };
    let resource_id = s(&e["resourceId"]);
    let provider = s(&e["resourceProviderName"]["value"]);
    json!({
        "TenantId": workspace_id,
        "SourceSystem": "Azure",
        "CallerIpAddress": s(&e["httpRequest"]["clientIpAddress"]),
        "CategoryValue": s(&e["category"]["value"]),
        "CorrelationId": s(&e["correlationId"]),
        "Authorization": text(&e["authorization"]),
        "Authorization_d": e["authorization"],
        "Claims": text(&e["claims"]),
        "Claims_d": e["claims"],
        "Level": s(&e["level"]),
        "OperationNameValue": s(&e["operationName"]["value"]).to_uppercase(),
        "Properties": text(&e["properties"]),
        "Properties_d": e["properties"],
        "Caller": s(&e["caller"]),
        "EventDataId": s(&e["eventDataId"]),
        "EventSubmissionTimestamp": s(&e["submissionTimestamp"]),
        "HTTPRequest": text(&e["httpRequest"]),
        "OperationId": s(&e["operationId"]),
        "ResourceGroup": s(&e["resourceGroupName"]).to_uppercase(),
        "ResourceProviderValue": provider.to_uppercase(),
        "ActivityStatusValue": s(&e["status"]["value"]),
        "ActivitySubstatusValue": s(&e["subStatus"]["localizedValue"]),
        "Hierarchy": s(&e["properties"]["hierarchy"]),
        "TimeGenerated": s(&e["eventTimestamp"]),
        "SubscriptionId": s(&e["subscriptionId"]),
        "OperationName": s(&e["operationName"]["localizedValue"]),
        "ActivityStatus": s(&e["status"]["localizedValue"]),
        "ActivitySubstatus": s(&e["subStatus"]["value"]),
        "Category": s(&e["category"]["localizedValue"]),
        "ResourceId": resource_id,
        "ResourceProvider": s(&e["resourceProviderName"]["localizedValue"]),
        "Resource": resource_id.rsplit('/').next().unwrap_or_default().to_uppercase(),
        "_ResourceId": resource_id.to_lowercase(),
        "_SubscriptionId": s(&e["subscriptionId"]),
        "Type": AZURE_ACTIVITY,
    })
}

/// Does a diagnostic setting's `logs` array send `category`? (`category` by name, or the
/// `allLogs`/`audit` category groups.)
pub fn sends_category(logs: &Json, category: &str) -> bool {
    logs.as_array().is_some_and(|a| {
        a.iter().any(|l| {
            l["enabled"].as_bool().unwrap_or(false)
                && (l["category"]
                    .as_str()
                    .is_some_and(|c| c.eq_ignore_ascii_case(category))
                    || l["categoryGroup"]
                        .as_str()
                        .is_some_and(|g| g.eq_ignore_ascii_case("allLogs")))
        })
    })
}

/// Stream activity-log events of subscription `sub` (lower-cased GUID) into the workspaces its
/// subscription diagnostic settings name, in the transaction that writes them: what a setting did not
/// exist for when the event was written is never sent (as Azure). Tenant-level logs (`/tenants/…`)
/// have no subscription settings.
pub fn stream_activity(tx: &Tx, sub: &str, events: &[&Json]) -> Result<(), StoreError> {
    if sub.is_empty() || sub.starts_with('/') {
        return Ok(());
    }
    let scope = format!("/subscriptions/{sub}");
    for setting in tx
        .by_type(DIAGNOSTIC_SETTINGS_TYPE, Some(sub), None)?
        .iter()
        .filter(|s| s.parent == scope)
    {
        let props = &setting.body["properties"];
        let Some(ws) = props["workspaceId"].as_str() else {
            continue;
        };
        let Some(ws) = tx.get(&ws.trim_end_matches('/').to_lowercase())? else {
            continue; // the workspace is gone: nothing arrives anywhere
        };
        let Some(ws) = workspace_of(&ws) else {
            continue;
        };
        for e in events {
            let category = e["category"]["value"].as_str().unwrap_or("Administrative");
            if !sends_category(&props["logs"], category) {
                continue;
            }
            let row = azure_activity_row(e, &ws.customer_id);
            let ts = row["TimeGenerated"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            tx.append_log_row(&ws.customer_id, AZURE_ACTIVITY, &ts, &row)?;
        }
    }
    Ok(())
}

// --- ingestion ---

/// Why rows were not ingested.
#[derive(Debug)]
pub enum IngestError {
    NoWorkspace,
    /// The body is not a JSON array of objects (the message says what is wrong).
    BadBody(String),
    Store(StoreError),
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::Store(e)
    }
}

/// Append `rows` (JSON objects, column name → value) to `table` of the workspace with `customer_id`.
/// A row without `TimeGenerated` gets `now`; every row gets the standard `TenantId` (the workspace id)
/// and `Type` (the table name). Returns how many rows were stored.
pub fn ingest(
    store: &Store,
    customer_id: &str,
    table: &str,
    rows: &Json,
    now: OffsetDateTime,
) -> Result<usize, IngestError> {
    let all = workspaces(store)?;
    let ws = all
        .iter()
        .find(|w| w.customer_id.eq_ignore_ascii_case(customer_id))
        .ok_or(IngestError::NoWorkspace)?;
    let valid_name = !table.is_empty()
        && table.len() <= 63
        && table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && table.starts_with(|c: char| c.is_ascii_alphabetic());
    if !valid_name {
        return Err(IngestError::BadBody(format!(
            "'{table}' is not a table name: letters, digits and '_', starting with a letter, at most 63 characters"
        )));
    }
    let items = rows.as_array().ok_or_else(|| {
        IngestError::BadBody("the body must be a JSON array of row objects".into())
    })?;
    let now_text = kql::format_datetime((now.unix_timestamp_nanos() / 100) as i64);
    let mut prepared = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Json::Object(m) = item else {
            return Err(IngestError::BadBody(format!(
                "row {i} is not a JSON object"
            )));
        };
        let mut m = m.clone();
        let ts = match m.get("TimeGenerated") {
            None | Some(Json::Null) => now_text.clone(),
            Some(Json::String(s)) => match kql::parse_datetime(s) {
                Some(t) => kql::format_datetime(t),
                None => {
                    return Err(IngestError::BadBody(format!(
                        "row {i}: TimeGenerated '{s}' is not a datetime"
                    )))
                }
            },
            Some(_) => {
                return Err(IngestError::BadBody(format!(
                    "row {i}: TimeGenerated must be an ISO 8601 string"
                )))
            }
        };
        m.insert("TimeGenerated".into(), json!(ts));
        m.insert("TenantId".into(), json!(ws.customer_id));
        m.insert("Type".into(), json!(table));
        prepared.push((ts, Json::Object(m)));
    }
    store.write(|tx| -> Result<(), StoreError> {
        for (ts, row) in &prepared {
            tx.append_log_row(&ws.customer_id, table, ts, row)?;
        }
        Ok(())
    })?;
    Ok(prepared.len())
}

// --- ingestion-time transformations ---

/// Run a data collection rule's `transformKql` over the rows of one upload: the query reads them as
/// the table `source` (typed by the stream declaration's columns); `source` alone passes them through.
/// Returns the output's columns and the transformed rows as JSON objects (column → value, nulls
/// left out).
pub type Transformed = (Vec<(String, Type)>, Vec<Json>);

pub fn transform(
    text: &str,
    columns: &[(&str, Type)],
    rows: &[Map<String, Json>],
    now: OffsetDateTime,
) -> Result<Transformed, KqlError> {
    struct Source(Arc<Table>);
    impl Tables for Source {
        fn table(&self, name: &str) -> Option<Table> {
            (name == "source").then(|| Table::clone(&self.0))
        }
        fn shared_table(&self, name: &str) -> Option<Arc<Table>> {
            (name == "source").then(|| self.0.clone())
        }
    }
    let parsed = kql::parse_logs(text)?;
    let ctx = kql::Ctx {
        now,
        default_table: None,
        seed: 0,
    };
    let out = kql::run(&parsed, &Source(Arc::new(typed(columns, rows))), &ctx)?;
    let cols = out.columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
    let rows = out
        .rows
        .iter()
        .map(|r| {
            let mut m = Map::new();
            for (c, v) in out.columns.iter().zip(r.iter()) {
                if !v.is_null() {
                    m.insert(c.name.clone(), v.to_json());
                }
            }
            Json::Object(m)
        })
        .collect();
    Ok((cols, rows))
}

fn schema_key(customer_id: &str, table: &str) -> String {
    format!(
        "logs:schema:{}:{}",
        customer_id.to_lowercase(),
        table.to_lowercase()
    )
}

/// Record the types of a table's columns (a data collection rule's stream declaration, through its
/// transformation), so that a column declared `guid`, `int` or `datetime` is typed so in queries
/// whatever its JSON values look like. Later declarations add columns; a declared type stays.
pub fn declare_columns(
    store: &Store,
    customer_id: &str,
    table: &str,
    columns: &[(String, Type)],
) -> Result<(), StoreError> {
    let key = schema_key(customer_id, table);
    store.write(|tx| {
        let mut known: Map<String, Json> = tx
            .meta(&key)?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let before = known.len();
        for (name, ty) in columns {
            known
                .entry(name.clone())
                .or_insert_with(|| json!(ty.name()));
        }
        if known.len() != before {
            tx.set_meta(&key, &Json::Object(known).to_string())?;
        }
        Ok(())
    })
}

// --- tables ---

/// A workspace table as kept across writes (`Store::memo_kept`): its typed rows, the last stored row
/// they include, the declared types and inferred columns they were typed with, and the narrowed copies
/// queries asked for. Rows appended since are typed and pushed onto the table and every narrowed copy
/// in place; a table is typed anew only when a column appears or gets its first type, or the
/// declared types change.
pub struct Kept {
    last_seq: i64,
    declared: Option<String>,
    /// (name, type of the first non-null value, if any yet), in first-seen order (not AzureActivity).
    columns: Vec<(String, Option<Type>)>,
    pub table: Option<Arc<Table>>,
    narrowed: std::sync::Mutex<HashMap<Vec<usize>, Arc<Vec<Value>>>>,
}

/// Narrowed copies kept per table (each one value per row and column read).
const MAX_NARROWED: usize = 8;

impl Clone for Kept {
    fn clone(&self) -> Self {
        Kept {
            last_seq: self.last_seq,
            declared: self.declared.clone(),
            columns: self.columns.clone(),
            table: self.table.clone(),
            narrowed: std::sync::Mutex::new(self.narrowed_map().clone()),
        }
    }
}

impl Kept {
    fn new(declared: Option<String>) -> Kept {
        Kept {
            last_seq: 0,
            declared,
            columns: Vec::new(),
            table: None,
            narrowed: Default::default(),
        }
    }

    fn narrowed_map(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<usize>, Arc<Vec<Value>>>> {
        self.narrowed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The table's rows narrowed to `cols`, one block of `cols.len()` values a row, built on first
    /// ask and then extended with the table.
    pub fn narrow(&self, cols: &[usize]) -> Option<Arc<Vec<Value>>> {
        let table = self.table.as_ref()?;
        let mut map = self.narrowed_map();
        if let Some(b) = map.get(cols) {
            return Some(b.clone());
        }
        let mut block = Vec::with_capacity(table.rows.len() * cols.len());
        for r in &table.rows {
            block.extend(cols.iter().map(|&c| r[c].clone()));
        }
        let block = Arc::new(block);
        if map.len() >= MAX_NARROWED {
            map.clear(); // many query shapes: start again rather than grow without bound
        }
        map.insert(cols.to_vec(), block.clone());
        Some(block)
    }

    /// Push typed rows onto the table and every narrowed copy (in place when nothing else holds them).
    fn extend(&mut self, rows: Vec<Row>) {
        let Some(table) = &mut self.table else {
            return;
        };
        for (cols, block) in self.narrowed.get_mut().unwrap_or_else(|p| p.into_inner()) {
            let block = Arc::make_mut(block);
            block.reserve(rows.len() * cols.len());
            for r in &rows {
                block.extend(cols.iter().map(|&c| r[c].clone()));
            }
        }
        Arc::make_mut(table).rows.extend(rows);
    }
}

/// Note the columns of `rows` in `columns` (first-seen order, the type of the first non-null value;
/// `TimeGenerated` always datetime, a declared type wins).
fn infer(
    columns: &mut Vec<(String, Option<Type>)>,
    declared: &Map<String, Json>,
    rows: &[Map<String, Json>],
) {
    let mut seen: HashMap<String, usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.clone(), i))
        .collect();
    for r in rows {
        for (k, v) in r {
            let ty = if k == "TimeGenerated" {
                Some(Type::DateTime)
            } else if let Some(t) = declared.get(k).and_then(Json::as_str) {
                Type::from_name(t)
            } else {
                json_type(v)
            };
            match seen.get(k) {
                Some(&i) => {
                    if columns[i].1.is_none() {
                        columns[i].1 = ty;
                    }
                }
                None => {
                    seen.insert(k.clone(), columns.len());
                    columns.push((k.clone(), ty));
                }
            }
        }
    }
}

fn typed_as(columns: &[(String, Option<Type>)], rows: &[Map<String, Json>]) -> Table {
    let cols: Vec<(&str, Type)> = columns
        .iter()
        .map(|(n, t)| (n.as_str(), t.unwrap_or(Type::Dynamic)))
        .collect();
    typed(&cols, rows)
}

/// Bring `prev` (the table as last kept, if any) up to date with the store: the rows appended since
/// typed and pushed on; the whole table typed anew when its columns or declared types changed.
fn kept_update(
    prev: Option<Kept>,
    tx: &Tx,
    customer_id: &str,
    name: &str,
) -> Result<Kept, StoreError> {
    let declared_text = tx.meta(&schema_key(customer_id, name))?;
    let mut k = match prev {
        Some(k) if k.declared == declared_text => k,
        _ => Kept::new(declared_text),
    };
    let parse =
        |text: &str| -> Result<Map<String, Json>, StoreError> { Ok(serde_json::from_str(text)?) };
    let new = tx.log_rows_after(customer_id, name, k.last_seq, parse)?;
    let activity = name.eq_ignore_ascii_case(AZURE_ACTIVITY);
    if let Some((seq, _)) = new.last() {
        k.last_seq = *seq;
    }
    let rows: Vec<Map<String, Json>> = new.into_iter().map(|(_, r)| r).collect();
    if activity {
        // the table exists in every workspace, empty until a row arrives
        match &k.table {
            None => k.table = Some(Arc::new(typed(AZURE_ACTIVITY_COLUMNS, &rows))),
            Some(_) if !rows.is_empty() => k.extend(typed(AZURE_ACTIVITY_COLUMNS, &rows).rows),
            Some(_) => {}
        }
        return Ok(k);
    }
    if rows.is_empty() {
        return Ok(k);
    }
    let declared: Map<String, Json> = k
        .declared
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    let before = k.columns.clone();
    infer(&mut k.columns, &declared, &rows);
    if k.table.is_some() && k.columns == before {
        let t = typed_as(&k.columns, &rows);
        k.extend(t.rows);
        return Ok(k);
    }
    // a new column or a column's first type: every row is typed again
    let all: Vec<Map<String, Json>> = tx.log_rows(customer_id, name, parse)?;
    k.table = Some(Arc::new(typed_as(&k.columns, &all)));
    k.narrowed_map().clear();
    Ok(k)
}

/// One workspace table as kept (see `Kept`), up to date with the store.
pub fn kept_table(store: &Store, customer_id: &str, name: &str) -> Result<Arc<Kept>, StoreError> {
    let key = format!(
        "logs:{}:{}",
        customer_id.to_lowercase(),
        name.to_lowercase()
    );
    store.memo_kept(&key, |prev, tx| kept_update(prev, tx, customer_id, name))
}

/// The typed table `name` of one workspace, kept across writes and extended with the rows appended
/// since (`Kept`): AzureActivity with its fixed schema (empty when no row has arrived yet, as the
/// table exists in every workspace), any other table with columns in first-seen order and types from
/// the first non-null value (`TimeGenerated` always datetime). `None` when the workspace has no such
/// table.
pub fn workspace_table(
    store: &Store,
    customer_id: &str,
    name: &str,
) -> Result<Option<Arc<Table>>, StoreError> {
    Ok(kept_table(store, customer_id, name)?.table.clone())
}

fn json_type(v: &Json) -> Option<Type> {
    Some(match v {
        Json::Null => return None,
        Json::Bool(_) => Type::Bool,
        Json::Number(n) if n.is_i64() || n.is_u64() => Type::Long,
        Json::Number(_) => Type::Real,
        Json::String(_) => Type::String,
        _ => Type::Dynamic,
    })
}

/// Rows of JSON objects as a table of `columns`; repeated strings are shared.
fn typed(columns: &[(&str, Type)], rows: &[Map<String, Json>]) -> Table {
    let mut interned: HashMap<&str, Value> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut vals = Vec::with_capacity(columns.len());
        for (name, ty) in columns {
            let v = r.get(*name).unwrap_or(&Json::Null);
            vals.push(match (ty, v) {
                (Type::String, Json::String(s)) => interned
                    .entry(s.as_str())
                    .or_insert_with(|| Value::str(s))
                    .clone(),
                (Type::String, Json::Null) => Value::str(""),
                (Type::String, other) => Value::str(&other.to_string()),
                (Type::Guid, Json::String(s)) => {
                    kql::guid(s).map(|g| Value::str(&g)).unwrap_or(Value::Null)
                }
                (Type::DateTime, Json::String(s)) => kql::parse_datetime(s)
                    .map(Value::DateTime)
                    .unwrap_or(Value::Null),
                (Type::Long | Type::Int, Json::Number(n)) => {
                    n.as_i64().map(Value::Long).unwrap_or(Value::Null)
                }
                (Type::Real, Json::Number(n)) => n.as_f64().map(Value::Real).unwrap_or(Value::Null),
                (Type::Bool, Json::Bool(b)) => Value::Bool(*b),
                (Type::Dynamic, Json::Null) => Value::Null,
                (Type::Dynamic, j) => Value::dynamic(j.clone()),
                _ => Value::Null,
            });
        }
        out.push(vals);
    }
    let mut t = Table::new(columns, Vec::new());
    t.rows = out.into_iter().map(Row::from).collect();
    t
}

// --- queries ---

/// Who runs a query: a principal of the directory, or the platform (an alert rule's evaluation, which
/// runs with the rule's own authority).
#[derive(Debug, Clone, Copy)]
pub enum Asker<'a> {
    Principal {
        object_id: &'a str,
        groups: &'a [String],
        tenant_id: &'a str,
    },
    Platform,
}

/// A `[start, end)` window over `TimeGenerated`, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

/// Parse the API's `timespan`: an ISO 8601 duration ending now (`PT1H`, `P1D`), or an interval
/// `start/end`, `start/duration` or `duration/end`.
pub fn parse_timespan(s: &str, now: OffsetDateTime) -> Option<Window> {
    let ticks = |d: time::Duration| (d.whole_nanoseconds() / 100) as i64;
    let now_t = (now.unix_timestamp_nanos() / 100) as i64;
    let s = s.trim();
    match s.split_once('/') {
        None => {
            let d = crate::clock::parse_duration(s)?;
            Some(Window {
                start: now_t - ticks(d),
                end: now_t,
            })
        }
        Some((a, b)) => {
            let (start, end) = match (kql::parse_datetime(a), kql::parse_datetime(b)) {
                (Some(x), Some(y)) => (x, y),
                (Some(x), None) => (x, x + ticks(crate::clock::parse_duration(b)?)),
                (None, Some(y)) => (y - ticks(crate::clock::parse_duration(a)?), y),
                (None, None) => return None,
            };
            (start <= end).then_some(Window { start, end })
        }
    }
}

/// Why a workspace took no part in a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No workspace answers to the reference.
    NotFound(String),
    /// The caller may not query it (the reference and the decision).
    Denied(String, Box<Decision>),
}

/// What `query` answers: the result, and the workspaces left out (a partial error when the query
/// still ran over others).
#[derive(Debug)]
pub struct Outcome {
    pub table: Table,
    pub refused: Vec<Refusal>,
}

/// Why a query did not run.
#[derive(Debug)]
pub enum QueryError {
    /// The primary workspace (the first reference) is missing or refused.
    Primary(Refusal),
    Kql(KqlError),
    Store(StoreError),
}

impl From<StoreError> for QueryError {
    fn from(e: StoreError) -> Self {
        QueryError::Store(e)
    }
}

/// The decision on `action` at `scope` (lower-cased id) of a subscription `sub` for `asker`: on the
/// customer path for a caller of the subscription's tenant, on the delegated path for a tenant that
/// manages it (Azure Lighthouse), refused for anyone else; `None` for the platform (always allowed).
pub fn decide(
    snap: &Snapshot,
    asker: Asker,
    action: &str,
    sub: &str,
    scope: &str,
    now: OffsetDateTime,
) -> Option<Decision> {
    decide_as(snap, asker, (action, false), sub, scope, now)
}

/// [`decide`] for an action or (`data` true) a data action, such as the Logs Ingestion API's
/// `Microsoft.Insights/Telemetry/Write` on a data collection rule.
pub fn decide_as(
    snap: &Snapshot,
    asker: Asker,
    (action, data): (&str, bool),
    sub: &str,
    scope: &str,
    now: OffsetDateTime,
) -> Option<Decision> {
    let Asker::Principal {
        object_id,
        groups,
        tenant_id,
    } = asker
    else {
        return None;
    };
    let Some(s) = snap.dir.subscription(sub) else {
        return Some(Decision::NoGrant);
    };
    let path = if s.tenant_id.eq_ignore_ascii_case(tenant_id) {
        Path::Customer
    } else if snap
        .managed_by
        .get(&sub.to_lowercase())
        .is_some_and(|t| t.iter().any(|t| t.eq_ignore_ascii_case(tenant_id)))
    {
        Path::Delegated
    } else {
        return Some(Decision::NoGrant);
    };
    Some(authz::decide(
        &Subject { object_id, groups },
        action,
        data,
        scope,
        path,
        &snap.access,
        now.unix_timestamp(),
    ))
}

fn allowed(d: &Option<Decision>) -> bool {
    d.as_ref().is_none_or(Decision::is_allowed)
}

/// Run `text` over the workspaces `refs` names (the first is the primary; the others are the
/// request's `workspaces`), as `asker`, with `window` applied to every table's `TimeGenerated`.
/// Each table name reads the union of that table over every workspace in scope (as Log Analytics
/// does for a multi-workspace query); `workspace("…").T` reads one more workspace, checked the same
/// way. `enforce` false lets refused workspaces through (`--authz log|off`) after reporting them.
#[allow(clippy::too_many_arguments)]
pub fn query(
    store: &Store,
    snap: &Snapshot,
    asker: Asker,
    refs: &[&str],
    text: &str,
    window: Option<Window>,
    now: OffsetDateTime,
    enforce: bool,
) -> Result<Outcome, QueryError> {
    let all = workspaces(store)?;
    let mut scope: Vec<Workspace> = Vec::new();
    let mut refused = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        match admit(&all, snap, asker, r, now, enforce) {
            Ok(w) => {
                if !scope.iter().any(|s| s.key == w.key) {
                    scope.push(w);
                }
            }
            Err(e) if i == 0 => return Err(QueryError::Primary(e)),
            Err(e) => refused.push(e),
        }
    }
    let tables = LogTables {
        store,
        snap,
        asker,
        scope: &scope,
        all: &all,
        resource: None,
        window,
        now,
        enforce,
        failure: std::cell::RefCell::new(None),
        handed: Default::default(),
    };
    run_over(&tables, text, now, refused)
}

/// A resource-context query (`/v1/{resourceId}/query` for a resource that is not a workspace): every
/// table reads the rows whose `_ResourceId` is the resource or below it, from whichever workspaces hold
/// them, each table authorized by `Microsoft.Insights/logs/{Table}/read` on the resource ("Manage access
/// to Log Analytics workspaces": resource-context access). A caller with no read on the resource at all
/// is refused as for a workspace.
#[allow(clippy::too_many_arguments)]
pub fn query_resource(
    store: &Store,
    snap: &Snapshot,
    asker: Asker,
    resource_id: &str,
    text: &str,
    window: Option<Window>,
    now: OffsetDateTime,
    enforce: bool,
) -> Result<Outcome, QueryError> {
    let key = resource_id.trim_end_matches('/').to_lowercase();
    let sub = key
        .strip_prefix("/subscriptions/")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default()
        .to_string();
    let d = decide(snap, asker, "Microsoft.Insights/logs/read", &sub, &key, now);
    if enforce && !allowed(&d) {
        return Err(QueryError::Primary(Refusal::Denied(
            resource_id.to_string(),
            Box::new(d.unwrap_or(Decision::NoGrant)),
        )));
    }
    let all = workspaces(store)?;
    let tables = LogTables {
        store,
        snap,
        asker,
        scope: &all,
        all: &all,
        resource: Some((key, sub)),
        window,
        now,
        enforce,
        failure: std::cell::RefCell::new(None),
        handed: Default::default(),
    };
    run_over(&tables, text, now, Vec::new())
}

fn run_over(
    tables: &LogTables,
    text: &str,
    now: OffsetDateTime,
    refused: Vec<Refusal>,
) -> Result<Outcome, QueryError> {
    let parsed = kql::parse_logs(text).map_err(QueryError::Kql)?;
    let ctx = kql::Ctx {
        now,
        default_table: None,
        seed: 0,
    };
    let result = kql::run(&parsed, tables, &ctx);
    if let Some(e) = tables.failure.borrow_mut().take() {
        return Err(QueryError::Store(e));
    }
    Ok(Outcome {
        table: result.map_err(QueryError::Kql)?,
        refused,
    })
}

/// The workspace a reference names that `asker` may query: among several of one name, the first
/// allowed; a refusal names the first refused.
fn admit(
    all: &[Workspace],
    snap: &Snapshot,
    asker: Asker,
    reference: &str,
    now: OffsetDateTime,
    enforce: bool,
) -> Result<Workspace, Refusal> {
    let found = candidates(all, reference);
    let mut first_denied = None;
    for w in &found {
        let d = decide(snap, asker, QUERY_ACTION, &w.sub, &w.key, now);
        if allowed(&d) || !enforce {
            return Ok((*w).clone());
        }
        first_denied.get_or_insert(d.unwrap_or(Decision::NoGrant));
    }
    Err(match first_denied {
        Some(d) => Refusal::Denied(reference.to_string(), Box::new(d)),
        None => Refusal::NotFound(reference.to_string()),
    })
}

struct LogTables<'a> {
    store: &'a Store,
    snap: &'a Snapshot,
    asker: Asker<'a>,
    scope: &'a [Workspace],
    all: &'a [Workspace],
    /// A resource-context query: (the resource's lower-cased id, its subscription).
    resource: Option<(String, String)>,
    window: Option<Window>,
    now: OffsetDateTime,
    enforce: bool,
    failure: std::cell::RefCell<Option<StoreError>>,
    /// The kept tables handed to the engine as parts (whose narrowed copies it may ask for).
    handed: std::cell::RefCell<Vec<Arc<Kept>>>,
}

impl LogTables<'_> {
    /// Table `name` of `workspaces` that the caller may read (`…/query/{Table}/read` on each, or
    /// `Microsoft.Insights/logs/{Table}/read` on the resource of a resource-context query), as kept.
    fn readable(&self, workspaces: &[&Workspace], name: &str) -> Vec<Arc<Kept>> {
        if let Some((key, sub)) = &self.resource {
            let action = format!("Microsoft.Insights/logs/{}/read", canonical_table(name));
            if self.enforce && !allowed(&decide(self.snap, self.asker, &action, sub, key, self.now))
            {
                return Vec::new();
            }
        }
        let mut parts = Vec::new();
        for w in workspaces {
            let action = format!(
                "Microsoft.OperationalInsights/workspaces/query/{}/read",
                canonical_table(name)
            );
            if self.resource.is_none()
                && self.enforce
                && !allowed(&decide(
                    self.snap, self.asker, &action, &w.sub, &w.key, self.now,
                ))
            {
                continue;
            }
            match kept_table(self.store, &w.customer_id, name) {
                Ok(k) if k.table.is_some() => parts.push(k),
                Ok(_) => {}
                Err(e) => {
                    self.failure.borrow_mut().get_or_insert(e);
                }
            }
        }
        parts
    }

    /// `name` over `workspaces`, each table authorized, windowed, as one table.
    /// A single workspace's table with no window or resource to apply is the kept table itself.
    fn union_of(&self, workspaces: &[&Workspace], name: &str) -> Option<Arc<Table>> {
        let mut parts: Vec<Arc<Table>> = self
            .readable(workspaces, name)
            .iter()
            .filter_map(|k| k.table.clone())
            .collect();
        if parts.len() == 1 && self.resource.is_none() && self.window.is_none() {
            return parts.pop();
        }
        let mut out = union_tables(&parts, self.window)?;
        if let Some((key, _)) = &self.resource {
            let under = format!("{key}/");
            match out.index("_ResourceId") {
                Some(i) => out.rows.retain(|r| {
                    r[i].as_str().is_some_and(|id| {
                        let id = id.to_ascii_lowercase();
                        id == *key || id.starts_with(&under)
                    })
                }),
                None => out.rows.clear(),
            }
        }
        Some(Arc::new(out))
    }
}

fn in_window(w: Window, v: &Value) -> bool {
    matches!(v, Value::DateTime(t) if *t >= w.start && *t < w.end)
}

impl Tables for LogTables<'_> {
    fn table(&self, name: &str) -> Option<Table> {
        self.shared_table(name).map(Arc::unwrap_or_clone)
    }

    fn shared_table(&self, name: &str) -> Option<Arc<Table>> {
        let scope: Vec<&Workspace> = self.scope.iter().collect();
        self.union_of(&scope, name)
    }

    /// The kept tables of the workspaces in scope (or of `workspace("…")`), when they have one shape
    /// and no resource filter applies: the window goes to the engine, which scans them in place.
    fn parts(&self, workspace: Option<&str>, name: &str) -> Option<kql::Parts> {
        if self.resource.is_some() {
            return None;
        }
        let one;
        let scope: Vec<&Workspace> = match workspace {
            None => self.scope.iter().collect(),
            Some(r) => {
                one = admit(self.all, self.snap, self.asker, r, self.now, self.enforce).ok()?;
                vec![&one]
            }
        };
        let kept = self.readable(&scope, name);
        let tables: Vec<Arc<Table>> = kept.iter().filter_map(|k| k.table.clone()).collect();
        let first = tables.first()?;
        if tables.iter().any(|t| t.columns != first.columns) {
            return None; // columns by name across shapes: `union_of` lines them up
        }
        self.handed.borrow_mut().extend(kept);
        Some(kql::Parts {
            tables,
            window: self
                .window
                .map(|w| ("TimeGenerated".to_string(), w.start, w.end)),
        })
    }

    /// A kept table's narrowed copy, kept and extended with it (`Kept::narrow`).
    fn narrowed(&self, table: &Arc<Table>, cols: &[usize]) -> Option<Arc<Vec<Value>>> {
        let handed = self.handed.borrow();
        let k = handed
            .iter()
            .find(|k| k.table.as_ref().is_some_and(|t| Arc::ptr_eq(t, table)))?;
        k.narrow(cols)
    }

    fn workspace_table(&self, reference: &str, name: &str) -> Result<Table, WorkspaceError> {
        let w = admit(
            self.all,
            self.snap,
            self.asker,
            reference,
            self.now,
            self.enforce,
        )
        .map_err(|_| WorkspaceError::NoWorkspace)?;
        self.union_of(&[&w], name)
            .map(Arc::unwrap_or_clone)
            .ok_or(WorkspaceError::NoTable)
    }
}

/// AzureActivity in its canonical spelling; other names as written.
fn canonical_table(name: &str) -> &str {
    if name.eq_ignore_ascii_case(AZURE_ACTIVITY) {
        AZURE_ACTIVITY
    } else {
        name
    }
}

/// Tables of one name from several workspaces as one: columns by name in first-seen order (a column
/// one workspace lacks is null there), rows in workspace order, those outside `window` left out.
fn union_tables(parts: &[Arc<Table>], window: Option<Window>) -> Option<Table> {
    let keep = |t: &Table| {
        let at = window.zip(t.index("TimeGenerated"));
        move |r: &&Row| at.is_none_or(|(w, i)| in_window(w, &r[i]))
    };
    let first = parts.first()?;
    if parts.iter().all(|p| p.columns == first.columns) {
        let mut t = Table {
            columns: first.columns.clone(),
            rows: Vec::new(),
        };
        for p in parts {
            t.rows.extend(p.rows.iter().filter(keep(p)).cloned());
        }
        return Some(t);
    }
    let mut columns: Vec<Column> = Vec::new();
    for p in parts {
        for c in &p.columns {
            if !columns.iter().any(|x| x.name == c.name) {
                columns.push(c.clone());
            }
        }
    }
    let mut rows = Vec::new();
    for p in parts {
        let map: Vec<Option<usize>> = columns.iter().map(|c| p.index(&c.name)).collect();
        for r in &p.rows {
            let v: Vec<Value> = map
                .iter()
                .zip(&columns)
                .map(|(i, c)| match i {
                    Some(i) => r[*i].clone(),
                    None => c.ty.null(),
                })
                .collect();
            rows.push(Row::from(v));
        }
    }
    let mut t = Table { columns, rows };
    let k = keep(&t);
    let rows: Vec<Row> = t.rows.iter().filter(k).cloned().collect();
    t.rows = rows;
    Some(t)
}

/// Log Analytics' name for a column type in query results (the API's `logsColumnType`).
pub fn column_type(ty: Type) -> &'static str {
    match ty {
        Type::Bool => "bool",
        Type::Int => "int",
        Type::Long => "long",
        Type::Real => "real",
        Type::String => "string",
        Type::DateTime => "datetime",
        Type::TimeSpan => "timespan",
        Type::Dynamic => "dynamic",
        Type::Guid => "guid",
    }
}

/// A value as the query API writes it: datetimes ISO 8601 with 7 fractional digits trimmed as Kusto
/// does, timespans `[d.]hh:mm:ss`, dynamic values as their JSON text.
pub fn cell(v: &Value) -> Json {
    match v {
        Value::Dynamic(j) if !j.is_null() => Json::String(j.to_string()),
        other => other.to_json(),
    }
}

/// The API's `tables` entry for a result.
pub fn result_table(name: &str, t: &Table) -> Json {
    let columns: Vec<Json> = t
        .columns
        .iter()
        .map(|c| json!({"name": c.name, "type": column_type(c.ty)}))
        .collect();
    let rows: Vec<Json> = t
        .rows
        .iter()
        .map(|r| Json::Array(r.iter().map(cell).collect()))
        .collect();
    json!({"name": name, "columns": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        let now = time::macros::datetime!(2026-01-02 00:00:00 UTC);
        let t = |s: &str| kql::parse_datetime(s).unwrap();
        let cases = [
            (
                "PT1H",
                Some((t("2026-01-01T23:00:00Z"), t("2026-01-02T00:00:00Z"))),
            ),
            (
                "P1D",
                Some((t("2026-01-01T00:00:00Z"), t("2026-01-02T00:00:00Z"))),
            ),
            (
                "PT3600.0S",
                Some((t("2026-01-01T23:00:00Z"), t("2026-01-02T00:00:00Z"))),
            ),
            (
                "2025-12-01T00:00:00Z/2025-12-02T00:00:00Z",
                Some((t("2025-12-01T00:00:00Z"), t("2025-12-02T00:00:00Z"))),
            ),
            (
                "2025-12-01T00:00:00.000Z/PT2H",
                Some((t("2025-12-01T00:00:00Z"), t("2025-12-01T02:00:00Z"))),
            ),
            (
                "P1D/2025-12-02T00:00:00Z",
                Some((t("2025-12-01T00:00:00Z"), t("2025-12-02T00:00:00Z"))),
            ),
            ("yesterday", None),
            ("2025-12-02T00:00:00Z/2025-12-01T00:00:00Z", None),
        ];
        for (s, want) in cases {
            assert_eq!(
                parse_timespan(s, now).map(|w| (w.start, w.end)),
                want,
                "{s}"
            );
        }
    }

    fn as_json(t: &Table) -> Json {
        let cols: Vec<Json> = t
            .columns
            .iter()
            .map(|c| json!([c.name, c.ty.name()]))
            .collect();
        let rows: Vec<Json> = t
            .rows
            .iter()
            .map(|r| Json::Array(r.iter().map(Value::to_json).collect()))
            .collect();
        json!({"columns": cols, "rows": rows})
    }

    /// The kept table (and a narrowed copy) after each append equals one typed from all rows at once;
    /// `clear` and `restore_from` drop it, so rows that went away never linger.
    #[test]
    fn a_kept_table_extended_by_appends_equals_one_built_at_once() {
        let store = Store::open(None).unwrap();
        let append = |store: &Store, table: &str, row: Json| {
            store
                .write(|tx| tx.append_log_row("ws", table, "2026-01-01T00:00:00Z", &row))
                .unwrap()
        };
        let check = |store: &Store, table: &str, what: &str| {
            let kept = kept_table(store, "ws", table).unwrap();
            let fresh = store.read(|tx| kept_update(None, tx, "ws", table)).unwrap();
            let (k, f) = (kept.table.as_ref().unwrap(), fresh.table.as_ref().unwrap());
            assert_eq!(as_json(k), as_json(f), "{what}");
            let cols: Vec<usize> = (0..k.columns.len()).step_by(2).collect();
            let (kn, f_n) = (kept.narrow(&cols).unwrap(), fresh.narrow(&cols).unwrap());
            let j = |b: &Arc<Vec<Value>>| b.iter().map(Value::to_json).collect::<Vec<_>>();
            assert_eq!(j(&kn), j(&f_n), "{what}: narrowed");
            k.rows.len()
        };
        let rows = [
            json!({"TimeGenerated": "2026-01-01T00:00:00Z", "A": "x", "B": null}),
            json!({"TimeGenerated": "2026-01-01T01:00:00Z", "A": "y", "B": null}),
            json!({"TimeGenerated": "2026-01-01T02:00:00Z", "A": "y", "B": 3}),
            json!({"TimeGenerated": "2026-01-01T03:00:00Z", "A": "z", "B": 4}),
            json!({"TimeGenerated": "2026-01-01T04:00:00Z", "C": {"k": 1}}),
            json!({"TimeGenerated": "2026-01-01T05:00:00Z", "A": "w", "B": 5, "C": null}),
        ];
        for (i, r) in rows.iter().enumerate() {
            append(&store, "T_CL", r.clone());
            assert_eq!(check(&store, "T_CL", &format!("row {i}")), i + 1);
        }
        // AzureActivity: a fixed schema, empty before any row
        assert_eq!(check_empty_activity(&store), 0);
        append(
            &store,
            AZURE_ACTIVITY,
            json!({"TimeGenerated": "2026-01-01T00:00:00Z", "Caller": "a"}),
        );
        assert_eq!(check(&store, AZURE_ACTIVITY, "activity"), 1);
        append(
            &store,
            AZURE_ACTIVITY,
            json!({"TimeGenerated": "2026-01-01T00:00:01Z", "Caller": "b"}),
        );
        assert_eq!(check(&store, AZURE_ACTIVITY, "activity"), 2);

        // a copy, a row after it, then the copy restored and another row: the kept table has the
        // copy's rows and the new one, never the row the restore took away
        let copy = store.copy().unwrap();
        append(
            &store,
            "T_CL",
            json!({"TimeGenerated": "2026-01-02T00:00:00Z", "A": "gone"}),
        );
        assert_eq!(check(&store, "T_CL", "before restore"), 7);
        store.restore_from(&copy).unwrap();
        append(
            &store,
            "T_CL",
            json!({"TimeGenerated": "2026-01-02T00:00:00Z", "A": "new"}),
        );
        assert_eq!(check(&store, "T_CL", "after restore"), 7);
        let t = workspace_table(&store, "ws", "T_CL").unwrap().unwrap();
        let a = t.index("A").unwrap();
        assert_eq!(t.rows[6][a].as_str(), Some("new"));
        // emptied: nothing kept survives
        store.write(|tx| tx.clear()).unwrap();
        append(
            &store,
            "T_CL",
            json!({"TimeGenerated": "2026-01-03T00:00:00Z", "A": "only"}),
        );
        assert_eq!(check(&store, "T_CL", "after clear"), 1);
    }

    fn check_empty_activity(store: &Store) -> usize {
        let t = workspace_table(store, "ws", AZURE_ACTIVITY)
            .unwrap()
            .unwrap();
        assert_eq!(t.columns.len(), AZURE_ACTIVITY_COLUMNS.len());
        t.rows.len()
    }

    #[test]
    fn categories_a_setting_sends() {
        let logs = json!([{"category": "Administrative", "enabled": true}, {"category": "Policy", "enabled": false}]);
        assert!(sends_category(&logs, "administrative"));
        assert!(!sends_category(&logs, "Policy"));
        assert!(!sends_category(&logs, "Security"));
        assert!(sends_category(
            &json!([{"categoryGroup": "allLogs", "enabled": true}]),
            "Security"
        ));
        assert!(!sends_category(&Json::Null, "Administrative"));
    }

    #[test]
    fn activity_rows_have_the_table_columns() {
        let e = json!({
            "caller": "alice@contosomsp.onmicrosoft.com",
            "category": {"value": "Administrative", "localizedValue": "Administrative"},
            "claims": {"http://schemas.microsoft.com/identity/claims/tenantid": "t1"},
            "operationName": {"value": "Microsoft.Resources/subscriptions/resourceGroups/write", "localizedValue": "Update resource group"},
            "resourceId": "/subscriptions/S/resourceGroups/RG-x",
            "resourceGroupName": "rg-x",
            "resourceProviderName": {"value": "Microsoft.Resources"},
            "status": {"value": "Succeeded", "localizedValue": "Succeeded"},
            "eventTimestamp": "2026-01-01T00:00:00.0000000Z",
        });
        let row = azure_activity_row(&e, "ws-1");
        for (c, _) in AZURE_ACTIVITY_COLUMNS {
            assert!(row.get(*c).is_some(), "{c}");
        }
        assert_eq!(row.as_object().unwrap().len(), AZURE_ACTIVITY_COLUMNS.len());
        assert_eq!(
            row["OperationNameValue"],
            "MICROSOFT.RESOURCES/SUBSCRIPTIONS/RESOURCEGROUPS/WRITE"
        );
        assert_eq!(row["_ResourceId"], "/subscriptions/s/resourcegroups/rg-x");
        assert_eq!(row["TenantId"], "ws-1");
        assert_eq!(
            row["Claims_d"]["http://schemas.microsoft.com/identity/claims/tenantid"],
            "t1"
        );
        let rows = vec![row.as_object().unwrap().clone()];
        let t = typed(AZURE_ACTIVITY_COLUMNS, &rows);
        let i = t.index("TimeGenerated").unwrap();
        assert!(matches!(t.rows[0][i], Value::DateTime(_)));
    }
}
