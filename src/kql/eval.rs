//! The tabular operators over `Table`s: each binds its expressions to its input's columns, then
//! moves rows (shared `Arc` rows: `where`, `order by`, `take`, `top`, `sample` never copy one) or
//! builds new ones (`project`, `extend`, `summarize`, `join`, `mv-expand`, `parse`). Pure. Follows
//! the Kusto docs page of each operator (output column order and names, join kinds and the `1`
//! suffix, mv-expand of arrays and bags, parse's simple mode).

use std::cmp::Ordering;
use std::sync::Arc;

use serde_json::Value as Json;

use super::funcs::{convert, eval, AggState};
use super::parse::{BinOp, Expr, JoinKind, Named, Op, ParsePart, Pos, SortKey, Source, Tabular};
use super::plan::{inferred_name, path_name, unique_name, AggSpec, BExpr, Binder};
use super::value::{sort_cmp, Column, Key, Row, Table, Type, Value};
use super::{
    Ctx, KqlError, Parts, Tables, WorkspaceError, MAX_JOINS, MAX_MV_EXPANDS, MAX_UNION_LEGS,
};

/// Group and join keys are hashed once per row; foldhash is the crate's fast hasher.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Resource Graph's per-query limits, checked before any row is read.
pub fn check_limits(t: &Tabular) -> Result<(), KqlError> {
    let (mut joins, mut expands) = (0, 0);
    count_ops(t, &mut joins, &mut expands, Pos::default())
}

