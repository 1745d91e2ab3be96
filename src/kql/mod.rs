//! The KQL engine for Resource Graph and Log Analytics: `parse` (tokens with line/column →
//! syntax tree, nesting bounded) then `run` (each operator bound to its input's columns, then
//! evaluated in Rust over the rows the caller hands in through `Tables`). Pure: no store, no clock
//! (`now()`/`ago()` read `Ctx::now`), no I/O. Follows Resource Graph's "Understanding the query
//! language" (the supported subset) and the Kusto query language reference.

mod eval;
mod funcs;
mod lex;
mod parse;
mod plan;
#[cfg(test)]
mod tests;
mod value;

pub use funcs::guid;
pub use parse::{Query, MAX_DEPTH};
pub use value::{format_datetime, parse_datetime, Column, Row, Table, Type, Value, TICKS_PER_SEC};

/// Resource Graph's limits on one query (query-language.md: "at most 3 join/union").
pub const MAX_JOINS: usize = 3;
pub const MAX_UNION_LEGS: usize = 3;
pub const MAX_MV_EXPANDS: usize = 2;

/// An error with where it is: `code` is `ParserFailure` for syntax and anything outside the subset,
/// `SemanticError` for an unknown column or table or a misused function, `LimitExceeded` for a
/// Resource Graph limit. `line` is 1-based; `character_position_in_line` is 0-based, as ANTLR (and
/// so Resource Graph's ParserFailure detail) counts it; `token` is the offending text.
#[derive(Debug, Clone, PartialEq)]
pub struct KqlError {
    pub code: &'static str,
    pub message: String,
    pub line: u32,
    pub character_position_in_line: u32,
    pub token: String,
}

impl KqlError {
    pub fn parser(line: u32, col: u32, token: &str, message: &str) -> KqlError {
        KqlError {
            code: "ParserFailure",
            message: message.to_string(),
            line,
            character_position_in_line: col,
            token: token.to_string(),
        }
    }

    pub fn semantic(line: u32, col: u32, token: &str, message: String) -> KqlError {
        KqlError {
            code: "SemanticError",
            message,
            line,
            character_position_in_line: col,
            token: token.to_string(),
        }
    }

    fn limit(line: u32, col: u32, token: &str, message: String) -> KqlError {
        KqlError {
            code: "LimitExceeded",
            ..KqlError::semantic(line, col, token, message)
        }
    }
}

impl std::fmt::Display for KqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at line {}, position {} ('{}'): {}",
            self.code, self.line, self.character_position_in_line, self.token, self.message
        )
    }
}

impl std::error::Error for KqlError {}

/// The rows a query may read, by table name (case-insensitive in Resource Graph: `resources`
/// and `Resources` are one table). The caller hands in only what the principal may read.
pub trait Tables {
    fn table(&self, name: &str) -> Option<Table>;

    /// The table as its owner holds it (a cache of it), read without copying its rows: a query's
    /// leading `where`s and `summarize` scan it in place. The default wraps `table`.
    fn shared_table(&self, name: &str) -> Option<std::sync::Arc<Table>> {
        self.table(name).map(std::sync::Arc::new)
    }

    /// The rows of `table` (as `shared_table` gave it) narrowed to the columns `cols` (ascending indices into its columns), row
    /// after row in one block of `cols.len()` values each, as the owner keeps them while the table
    /// is unchanged; the scan of `where`s + `summarize` reads them instead of the wide rows (a few
    /// contiguous values a row, not a cache line or more per column). `None`: the owner keeps none.
    fn narrowed(
        &self,
        _table: &std::sync::Arc<Table>,
        _cols: &[usize],
    ) -> Option<std::sync::Arc<Vec<Value>>> {
        None
    }

    /// The table `name` (`workspace` `None`: the query's own scope; `Some`: `workspace("…").name`)
    /// as the parts its owner keeps, so that the leading `where`s and `summarize` scan them in place
    /// (and through `narrowed`) rather than over a union copied first. `None`: ask `shared_table` or
    /// `workspace_table`, which also report what is missing.
    fn parts(&self, _workspace: Option<&str>, _name: &str) -> Option<Parts> {
        None
    }

    /// `workspace("…").Table`: a table of another Log Analytics workspace. Resource Graph has none.
    fn workspace_table(&self, _workspace: &str, _name: &str) -> Result<Table, WorkspaceError> {
        Err(WorkspaceError::NoWorkspace)
    }
}

/// A table as the parts its owner keeps (Log Analytics: one per workspace of the query): the table is
/// their rows, part after part, each kept only when its `window` column lies in `[start, end)` (the
/// query API's `timespan` on `TimeGenerated`; ticks). Every part has the same columns.
#[derive(Debug, Clone)]
pub struct Parts {
    pub tables: Vec<std::sync::Arc<Table>>,
    pub window: Option<(String, i64, i64)>,
}

/// Why `workspace("…").Table` found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceError {
    /// No workspace of that name, id or resource id that the caller may read.
    NoWorkspace,
    /// The workspace has no such table.
    NoTable,
}

/// What a query runs with besides its tables: the time `now()` and `ago()` read, the table a
/// query starting with an operator reads (Resource Graph: `Resources`), and the seed `sample` uses.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: time::OffsetDateTime,
    pub default_table: Option<String>,
    pub seed: u64,
}

impl Ctx {
    pub fn now_ticks(&self) -> i64 {
        (self.now.unix_timestamp_nanos() / 100) as i64
    }
}

/// Parse a query. Errors carry line, column and token.
pub fn parse(query: &str) -> Result<Query, KqlError> {
    parse::parse(query)
}

/// Parse a query as Log Analytics reads it: `render` ignored, `workspace("…")` references, and no
/// Resource Graph limits when run.
pub fn parse_logs(query: &str) -> Result<Query, KqlError> {
    parse::parse_logs(query)
}

/// Run a parsed query over the caller's tables.
pub fn run(query: &Query, tables: &dyn Tables, ctx: &Ctx) -> Result<Table, KqlError> {
    if !query.log_analytics {
        eval::check_limits(&query.body)?;
    }
    eval::run_tabular(&query.body, tables, ctx)
}