fn count_ops(
    t: &Tabular,
    joins: &mut usize,
    expands: &mut usize,
    _at: Pos,
) -> Result<(), KqlError> {
    if let Source::Union(legs, _) = &t.source {
        if legs.len() > MAX_UNION_LEGS {
            return Err(KqlError::limit(
                0,
                0,
                "union",
                format!(
                    "union has {} legs; at most {MAX_UNION_LEGS} are allowed",
                    legs.len()
                ),
            ));
        }
        for l in legs {
            count_ops(l, joins, expands, _at)?;
        }
    }
    for op in &t.ops {
        match op {
            Op::Join { right, pos, .. } => {
                *joins += 1;
                if *joins > MAX_JOINS {
                    return Err(KqlError::limit(
                        pos.line,
                        pos.col,
                        "join",
                        format!("the query has more than {MAX_JOINS} join operators"),
                    ));
                }
                count_ops(right, joins, expands, *pos)?;
            }
            Op::Union { legs, .. } => {
                // the input counts as a leg
                if legs.len() + 1 > MAX_UNION_LEGS {
                    return Err(KqlError::limit(
                        0,
                        0,
                        "union",
                        format!(
                            "union has {} legs; at most {MAX_UNION_LEGS} are allowed",
                            legs.len() + 1
                        ),
                    ));
                }
                for l in legs {
                    count_ops(l, joins, expands, _at)?;
                }
            }
            Op::MvExpand { .. } => {
                *expands += 1;
                if *expands > MAX_MV_EXPANDS {
                    return Err(KqlError::limit(
                        0,
                        0,
                        "mv-expand",
                        format!("the query has more than {MAX_MV_EXPANDS} mv-expand operators"),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

pub fn run_tabular(t: &Tabular, tables: &dyn Tables, ctx: &Ctx) -> Result<Table, KqlError> {
    let mut done = 0;
    let mut table = match &t.source {
        Source::Table(name, pos) => {
            let parts = match tables.parts(None, name) {
                Some(p) => p,
                None => Parts {
                    tables: vec![tables
                        .shared_table(name)
                        .ok_or_else(|| unknown_table(name, *pos))?],
                    window: None,
                },
            };
            let (table, n) = scan(&parts, &t.ops, tables, ctx)?;
            done = n;
            table
        }
        Source::Workspace(ws, name, pos) => match tables.parts(Some(ws), name) {
            Some(parts) => {
                let (table, n) = scan(&parts, &t.ops, tables, ctx)?;
                done = n;
                table
            }
            None => tables.workspace_table(ws, name).map_err(|e| match e {
                WorkspaceError::NoWorkspace => KqlError::semantic(
                    pos.line,
                    pos.col,
                    ws,
                    format!("'{ws}' could not be resolved to a workspace you have access to"),
                ),
                WorkspaceError::NoTable => unknown_table(name, *pos),
            })?,
        },
        Source::Implicit(pos) => match &ctx.default_table {
            Some(name) => tables
                .table(name)
                .ok_or_else(|| unknown_table(name, *pos))?,
            None => {
                return Err(KqlError::parser(
                    pos.line,
                    pos.col,
                    "",
                    "the query must start with a table name",
                ))
            }
        },
        Source::Union(legs, inner) => match union_parts(legs, tables) {
            Some(parts) => {
                let (table, n) = scan(&parts, &t.ops, tables, ctx)?;
                done = n;
                table
            }
            None => union(
                legs.iter()
                    .map(|l| run_tabular(l, tables, ctx))
                    .collect::<Result<_, _>>()?,
                *inner,
            ),
        },
    };
    if done == 0 {
        check_width(&table)?;
    }
    for op in &t.ops[done..] {
        table = apply(op, table, tables, ctx)?;
    }
    Ok(table)
}

/// `union A, workspace("w").A, …` of bare tables whose owner keeps them as parts of one shape (the
/// same columns, the same window): the union is those parts one after another, as `union` of
/// tables with identical columns gives (inner or outer alike), so it can be scanned in place.
fn union_parts(legs: &[Tabular], tables: &dyn Tables) -> Option<Parts> {
    let mut out: Option<Parts> = None;
    for l in legs {
        if !l.ops.is_empty() {
            return None;
        }
        let p = match &l.source {
            Source::Table(name, _) => tables.parts(None, name)?,
            Source::Workspace(ws, name, _) => tables.parts(Some(ws), name)?,
            _ => return None,
        };
        match &mut out {
            None => out = Some(p),
            Some(o) => {
                if o.window != p.window || o.tables[0].columns != p.tables[0].columns {
                    return None;
                }
                o.tables.extend(p.tables);
            }
        }
    }
    out
}

/// A row of the wrong width from the caller is refused here, not indexed out of bounds later.
fn check_width(table: &Table) -> Result<(), KqlError> {
    match table.rows.iter().find(|r| r.len() != table.columns.len()) {
        Some(bad) => Err(KqlError::semantic(
            0,
            0,
            "",
            format!(
                "a row of {} values in a table of {} columns",
                bad.len(),
                table.columns.len()
            ),
        )),
        None => Ok(()),
    }
}

/// The first operators over a source table held as parts, in one pass that copies no row it does
/// not keep: the parts' window and the leading `where`s as one filter and, when a `summarize`
/// follows them, the groups folded straight from the source rows (the common `T | where … |
/// summarize … by …` shape) — from the rows narrowed to the columns the query reads when the owner
/// keeps them (`Tables::narrowed`: a few contiguous values a row instead of every column of a wide
/// row). Returns the table and how many operators it ran; the same result as running them one by
/// one over the parts' union.
fn scan(
    parts: &Parts,
    ops: &[Op],
    tables: &dyn Tables,
    ctx: &Ctx,
) -> Result<(Table, usize), KqlError> {
    let now = ctx.now_ticks();
    let Some(first) = parts.tables.first() else {
        return Ok((Table::default(), 0));
    };
    for p in &parts.tables {
        check_width(p)?;
    }
    let b = Binder {
        cols: &first.columns,
        ctx,
    };
    let mut preds = Vec::new();
    if let Some((col, start, end)) = &parts.window {
        if let Some(i) = first.index(col) {
            preds.push(window(i, *start, *end));
        }
    }
    let windowed = !preds.is_empty();
    let mut n = 0;
    for op in ops {
        let Op::Where(e) = op else { break };
        preds.push(b.bind(e, "where")?.0);
        n += 1;
    }
    let keep = |r: &&Row| preds.iter().all(|p| eval(p, r, now).truthy());
    let wide = || parts.tables.iter().flat_map(|t| t.rows.iter());
    if let Some(Op::Summarize { aggs, by }) = ops.get(n) {
        let g = bind_summarize(&b, aggs, by)?;
        if let Some(t) = fold_narrowed(&parts.tables, &preds, &g, tables, now) {
            return Ok((t, n + 1));
        }
        let rows = wide().filter(keep).map(|r| (&r[..], Some(r)));
        return Ok((fold(g, rows, now), n + 1));
    }
    if n == 0 && !windowed && parts.tables.len() == 1 {
        return Ok((Arc::unwrap_or_clone(first.clone()), 0));
    }
    let rows = wide().filter(keep).cloned().collect();
    Ok((
        Table {
            columns: first.columns.clone(),
            rows,
        },
        n,
    ))
}

/// `start <= column < end` on a datetime column (a null is outside), as a bound predicate.
fn window(col: usize, start: i64, end: i64) -> BExpr {
    let at = |op, t| {
        Box::new(BExpr::Bin(
            op,
            Box::new(BExpr::Col(col)),
            Box::new(BExpr::Lit(Value::DateTime(t))),
        ))
    };
    BExpr::Bin(BinOp::And, at(BinOp::Ge, start), at(BinOp::Lt, end))
}

/// `where`s + `summarize` over the narrowed rows of every part, when the owner keeps them and no
/// aggregate needs the whole row (`arg_max`, `arg_min`, `take_any` carry it).
fn fold_narrowed(
    parts: &[Arc<Table>],
    preds: &[BExpr],
    g: &Grouping,
    tables: &dyn Tables,
    now: i64,
) -> Option<Table> {
    if g.specs.iter().any(|s| !s.carry.is_empty() || s.keeps_row()) {
        return None;
    }
    let mut used: Vec<usize> = Vec::new();
    let mut note = |i: usize| {
        used.push(i);
        i
    };
    for e in preds.iter().chain(&g.keys) {
        e.map_cols(&mut note);
    }
    for s in &g.specs {
        for e in &s.args {
            e.map_cols(&mut note);
        }
    }
    used.sort_unstable();
    used.dedup();
    if used.is_empty() {
        return None;
    }
    let blocks = parts
        .iter()
        .map(|t| tables.narrowed(t, &used))
        .collect::<Option<Vec<_>>>()?;
    let mut at = |i: usize| used.binary_search(&i).unwrap_or_default();
    let preds: Vec<BExpr> = preds.iter().map(|e| e.map_cols(&mut at)).collect();
    let narrowed = Grouping {
        columns: g.columns.clone(),
        keys: g.keys.iter().map(|e| e.map_cols(&mut at)).collect(),
        specs: g
            .specs
            .iter()
            .map(|s| AggSpec {
                args: s.args.iter().map(|e| e.map_cols(&mut at)).collect(),
                ..s.clone()
            })
            .collect(),
    };
    let rows = blocks
        .iter()
        .flat_map(|b| b.chunks_exact(used.len()))
        .filter(|r| preds.iter().all(|p| eval(p, r, now).truthy()))
        .map(|r| (r, None));
    Some(fold(narrowed, rows, now))
}

fn unknown_table(name: &str, pos: Pos) -> KqlError {
    KqlError::semantic(
        pos.line,
        pos.col,
        name,
        format!("Failed to resolve table or column expression named '{name}'"),
    )
}

fn apply(op: &Op, t: Table, tables: &dyn Tables, ctx: &Ctx) -> Result<Table, KqlError> {
    let now = ctx.now_ticks();
    let b = Binder {
        cols: &t.columns,
        ctx,
    };
    match op {
        Op::Where(e) => {
            let (p, _) = b.bind(e, "where")?;
            let Table { columns, mut rows } = t;
            rows.retain(|r| eval(&p, r, now).truthy());
            Ok(Table { columns, rows })
        }
        Op::Project(items) => {
            let (cols, exprs) = bind_named(&b, items, &[], "project")?;
            Ok(Table {
                rows: project_rows(&t.rows, &exprs, now),
                columns: cols,
            })
        }
        Op::Extend(items) => extend(t, items, ctx),
        Op::ProjectAway(patterns) => {
            for p in patterns {
                if !p.contains('*') && t.index(p).is_none() {
                    return Err(KqlError::semantic(0, 0, p, format!("'project-away' operator: Failed to resolve column or scalar expression named '{p}'")));
                }
            }
            let keep: Vec<usize> = (0..t.columns.len())
                .filter(|&i| !patterns.iter().any(|p| wildcard(p, &t.columns[i].name)))
                .collect();
            Ok(select(&t, &keep))
        }
        Op::Summarize { aggs, by } => summarize(&b, t.rows.iter(), aggs, by, now),
        Op::Count => Ok(Table::new(
            &[("Count", Type::Long)],
            vec![vec![Value::Long(t.rows.len() as i64)]],
        )),
        Op::Distinct(None) => {
            let mut seen = std::collections::HashSet::new();
            let Table { columns, mut rows } = t;
            rows.retain(|r| seen.insert(r.iter().map(Value::key).collect::<Vec<Key>>()));
            Ok(Table { columns, rows })
        }
        Op::Distinct(Some(exprs)) => {
            let named: Vec<Named> = exprs
                .iter()
                .map(|e| Named {
                    name: None,
                    expr: e.clone(),
                })
                .collect();
            let (cols, bound) = bind_named(&b, &named, &[], "distinct")?;
            let mut seen = std::collections::HashSet::new();
            let rows = project_rows(&t.rows, &bound, now)
                .into_iter()
                .filter(|r| seen.insert(r.iter().map(Value::key).collect::<Vec<Key>>()))
                .collect();
            Ok(Table {
                columns: cols,
                rows,
            })
        }
        Op::Order(keys) => sort(t, keys, ctx),
        Op::Top { n, key } => {
            let n = constant_count(&b, n, "top")?;
            let mut t = sort(t, std::slice::from_ref(key), ctx)?;
            t.rows.truncate(n);
            Ok(t)
        }
        Op::Take(n) => {
            let n = constant_count(&b, n, "take")?;
            let Table { columns, mut rows } = t;
            rows.truncate(n);
            Ok(Table { columns, rows })
        }
        Op::Sample(n) => {
            let n = constant_count(&b, n, "sample")?;
            Ok(sample(t, n, ctx.seed))
        }
        Op::Join {
            kind, right, on, ..
        } => {
            let right = run_tabular(right, tables, ctx)?;
            join(t, right, *kind, on, ctx)
        }
        Op::Union { legs, inner } => {
            let mut all = vec![t];
            for l in legs {
                all.push(run_tabular(l, tables, ctx)?);
            }
            Ok(union(all, *inner))
        }
        Op::MvExpand {
            array,
            index,
            items,
            limit,
        } => mv_expand(&b, &t, *array, index.as_deref(), items, *limit, now),
        Op::Parse { expr, parts } => parse_op(&b, &t, expr, parts, now),
    }
}

/// `extend`: a name that exists is replaced in place, new names are appended; each item sees the
/// ones before it (`extend a = 1, b = a + 1`).
fn extend(t: Table, items: &[Named], ctx: &Ctx) -> Result<Table, KqlError> {
    let now = ctx.now_ticks();
    let mut columns = t.columns.clone();
    let mut steps = Vec::with_capacity(items.len());
    let mut anon = 0;
    for it in items {
        let (e, ty) = Binder {
            cols: &columns,
            ctx,
        }
        .bind(&it.expr, "extend")?;
        let name = match it.name.clone().or_else(|| path_name(&it.expr)) {
            Some(n) => n,
            None => loop {
                anon += 1;
                let n = format!("Column{anon}");
                if !columns.iter().any(|c| c.name == n) {
                    break n;
                }
            },
        };
        let at = match columns.iter().position(|c| c.name == name) {
            Some(i) => {
                columns[i].ty = ty;
                i
            }
            None => {
                columns.push(Column { name, ty });
                columns.len() - 1
            }
        };
        steps.push((e, at));
    }
    // Kusto: a column extend names is removed and appended with its new values, so the output
    // order is the untouched columns, then the extended ones in the order extend names them
    let mut order: Vec<usize> = (0..columns.len())
        .filter(|i| !steps.iter().any(|(_, at)| at == i))
        .collect();
    for (_, at) in &steps {
        if !order.contains(at) {
            order.push(*at);
        }
    }
    let identity = order.iter().enumerate().all(|(k, &i)| k == i);
    let rows = t
        .rows
        .iter()
        .map(|r| {
            let mut v: Vec<Value> = Vec::with_capacity(columns.len());
            v.extend(r.iter().cloned());
            v.resize(columns.len(), Value::Null);
            for (e, at) in &steps {
                v[*at] = eval(e, &v, now);
            }
            if identity {
                Row::from(v)
            } else {
                order
                    .iter()
                    .map(|&i| v[i].clone())
                    .collect::<Vec<_>>()
                    .into()
            }
        })
        .collect();
    let columns = order.iter().map(|&i| columns[i].clone()).collect();
    Ok(Table { columns, rows })
}

/// Bind `name = expr` items; unnamed ones take Kusto's default names (`Column1`… when nothing fits).
fn bind_named(
    b: &Binder,
    items: &[Named],
    existing: &[Column],
    op: &str,
) -> Result<(Vec<Column>, Vec<BExpr>), KqlError> {
    let mut cols: Vec<Column> = Vec::new();
    let mut exprs = Vec::new();
    let mut anon = 0;
    for it in items {
        if matches!(it.expr.kind, super::parse::ExprKind::Star) {
            return Err(KqlError::semantic(
                it.expr.pos.line,
                it.expr.pos.col,
                "*",
                format!("'{op}' operator: '*' is not supported here"),
            ));
        }
        let (e, ty) = b.bind(&it.expr, op)?;
        let name = match (&it.name, path_name(&it.expr)) {
            (Some(n), _) => n.clone(),
            (None, Some(n)) => n,
            (None, None) => loop {
                anon += 1;
                let n = format!("Column{anon}");
                if !existing.iter().chain(cols.iter()).any(|c| c.name == n) {
                    break n;
                }
            },
        };
        if cols.iter().any(|c| c.name == name) {
            return Err(KqlError::semantic(
                it.expr.pos.line,
                it.expr.pos.col,
                &name,
                format!("'{op}' operator: the column '{name}' is given twice"),
            ));
        }
        cols.push(Column { name, ty });
        exprs.push(e);
    }
    Ok((cols, exprs))
}

fn project_rows(rows: &[Row], exprs: &[BExpr], now: i64) -> Vec<Row> {
    rows.iter()
        .map(|r| {
            exprs
                .iter()
                .map(|e| eval(e, r, now))
                .collect::<Vec<_>>()
                .into()
        })
        .collect()
}

fn select(t: &Table, keep: &[usize]) -> Table {
    Table {
        columns: keep.iter().map(|&i| t.columns[i].clone()).collect(),
        rows: t
            .rows
            .iter()
            .map(|r| {
                keep.iter()
                    .map(|&i| r[i].clone())
                    .collect::<Vec<_>>()
                    .into()
            })
            .collect(),
    }
}

fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.len() >= head.len() && name.starts_with(head) && {
                let rest = &name[head.len()..];
                if tail.is_empty() {
                    true
                } else {
                    (0..=rest.len())
                        .filter(|&k| rest.is_char_boundary(k))
                        .any(|k| wildcard(tail, &rest[k..]))
                }
            }
        }
    }
}

fn constant_count(b: &Binder, e: &Expr, op: &str) -> Result<usize, KqlError> {
    match b.bind(e, op)?.0 {
        BExpr::Lit(Value::Long(n)) if n >= 0 => Ok(n as usize),
        _ => Err(KqlError::semantic(
            e.pos.line,
            e.pos.col,
            op,
            format!("'{op}' operator: expected a non-negative number of rows"),
        )),
    }
}

/// `summarize`'s bound parts: output columns (the `by` keys, then the aggregates'), keys, aggregates.
struct Grouping {
    columns: Vec<Column>,
    keys: Vec<BExpr>,
    specs: Vec<AggSpec>,
}

fn bind_summarize(b: &Binder, aggs: &[Named], by: &[Named]) -> Result<Grouping, KqlError> {
    let mut columns: Vec<Column> = Vec::new();
    let mut keys = Vec::new();
    let mut anon = 0;
    for item in by {
        let (e, ty) = b.bind(&item.expr, "summarize")?;
        let name = match item.name.clone().or_else(|| inferred_name(&item.expr)) {
            Some(n) => n,
            None => {
                anon += 1;
                format!("Column{anon}")
            }
        };
        columns.push(Column {
            name: unique_name(&columns, &name),
            ty,
        });
        keys.push(e);
    }
    let by_names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let mut specs: Vec<AggSpec> = Vec::new();
    for a in aggs {
        specs.push(b.aggregate(a.name.as_deref(), &a.expr, &by_names, &mut columns)?);
    }
    Ok(Grouping {
        columns,
        keys,
        specs,
    })
}

fn summarize<'r>(
    b: &Binder,
    rows: impl Iterator<Item = &'r Row>,
    aggs: &[Named],
    by: &[Named],
    now: i64,
) -> Result<Table, KqlError> {
    let g = bind_summarize(b, aggs, by)?;
    Ok(fold(g, rows.map(|r| (&r[..], Some(r))), now))
}

/// Fold rows into groups: each row's values, and the shared row itself when the caller has one
/// (`arg_max`/`arg_min`/`take_any` keep it).
fn fold<'r>(
    g: Grouping,
    rows: impl Iterator<Item = (&'r [Value], Option<&'r Row>)>,
    now: i64,
) -> Table {
    let Grouping {
        columns,
        keys,
        specs,
    } = g;
    let mut index: HashMap<Vec<Key>, usize> = HashMap::default();
    let mut groups: Vec<(Vec<Value>, Vec<AggState>)> = Vec::new();
    // one key buffer for every row: a row of an existing group allocates nothing
    let (mut kv, mut key): (Vec<Value>, Vec<Key>) = (Vec::new(), Vec::new());
    for (r, shared) in rows {
        kv.clear();
        kv.extend(keys.iter().map(|k| eval(k, r, now)));
        key.clear();
        key.extend(kv.iter().map(Value::key));
        let g = match index.get(key.as_slice()) {
            Some(&g) => g,
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((kv.clone(), specs.iter().map(AggState::new).collect()));
                groups.len() - 1
            }
        };
        for (st, spec) in groups[g].1.iter_mut().zip(&specs) {
            st.add(spec, r, shared, now);
        }
    }
    // no `by`: one row even over no input (count() is 0)
    if keys.is_empty() && groups.is_empty() {
        groups.push((Vec::new(), specs.iter().map(AggState::new).collect()));
    }
    let rows = groups
        .into_iter()
        .map(|(mut vals, states)| {
            for (st, spec) in states.into_iter().zip(&specs) {
                st.finish(spec, &mut vals, now);
            }
            Row::from(vals)
        })
        .collect();
    Table { columns, rows }
}

fn sort(t: Table, keys: &[SortKey], ctx: &Ctx) -> Result<Table, KqlError> {
    let now = ctx.now_ticks();
    let b = Binder {
        cols: &t.columns,
        ctx,
    };
    let bound: Vec<(BExpr, &SortKey)> = keys
        .iter()
        .map(|k| Ok((b.bind(&k.expr, "order")?.0, k)))
        .collect::<Result<_, KqlError>>()?;
    // the sort values, computed once per row
    let mut decorated: Vec<(Vec<Value>, Row)> = t
        .rows
        .into_iter()
        .map(|r| {
            let k: Vec<Value> = bound
                .iter()
                .map(|(e, _)| match e {
                    BExpr::Col(i) => r[*i].scalar(),
                    e => eval(e, &r, now).scalar(),
                })
                .collect();
            (k, r)
        })
        .collect();
    decorated.sort_by(|(a, _), (b, _)| {
        for ((x, y), (_, k)) in a.iter().zip(b).zip(&bound) {
            let o = match (x.is_null(), y.is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    if k.nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, true) => {
                    if k.nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (false, false) => {
                    let o = sort_cmp(x, y);
                    if k.desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    Ok(Table {
        columns: t.columns,
        rows: decorated.into_iter().map(|(_, r)| r).collect(),
    })
}

/// `sample n`: n rows picked by a seeded generator (Kusto's pick is random; the caller fixes the
/// seed so that tests and replays agree), kept in input order.
fn sample(t: Table, n: usize, seed: u64) -> Table {
    if n >= t.rows.len() {
        return t;
    }
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut idx: Vec<usize> = (0..t.rows.len()).collect();
    for i in 0..n {
        let j = i + (next() % (idx.len() - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut chosen = idx[..n].to_vec();
    chosen.sort_unstable();
    Table {
        rows: chosen.into_iter().map(|i| t.rows[i].clone()).collect(),
        columns: t.columns,
    }
}

fn join(
    left: Table,
    right: Table,
    kind: JoinKind,
    on: &[(Expr, Expr)],
    ctx: &Ctx,
) -> Result<Table, KqlError> {
    let now = ctx.now_ticks();
    let lb = Binder {
        cols: &left.columns,
        ctx,
    };
    let rb = Binder {
        cols: &right.columns,
        ctx,
    };
    let mut lk = Vec::new();
    let mut rk = Vec::new();
    for (l, r) in on {
        lk.push(lb.bind(l, "join")?.0);
        rk.push(rb.bind(r, "join")?.0);
    }
    let key = |keys: &[BExpr], r: &Row| -> Option<Vec<Key>> {
        let k: Vec<Key> = keys.iter().map(|e| eval(e, r, now).key()).collect();
        // a null key matches nothing
        (!k.contains(&Key::Null)).then_some(k)
    };
    let mut index: HashMap<Vec<Key>, Vec<usize>> = HashMap::default();
    for (i, r) in right.rows.iter().enumerate() {
        if let Some(k) = key(&rk, r) {
            index.entry(k).or_default().push(i);
        }
    }
    let mut columns = left.columns.clone();
    for c in &right.columns {
        let name = unique_name(&columns, &c.name);
        columns.push(Column { name, ty: c.ty });
    }
    let width = columns.len();
    let mut seen_left = std::collections::HashSet::new();
    let mut rows = Vec::new();
    for l in &left.rows {
        let k = key(&lk, l);
        // innerunique: one left row per key value
        if kind == JoinKind::InnerUnique {
            if let Some(k) = &k {
                if !seen_left.insert(k.clone()) {
                    continue;
                }
            }
        }
        let matches = k.as_ref().and_then(|k| index.get(k));
        match matches {
            Some(m) => {
                for &ri in m {
                    let mut v = Vec::with_capacity(width);
                    v.extend(l.iter().cloned());
                    v.extend(right.rows[ri].iter().cloned());
                    rows.push(Row::from(v));
                }
            }
            None if kind == JoinKind::LeftOuter => {
                let mut v = Vec::with_capacity(width);
                v.extend(l.iter().cloned());
                v.extend(right.columns.iter().map(|c| c.ty.null()));
                rows.push(Row::from(v));
            }
            None => {}
        }
    }
    Ok(Table { columns, rows })
}

/// `union`: columns by name in order of first appearance (outer), or only those every leg has
/// (inner); a leg without a column gives null.
fn union(legs: Vec<Table>, inner: bool) -> Table {
    let mut columns: Vec<Column> = Vec::new();
    for t in &legs {
        for c in &t.columns {
            match columns.iter_mut().find(|x| x.name == c.name) {
                Some(x) if x.ty != c.ty => x.ty = Type::Dynamic,
                Some(_) => {}
                None => columns.push(c.clone()),
            }
        }
    }
    if inner {
        columns.retain(|c| legs.iter().all(|t| t.index(&c.name).is_some()));
    }
    let mut rows = Vec::new();
    for t in legs {
        let map: Vec<Option<usize>> = columns.iter().map(|c| t.index(&c.name)).collect();
        let identity =
            map.len() == t.columns.len() && map.iter().enumerate().all(|(i, m)| *m == Some(i));
        if identity {
            rows.extend(t.rows);
            continue;
        }
        for r in &t.rows {
            rows.push(
                map.iter()
                    .zip(&columns)
                    .map(|(m, c)| m.map(|i| r[i].clone()).unwrap_or_else(|| c.ty.null()))
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
    }
    Table { columns, rows }
}

fn mv_expand(
    b: &Binder,
    t: &Table,
    array: bool,
    index: Option<&str>,
    items: &[(Named, Option<Type>)],
    limit: Option<i64>,
    now: i64,
) -> Result<Table, KqlError> {
    let mut columns = t.columns.clone();
    let mut targets = Vec::new();
    let mut exprs = Vec::new();
    for (named, ty) in items {
        let (e, _) = b.bind(&named.expr, "mv-expand")?;
        let Some(name) = named.name.clone().or_else(|| path_name(&named.expr)) else {
            let p = named.expr.pos;
            return Err(KqlError::semantic(
                p.line,
                p.col,
                "mv-expand",
                "'mv-expand' operator: name the expanded expression (Name = expression)".into(),
            ));
        };
        let ty = ty.unwrap_or(Type::Dynamic);
        let at = match columns.iter().position(|c| c.name == name) {
            Some(i) => {
                columns[i].ty = ty;
                i
            }
            None => {
                columns.push(Column { name, ty });
                columns.len() - 1
            }
        };
        targets.push((at, ty));
        exprs.push(e);
    }
    let index_at = index.map(|n| {
        columns.push(Column {
            name: n.to_string(),
            ty: Type::Long,
        });
        columns.len() - 1
    });
    let limit = limit.map(|l| l.max(0) as usize).unwrap_or(usize::MAX);
    let mut rows = Vec::new();
    for r in &t.rows {
        // each expression's elements; None is a null value (one row with null)
        let lists: Vec<Option<Vec<Value>>> = exprs
            .iter()
            .map(|e| elements(&eval(e, r, now), array))
            .collect();
        let n = lists
            .iter()
            .map(|l| l.as_ref().map_or(1, Vec::len))
            .max()
            .unwrap_or(0)
            .min(limit);
        for k in 0..n {
            let mut v: Vec<Value> = Vec::with_capacity(columns.len());
            v.extend(r.iter().cloned());
            v.resize(columns.len(), Value::Null);
            for (list, &(at, ty)) in lists.iter().zip(&targets) {
                let item = match list {
                    Some(l) => l.get(k).cloned().unwrap_or(Value::Null),
                    None => Value::Null,
                };
                v[at] = if ty == Type::Dynamic {
                    convert(&item, Type::Dynamic)
                } else {
                    convert(&item, ty)
                };
            }
            if let Some(i) = index_at {
                v[i] = Value::Long(k as i64);
            }
            rows.push(Row::from(v));
        }
    }
    Ok(Table { columns, rows })
}

/// The top-level elements an mv-expand produces: array items, or a bag's entries as `{key: value}`
/// (`kind=array`: `[key, value]`). An empty array or bag gives none; null or a scalar gives itself.
fn elements(v: &Value, array: bool) -> Option<Vec<Value>> {
    match v {
        Value::Dynamic(j) => match &**j {
            Json::Array(a) => Some(a.iter().map(|x| Value::dynamic(x.clone())).collect()),
            Json::Object(o) => Some(
                o.iter()
                    .map(|(k, x)| {
                        Value::dynamic(if array {
                            Json::Array(vec![Json::String(k.clone()), x.clone()])
                        } else {
                            let mut m = serde_json::Map::new();
                            m.insert(k.clone(), x.clone());
                            Json::Object(m)
                        })
                    })
                    .collect(),
            ),
            Json::Null => None,
            _ => Some(vec![v.clone()]),
        },
        Value::Null => None,
        other => Some(vec![other.clone()]),
    }
}

/// `parse x with * "a" y "b" z:long *` (simple mode): literals must appear in order; a column takes
/// the text up to the next literal (the last one, the rest). No match leaves the columns null.
fn parse_op(
    b: &Binder,
    t: &Table,
    expr: &Expr,
    parts: &[ParsePart],
    now: i64,
) -> Result<Table, KqlError> {
    let (src, _) = b.bind(expr, "parse")?;
    let mut pattern = String::from("^");
    let mut cols = Vec::new();
    for (k, p) in parts.iter().enumerate() {
        let last = k + 1 == parts.len();
        match p {
            ParsePart::Lit(s) => pattern.push_str(&regex::escape(s)),
            ParsePart::Star => pattern.push_str(if last { "" } else { "(?s:.*?)" }),
            ParsePart::Col(n, ty) => {
                pattern.push_str(if last { "((?s:.*))$" } else { "((?s:.*?))" });
                cols.push((n.clone(), *ty));
            }
        }
    }
    let re = regex::Regex::new(&pattern).map_err(|e| {
        KqlError::semantic(
            expr.pos.line,
            expr.pos.col,
            "parse",
            format!("'parse' operator: {e}"),
        )
    })?;
    let mut columns = t.columns.clone();
    let mut targets = Vec::new();
    for (n, ty) in &cols {
        match columns.iter().position(|c| c.name == *n) {
            Some(i) => {
                columns[i].ty = *ty;
                targets.push(i);
            }
            None => {
                columns.push(Column {
                    name: n.clone(),
                    ty: *ty,
                });
                targets.push(columns.len() - 1);
            }
        }
    }
    let rows = t
        .rows
        .iter()
        .map(|r| {
            let text = eval(&src, r, now).to_kql_string();
            let mut v: Vec<Value> = Vec::with_capacity(columns.len());
            v.extend(r.iter().cloned());
            v.resize(columns.len(), Value::Null);
            let caps = re.captures(&text);
            for (g, (&at, (_, ty))) in targets.iter().zip(&cols).enumerate() {
                v[at] = match caps.as_ref().and_then(|c| c.get(g + 1)) {
                    Some(m) => convert(&Value::str(m.as_str()), *ty),
                    None => ty.null(),
                };
            }
            Arc::from(v)
        })
        .collect();
    Ok(Table { columns, rows })
}
