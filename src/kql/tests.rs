//! Table tests of the KQL engine: each case an input table, a query and the expected output (column
//! names in order, then the rows as JSON arrays), covering every operator and function of the subset,
//! KQL's null and dynamic rules, and parse errors with their line, column and token.

use std::collections::HashMap;

use serde_json::{json, Value as Json};

use super::value::parse_datetime;
use super::{parse, run, Ctx, KqlError, Table, Tables, Type, Value};

struct World(HashMap<String, Table>);

impl Tables for World {
    fn table(&self, name: &str) -> Option<Table> {
        self.0.get(&name.to_ascii_lowercase()).cloned()
    }
}

fn dt(s: &str) -> Value {
    Value::DateTime(parse_datetime(s).unwrap())
}

fn d(j: Json) -> Value {
    Value::dynamic(j)
}

/// T: a small table with every type and its nulls; R and S: Resources-shaped tables for join/union.
fn world() -> World {
    let t = Table::new(
        &[
            ("name", Type::String),
            ("n", Type::Long),
            ("r", Type::Real),
            ("t", Type::DateTime),
            ("d", Type::Dynamic),
            ("s", Type::String),
        ],
        vec![
            vec![
                Value::str("vm1"),
                Value::Long(1),
                Value::Real(1.5),
                dt("2024-01-01T00:10:00Z"),
                d(json!({"a": {"b": 1}, "tags": {"env": "prod"}, "arr": [1, 2]})),
                Value::str("Hello World"),
            ],
            vec![
                Value::str("vm2"),
                Value::Long(2),
                Value::Null,
                dt("2024-01-01T01:30:00Z"),
                d(json!({"a": {"b": 2}, "arr": []})),
                Value::str("hello-there"),
            ],
            vec![
                Value::str("VM3"),
                Value::Null,
                Value::Real(3.0),
                Value::Null,
                Value::Null,
                Value::str(""),
            ],
            vec![
                Value::str("sa1"),
                Value::Long(4),
                Value::Real(4.5),
                dt("2024-01-02T00:00:00Z"),
                d(json!({"a": {"b": null}, "arr": [3]})),
                Value::str("shallow"),
            ],
        ],
    );
    let r = Table::new(
        &[
            ("name", Type::String),
            ("type", Type::String),
            ("subscriptionId", Type::String),
            ("tags", Type::Dynamic),
        ],
        vec![
            vec![
                Value::str("vm1"),
                Value::str("microsoft.compute/virtualmachines"),
                Value::str("s1"),
                d(json!({"env": "prod"})),
            ],
            vec![
                Value::str("sa1"),
                Value::str("microsoft.storage/storageaccounts"),
                Value::str("s1"),
                d(json!({})),
            ],
            vec![
                Value::str("vm2"),
                Value::str("microsoft.compute/virtualmachines"),
                Value::str("s2"),
                d(json!(null)),
            ],
            vec![
                Value::str("kv1"),
                Value::str("microsoft.keyvault/vaults"),
                Value::str("s3"),
                d(json!({"env": "dev"})),
            ],
        ],
    );
    let s = Table::new(
        &[("subscriptionId", Type::String), ("name", Type::String)],
        vec![
            vec![Value::str("s1"), Value::str("prod-sub")],
            vec![Value::str("s2"), Value::str("dev-sub")],
            vec![Value::str("s1"), Value::str("prod-sub-again")],
        ],
    );
    World(HashMap::from([
        ("t".to_string(), t),
        ("r".to_string(), r),
        ("s".to_string(), s),
    ]))
}

fn ctx() -> Ctx {
    Ctx {
        now: time::macros::datetime!(2024-01-02 12:00:00 UTC),
        default_table: Some("R".into()),
        seed: 7,
    }
}

fn exec(query: &str) -> Result<Table, KqlError> {
    run(&parse(query)?, &world(), &ctx())
}

/// `columns` is the expected header, space-separated; `rows` the expected rows.
fn check(query: &str, columns: &str, rows: Json) {
    let t = exec(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.join(" "), columns, "columns of {query}");
    let got: Vec<Json> = t
        .rows
        .iter()
        .map(|r| Json::Array(r.iter().map(Value::to_json).collect()))
        .collect();
    assert_eq!(Json::Array(got), rows, "rows of {query}");
}

/// The single value of a one-row, one-column result.
fn scalar(expr: &str, expected: Json) {
    check(
        &format!("T | take 1 | project x = {expr}"),
        "x",
        json!([[expected]]),
    );
}

fn error(query: &str, code: &str, line: u32, col: u32, token: &str) {
    let e = exec(query)
        .err()
        .unwrap_or_else(|| panic!("{query} should fail"));
    assert_eq!(
        (
            e.code,
            e.line,
            e.character_position_in_line,
            e.token.as_str()
        ),
        (code, line, col, token),
        "{query}: {e}"
    );
}

#[test]
fn where_and_comparisons() {
    check(
        "T | where n > 1 | project name",
        "name",
        json!([["vm2"], ["sa1"]]),
    );
    check("T | where name == 'vm1' | project n", "n", json!([[1]]));
    check(
        "T | where name != 'vm1' | project name",
        "name",
        json!([["vm2"], ["VM3"], ["sa1"]]),
    );
    check(
        "T | where name =~ 'VM1' | project name",
        "name",
        json!([["vm1"]]),
    );
    check(
        "T | where name !~ 'VM1' | project name",
        "name",
        json!([["vm2"], ["VM3"], ["sa1"]]),
    );
    check("T | where name == 'VM1' | count", "Count", json!([[0]]));
    check(
        "T | where n >= 2 and n <= 4 | project name",
        "name",
        json!([["vm2"], ["sa1"]]),
    );
    check(
        "T | where n < 2 or r > 4 | project name",
        "name",
        json!([["vm1"], ["sa1"]]),
    );
    check(
        "T | where n between (2 .. 4) | project name",
        "name",
        json!([["vm2"], ["sa1"]]),
    );
    check(
        "T | where n !between (2 .. 4) | project name",
        "name",
        json!([["vm1"]]),
    );
    check("T | where t between (datetime(2024-01-01) .. datetime(2024-01-01T23:59:59Z)) | project name", "name", json!([["vm1"], ["vm2"]]));
    check(
        "T | where t > datetime(2024-01-01 01:00) | project name",
        "name",
        json!([["vm2"], ["sa1"]]),
    );
    check(
        "T | filter not(n > 1) | project name",
        "name",
        json!([["vm1"]]),
    );
    // `where` drops the row whose predicate is null (n is null for VM3)
    check(
        "T | where n != 2 | project name",
        "name",
        json!([["vm1"], ["VM3"], ["sa1"]]),
    );
    check(
        "T | where r == r | project name",
        "name",
        json!([["vm1"], ["VM3"], ["sa1"]]),
    );
}

#[test]
fn string_operators() {
    check(
        "T | where s contains 'WORLD' | project name",
        "name",
        json!([["vm1"]]),
    );
    check(
        "T | where s !contains 'o' | project name",
        "name",
        json!([["VM3"]]),
    );
    check(
        "T | where s contains_cs 'World' | project name",
        "name",
        json!([["vm1"]]),
    );
    check(
        "T | where s contains_cs 'world' | count",
        "Count",
        json!([[0]]),
    );
    // has: whole terms, case-insensitive; 'hell' is not a term of 'hello-there'
    check(
        "T | where s has 'hello' | project name",
        "name",
        json!([["vm1"], ["vm2"]]),
    );
    check("T | where s has 'hell' | count", "Count", json!([[0]]));
    check(
        "T | where s has 'THERE' | project name",
        "name",
        json!([["vm2"]]),
    );
    check("T | where s has 'low' | count", "Count", json!([[0]]));
    check(
        "T | where s !has 'hello' | project name",
        "name",
        json!([["VM3"], ["sa1"]]),
    );
    check(
        "T | where s has_cs 'Hello' | project name",
        "name",
        json!([["vm1"]]),
    );
    check(
        "T | where name startswith 'VM' | project name",
        "name",
        json!([["vm1"], ["vm2"], ["VM3"]]),
    );
    check(
        "T | where name !startswith 'vm' | project name",
        "name",
        json!([["sa1"]]),
    );
    check(
        "T | where name startswith_cs 'VM' | project name",
        "name",
        json!([["VM3"]]),
    );
    check(
        "T | where s endswith 'LOW' | project name",
        "name",
        json!([["sa1"]]),
    );
    check(
        "T | where s !endswith 'low' | project name",
        "name",
        json!([["vm1"], ["vm2"], ["VM3"]]),
    );
    check(
        "T | where name in ('vm1', 'VM3') | project name",
        "name",
        json!([["vm1"], ["VM3"]]),
    );
    check(
        "T | where name in~ ('VM1', 'vm3') | project name",
        "name",
        json!([["vm1"], ["VM3"]]),
    );
    check(
        "T | where name !in ('vm1', 'VM3') | project name",
        "name",
        json!([["vm2"], ["sa1"]]),
    );
    check(
        "T | where name !in~ ('VM1', 'vm3') | project name",
        "name",
        json!([["vm2"], ["sa1"]]),
    );
    check(
        "T | where n in (dynamic([2, 4])) | project name",
        "name",
        json!([["vm2"], ["sa1"]]),
    );
    check(
        "T | where name matches regex '^vm[0-9]$' | project name",
        "name",
        json!([["vm1"], ["vm2"]]),
    );
    check(
        "T | where tostring(d.tags.env) in~ ('PROD') | project name",
        "name",
        json!([["vm1"]]),
    );
}

#[test]
fn nulls_propagate() {
    // arithmetic with null is null; comparisons with one null side are false, both null: null
    check("T | where name == 'VM3' | project a = n + 1, b = r * 2, c = n == 1, e = isnull(n == long(null))", "a b c e", json!([[null, 6.0, false, true]]));
    scalar("long(null) == long(null)", json!(null));
    scalar("long(null) != 1", json!(true));
    scalar("isnull(long(null))", json!(true));
    scalar("isnull('')", json!(false));
    scalar("isempty('')", json!(true));
    scalar("isnotempty(d.missing)", json!(false));
    scalar("isnotnull(d.a)", json!(true));
    scalar("isnull(d.nope.deeper)", json!(true));
    scalar("isempty(string(null))", json!(true));
    scalar("1 / 0", json!(null));
    scalar("7 / 2", json!(3));
    scalar("7 % 3", json!(1));
    scalar("7.0 / 2", json!(3.5));
    scalar("-n", json!(-1));
    // null and false is false; null or true is true
    scalar("long(null) > 1 and false", json!(false));
    scalar("long(null) > 1 or true", json!(true));
    scalar("long(null) > 1 or false", json!(null));
}

#[test]
fn dynamic_access() {
    check(
        "T | project d.a.b",
        "d_a_b",
        json!([[1], [2], [null], [null]]),
    );
    check(
        "T | project v = d['tags']['env']",
        "v",
        json!([["prod"], [null], [null], [null]]),
    );
    check(
        "T | project d.tags['env']",
        "d_tags_env",
        json!([["prod"], [null], [null], [null]]),
    );
    check(
        "T | project first = d.arr[0], last = d.arr[-1]",
        "first last",
        json!([[1, 2], [null, null], [null, null], [3, 3]]),
    );
    check(
        "T | project x = d.a.b + 1",
        "x",
        json!([[2], [3], [null], [null]]),
    );
    check(
        "T | where d.a.b == 2 | project name",
        "name",
        json!([["vm2"]]),
    );
    check(
        "T | where d.tags.env =~ 'PROD' | project name",
        "name",
        json!([["vm1"]]),
    );
    scalar("tostring(d.a)", json!("{\"b\":1}"));
    scalar("tostring(d.tags.env)", json!("prod"));
    scalar("d.name.first", json!(null));
}

#[test]
fn conversions() {
    scalar("tostring(42)", json!("42"));
    scalar("tostring(2.5)", json!("2.5"));
    scalar("tostring(true)", json!("true"));
    scalar(
        "tostring(datetime(2024-01-01))",
        json!("2024-01-01T00:00:00Z"),
    );
    scalar("tostring(1d)", json!("1.00:00:00"));
    scalar("toint('12')", json!(12));
    scalar("toint('x')", json!(null));
    scalar("toint(2.9)", json!(2));
    scalar("tolong('9000000000')", json!(9000000000i64));
    scalar("todouble('2.5')", json!(2.5));
    scalar("toreal(3)", json!(3.0));
    scalar("tobool('true')", json!(true));
    scalar("tobool('nope')", json!(null));
    scalar(
        "todatetime('2024-03-04T05:06:07Z')",
        json!("2024-03-04T05:06:07Z"),
    );
    scalar("todatetime('garbage')", json!(null));
    scalar("totimespan('01:30:00')", json!("01:30:00"));
    scalar("toint(d.a.b)", json!(1));
}

#[test]
fn string_functions() {
    scalar("tolower('AbC')", json!("abc"));
    scalar("toupper('AbC')", json!("ABC"));
    scalar("strlen('héllo')", json!(5));
    scalar("strlen(s)", json!(11));
    scalar("substring('abcdef', 2)", json!("cdef"));
    scalar("substring('abcdef', 1, 3)", json!("bcd"));
    scalar("substring('abc', 5, 1)", json!(""));
    scalar("strcat('a', 1, '-', true)", json!("a1-true"));
    scalar("split('a/b/c', '/')", json!(["a", "b", "c"]));
    scalar("split('a/b/c', '/', 1)", json!(["b"]));
    scalar(
        "split('/subscriptions/s1/resourceGroups/rg', '/')[4]",
        json!("rg"),
    );
    scalar("replace_string('a.b.c', '.', '/')", json!("a/b/c"));
    scalar("extract('([a-z]+)([0-9]+)', 2, 'vm42')", json!("42"));
    scalar("extract('([a-z]+)([0-9]+)', 0, 'x vm42')", json!("vm42"));
    scalar("extract('(\\\\d+)', 1, 'abc')", json!(""));
    scalar("extract('(\\\\d+)', 1, 'n=17', typeof(long))", json!(17));
    scalar("trim(' ', '  x  ')", json!("x"));
    scalar("trim('[-_]+', '--x_y__')", json!("x_y"));
    scalar("trim_start('a', 'aab')", json!("b"));
    scalar("trim_end('b+', 'abbb')", json!("a"));
    scalar("indexof('hello', 'l')", json!(2));
}

#[test]
fn conditional_and_dynamic_functions() {
    check(
        "T | project x = iff(n > 1, 'big', 'small')",
        "x",
        json!([["small"], ["big"], ["small"], ["big"]]),
    );
    check(
        "T | project x = iif(isnull(n), -1, n)",
        "x",
        json!([[1], [2], [-1], [4]]),
    );
    check(
        "T | project x = case(n == 1, 'one', n == 2, 'two', 'many')",
        "x",
        json!([["one"], ["two"], ["many"], ["many"]]),
    );
    check(
        "T | project x = coalesce(r, toreal(n), 0.0)",
        "x",
        json!([[1.5], [2.0], [3.0], [4.5]]),
    );
    scalar("coalesce(long(null), 5)", json!(5));
    scalar("coalesce('', 'b')", json!("b"));
    check(
        "T | project x = array_length(d.arr)",
        "x",
        json!([[2], [0], [null], [1]]),
    );
    scalar("array_length(dynamic('x'))", json!(null));
    scalar("bag_keys(d)", json!(["a", "tags", "arr"]));
    scalar("bag_keys(dynamic([1]))", json!(null));
    scalar("pack('k', name, 'n', n)", json!({"k": "vm1", "n": 1}));
    scalar("bag_pack('x', 1.5)", json!({"x": 1.5}));
    scalar("parse_json('{\"a\":[1,2]}').a[1]", json!(2));
    scalar("parse_json('not json')", json!("not json"));
    scalar("todynamic('[1]')", json!([1]));
    scalar("dynamic({'a': 1})", json!({"a": 1}));
    scalar("dynamic(null)", json!(null));
    scalar("abs(-3)", json!(3));
    scalar("round(2.567, 2)", json!(2.57));
}

#[test]
fn time_functions() {
    scalar("now()", json!("2024-01-02T12:00:00Z"));
    scalar("now(-1h)", json!("2024-01-02T11:00:00Z"));
    scalar("ago(1d)", json!("2024-01-01T12:00:00Z"));
    scalar("ago(30m)", json!("2024-01-02T11:30:00Z"));
    scalar(
        "datetime(2024-01-01T10:00:00Z) + 7d",
        json!("2024-01-08T10:00:00Z"),
    );
    scalar(
        "datetime(2024-01-02) - datetime(2024-01-01)",
        json!("1.00:00:00"),
    );
    scalar("1h + 30m", json!("01:30:00"));
    scalar("2 * 1h", json!("02:00:00"));
    scalar("1d / 1h", json!(24.0));
    scalar("timespan(1.02:03:04)", json!("1.02:03:04"));
    scalar("100ms", json!("00:00:00.1000000"));
    scalar(
        "bin(datetime(2024-01-01T10:47:00Z), 1h)",
        json!("2024-01-01T10:00:00Z"),
    );
    scalar("bin(17, 5)", json!(15));
    scalar("bin(-3, 5)", json!(-5));
    scalar("bin(2.5, 1)", json!(2.0));
    scalar("bin(95m, 1h)", json!("01:00:00"));
    scalar("floor(7, 2)", json!(6));
    check(
        "T | where t > ago(1d) | project name",
        "name",
        json!([["sa1"]]),
    );
    check(
        "T | summarize count() by bin(t, 1d)",
        "t count_",
        json!([
            ["2024-01-01T00:00:00Z", 2],
            [null, 1],
            ["2024-01-02T00:00:00Z", 1]
        ]),
    );
}

#[test]
fn project_extend_and_names() {
    check(
        "T | project name, n | take 2",
        "name n",
        json!([["vm1", 1], ["vm2", 2]]),
    );
    check(
        "T | project a = n * 2, name | take 1",
        "a name",
        json!([[2, "vm1"]]),
    );
    check(
        "T | project tolower(name) | take 1",
        "Column1",
        json!([["vm1"]]),
    );
    check(
        "T | extend k = n + 1 | project name, k | take 2",
        "name k",
        json!([["vm1", 2], ["vm2", 3]]),
    );
    check(
        "T | extend a = 1, b = a + 1 | project a, b | take 1",
        "a b",
        json!([[1, 2]]),
    );
    // extend of an existing name removes the column and appends it with the new values
    check(
        "T | extend n = n * 10 | project-away d, t, s | take 1",
        "name r n",
        json!([["vm1", 1.5, 10]]),
    );
    check(
        "T | extend n = n * 10 | project-away d, r, t, s | take 1",
        "name n",
        json!([["vm1", 10]]),
    );
    check(
        "T | project-away d, t, s | take 1",
        "name n r",
        json!([["vm1", 1, 1.5]]),
    );
    check(
        "R | project-away t* | take 1",
        "name subscriptionId",
        json!([["vm1", "s1"]]),
    );
}

#[test]
fn summarize_aggregates_and_names() {
    check(
        "R | summarize count() by subscriptionId",
        "subscriptionId count_",
        json!([["s1", 2], ["s2", 1], ["s3", 1]]),
    );
    check(
        "R | summarize n = count() by subscriptionId | order by n desc, subscriptionId asc",
        "subscriptionId n",
        json!([["s1", 2], ["s2", 1], ["s3", 1]]),
    );
    check("T | summarize count()", "count_", json!([[4]]));
    check(
        "T | where n > 100 | summarize count()",
        "count_",
        json!([[0]]),
    );
    check(
        "T | where n > 100 | summarize count() by name",
        "name count_",
        json!([]),
    );
    check("T | summarize countif(n > 1)", "countif_", json!([[2]]));
    check("T | summarize dcount(name)", "dcount_name", json!([[4]]));
    check(
        "T | summarize dcount(tolower(substring(name, 0, 2)))",
        "dcount_name",
        json!([[2]]),
    );
    // aggregates skip nulls
    check(
        "T | summarize sum(n), avg(n), min(n), max(n)",
        "sum_n avg_n min_n max_n",
        json!([[7, 7.0 / 3.0, 1, 4]]),
    );
    check(
        "T | summarize sum(r), min(t), max(t)",
        "sum_r min_t max_t",
        json!([[9.0, "2024-01-01T00:10:00Z", "2024-01-02T00:00:00Z"]]),
    );
    check("T | summarize make_list(n)", "list_n", json!([[[1, 2, 4]]]));
    check("T | summarize make_list(n, 2)", "list_n", json!([[[1, 2]]]));
    check(
        "T | summarize make_set(substring(name, 0, 2))",
        "set_name",
        json!([[["vm", "VM", "sa"]]]),
    );
    check("T | summarize any(name)", "any_name", json!([["vm1"]]));
    check(
        "R | summarize arg_max(name, type) by subscriptionId",
        "subscriptionId name type",
        json!([
            ["s1", "vm1", "microsoft.compute/virtualmachines"],
            ["s2", "vm2", "microsoft.compute/virtualmachines"],
            ["s3", "kv1", "microsoft.keyvault/vaults"]
        ]),
    );
    check(
        "R | summarize arg_min(name, *) by subscriptionId",
        "subscriptionId name type tags",
        json!([["s1", "sa1", "microsoft.storage/storageaccounts", {}], ["s2", "vm2", "microsoft.compute/virtualmachines", null], ["s3", "kv1", "microsoft.keyvault/vaults", {"env": "dev"}]]),
    );
    check(
        "T | summarize c = count(), total = sum(n) by big = n > 1",
        "big c total",
        json!([[false, 1, 1], [true, 2, 6], [null, 1, null]]),
    );
    check(
        "R | summarize count() by tostring(tags.env)",
        "tags_env count_",
        json!([["prod", 1], ["", 2], ["dev", 1]]),
    );
    check(
        "T | summarize by name | take 2",
        "name",
        json!([["vm1"], ["vm2"]]),
    );
}

#[test]
fn count_distinct_order_top_take() {
    check("T | count", "Count", json!([[4]]));
    check(
        "R | distinct subscriptionId",
        "subscriptionId",
        json!([["s1"], ["s2"], ["s3"]]),
    );
    check(
        "R | distinct subscriptionId, type | count",
        "Count",
        json!([[4]]),
    );
    check(
        "S | project subscriptionId | distinct *",
        "subscriptionId",
        json!([["s1"], ["s2"]]),
    );
    // order by defaults to desc with nulls last; asc puts nulls first
    check(
        "T | order by n | project name",
        "name",
        json!([["sa1"], ["vm2"], ["vm1"], ["VM3"]]),
    );
    check(
        "T | order by n asc | project name",
        "name",
        json!([["VM3"], ["vm1"], ["vm2"], ["sa1"]]),
    );
    check(
        "T | sort by n asc nulls last | project name",
        "name",
        json!([["vm1"], ["vm2"], ["sa1"], ["VM3"]]),
    );
    check(
        "T | sort by n desc nulls first | project name",
        "name",
        json!([["VM3"], ["sa1"], ["vm2"], ["vm1"]]),
    );
    check(
        "R | order by subscriptionId asc, name desc | project name",
        "name",
        json!([["vm1"], ["sa1"], ["vm2"], ["kv1"]]),
    );
    check(
        "T | order by d.a.b asc | project name",
        "name",
        json!([["VM3"], ["sa1"], ["vm1"], ["vm2"]]),
    );
    check(
        "T | top 2 by n | project name",
        "name",
        json!([["sa1"], ["vm2"]]),
    );
    check(
        "T | top 1 by n asc | project name",
        "name",
        json!([["VM3"]]),
    );
    check(
        "T | top 1 by r asc nulls last | project name",
        "name",
        json!([["vm1"]]),
    );
    check(
        "T | take 2 | project name",
        "name",
        json!([["vm1"], ["vm2"]]),
    );
    check("T | limit 0 | count", "Count", json!([[0]]));
    check("T | limit 100 | count", "Count", json!([[4]]));
}

#[test]
fn joins() {
    // innerunique (the default): one left row per key
    check("S | join (R | project subscriptionId, rname = name) on subscriptionId | project name, rname", "name rname", json!([["prod-sub", "vm1"], ["prod-sub", "sa1"], ["dev-sub", "vm2"]]));
    check(
        "R | join kind=inner (S) on subscriptionId | project name, name1",
        "name name1",
        json!([
            ["vm1", "prod-sub"],
            ["vm1", "prod-sub-again"],
            ["sa1", "prod-sub"],
            ["sa1", "prod-sub-again"],
            ["vm2", "dev-sub"]
        ]),
    );
    check("R | join kind=leftouter (S | where name != 'prod-sub-again') on $left.subscriptionId == $right.subscriptionId | project name, subscriptionId1, name1", "name subscriptionId1 name1", json!([["vm1", "s1", "prod-sub"], ["sa1", "s1", "prod-sub"], ["vm2", "s2", "dev-sub"], ["kv1", "", ""]]));
    check("R | join kind=inner (S | project sid = subscriptionId, sname = name) on $left.subscriptionId == $right.sid and $left.subscriptionId == $right.sid | where sname endswith 'again' | project name", "name", json!([["vm1"], ["sa1"]]));
    check(
        "R | join kind=innerunique S on subscriptionId | count",
        "Count",
        json!([[3]]),
    );
    check(
        "R | join S on subscriptionId | project-away subscriptionId1 | take 1",
        "name type subscriptionId tags name1",
        json!([["vm1", "microsoft.compute/virtualmachines", "s1", {"env": "prod"}, "prod-sub"]]),
    );
}

#[test]
fn unions() {
    check(
        "union (R | project name), (S | project name) | count",
        "Count",
        json!([[7]]),
    );
    check("R | project name | union (S | project name, subscriptionId) | where subscriptionId == 's2'", "name subscriptionId", json!([["dev-sub", "s2"]]));
    check(
        "R | project name, type | union (S) | take 5 | project type, subscriptionId",
        "type subscriptionId",
        json!([
            ["microsoft.compute/virtualmachines", ""],
            ["microsoft.storage/storageaccounts", ""],
            ["microsoft.compute/virtualmachines", ""],
            ["microsoft.keyvault/vaults", ""],
            ["", "s1"]
        ]),
    );
    check("union kind=inner R, S | count", "Count", json!([[7]]));
    check(
        "union kind=inner R, S | take 1",
        "name subscriptionId",
        json!([["vm1", "s1"]]),
    );
}

#[test]
fn mv_expand() {
    check(
        "T | mv-expand d.arr | project name, d_arr",
        "name d_arr",
        json!([["vm1", 1], ["vm1", 2], ["VM3", null], ["sa1", 3]]),
    );
    check(
        "T | mv-expand x = d.arr to typeof(long) | project name, x",
        "name x",
        json!([["vm1", 1], ["vm1", 2], ["VM3", null], ["sa1", 3]]),
    );
    check(
        "T | take 1 | mv-expand d | project d",
        "d",
        json!([[{"a": {"b": 1}}], [{"tags": {"env": "prod"}}], [{"arr": [1, 2]}]]),
    );
    check(
        "T | take 1 | mv-expand kind=array d | project d",
        "d",
        json!([[["a", {"b": 1}]], [["tags", {"env": "prod"}]], [["arr", [1, 2]]]]),
    );
    check(
        "T | take 1 | mv-expand with_itemindex=i e = d.arr | project i, e",
        "i e",
        json!([[0, 1], [1, 2]]),
    );
    check(
        "T | take 1 | mv-expand d.arr limit 1 | project d_arr",
        "d_arr",
        json!([[1]]),
    );
    check("T | take 1 | mvexpand d.arr | count", "Count", json!([[2]]));
}

#[test]
fn parse_operator() {
    check(
        "R | parse type with provider '/' kind | project provider, kind | take 1",
        "provider kind",
        json!([["microsoft.compute", "virtualmachines"]]),
    );
    check(
        "R | parse type with * '.' rest | project rest | take 1",
        "rest",
        json!([["compute/virtualmachines"]]),
    );
    check("T | extend msg = strcat('id=', n, ' took=', n * 10, 'ms') | parse msg with 'id=' id:long ' took=' took:long 'ms' | project id, took | take 2", "id took", json!([[1, 10], [2, 20]]));
    // no match: the columns are null (empty for strings)
    check(
        "T | take 1 | parse s with 'nope' x ':' y:long | project x, y",
        "x y",
        json!([["", null]]),
    );
    check(
        "T | take 1 | parse s with * 'o ' second | project second",
        "second",
        json!([["World"]]),
    );
}

#[test]
fn sample_and_implicit_table() {
    check("T | sample 2 | count", "Count", json!([[2]]));
    check("T | sample 10 | count", "Count", json!([[4]]));
    // a query that starts with an operator reads the default table (Resource Graph: Resources)
    check(
        "where type =~ 'Microsoft.Storage/storageAccounts' | project name",
        "name",
        json!([["sa1"]]),
    );
}

#[test]
fn the_resource_graph_samples() {
    check("R | where type =~ 'microsoft.compute/virtualmachines' | project name, subscriptionId, tags.env | order by name asc", "name subscriptionId tags_env", json!([["vm1", "s1", "prod"], ["vm2", "s2", null]]));
    check(
        "R | summarize count() by subscriptionId | order by count_ desc | take 1",
        "subscriptionId count_",
        json!([["s1", 2]]),
    );
    // an empty bag is not empty; a missing key is null, and null != 'dev' is true
    check(
        "R | where isnotempty(tags) and tags.env != 'dev' | project name",
        "name",
        json!([["vm1"], ["sa1"]]),
    );
    check("R | extend env = tostring(tags['env']) | where env in~ ('PROD', 'dev') | project name, env", "name env", json!([["vm1", "prod"], ["kv1", "dev"]]));
}

#[test]
fn parse_errors_carry_line_column_and_token() {
    error("T | where", "ParserFailure", 1, 9, "<EOF>");
    error("T | wher n > 1", "ParserFailure", 1, 4, "wher");
    error("T\n| where n >\n| take 1", "ParserFailure", 3, 0, "|");
    error(
        "T | project-rename a = n",
        "ParserFailure",
        1,
        4,
        "project-rename",
    );
    error("T | render barchart", "ParserFailure", 1, 4, "render");
    error(
        "T | where name has_any ('a')",
        "ParserFailure",
        1,
        15,
        "has_any",
    );
    error(
        "T | where 'unterminated",
        "ParserFailure",
        1,
        10,
        "'unterminated",
    );
    error(
        "T | take 1 | project x = nosuchfunc(1)",
        "ParserFailure",
        1,
        25,
        "nosuchfunc",
    );
    error(
        "T | where x == datetime(not a date)",
        "ParserFailure",
        1,
        15,
        "datetime(not a date)",
    );
    error("T | where n == 1x", "ParserFailure", 1, 15, "1x");
    error(
        "T | join kind=fullouter S on name",
        "ParserFailure",
        1,
        14,
        "fullouter",
    );
    error("T | where n == 1 ) ", "ParserFailure", 1, 17, ")");
    error("T | summarize count() by", "ParserFailure", 1, 24, "<EOF>");
}

#[test]
fn semantic_errors() {
    error("T | where nope == 1", "SemanticError", 1, 10, "nope");
    error("Nope | count", "SemanticError", 1, 0, "Nope");
    error(
        "T | summarize tolower(name)",
        "SemanticError",
        1,
        14,
        "tolower",
    );
    error("T | project count()", "SemanticError", 1, 12, "count");
    error(
        "T | project x = substring()",
        "SemanticError",
        1,
        16,
        "substring",
    );
    error("T | project x = 1, x = 2", "SemanticError", 1, 23, "x");
    error(
        "T | where name matches regex '('",
        "SemanticError",
        1,
        29,
        "(",
    );
    error(
        "R | join S on name | join S on name | join S on name | join S on name",
        "LimitExceeded",
        1,
        55,
        "join",
    );
    error("union R, S, T, R | count", "LimitExceeded", 0, 0, "union");
}

#[test]
fn extreme_values_do_not_overflow() {
    scalar("totimespan('99999999999999999.00:00:00')", json!(null));
    scalar("isnotnull(datetime(2024-01-01) + 10675199d)", json!(true));
    scalar(
        "isnotnull(ago(-10675199d) - datetime(1970-01-01))",
        json!(true),
    );
    scalar("substring('abc', 1, 9223372036854775807)", json!("bc"));
    scalar("-9223372036854775807 - 2", json!(9223372036854775807i64));
    // the floor would fall below the smallest long: null
    scalar("bin(-9223372036854775807, 1000)", json!(null));
    scalar("todatetime('2024-01-01T00:00+é:00')", json!(null));
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("T | where {}1{} == 1", "(".repeat(200), ")".repeat(200));
    let e = exec(&deep).unwrap_err();
    assert_eq!(e.code, "ParserFailure");
    assert!(e.message.contains("nests deeper"), "{e}");
    let chain = format!("T | project x = 1{}", " + 1".repeat(10_000));
    assert_eq!(exec(&chain).unwrap_err().code, "ParserFailure");
    let members = format!("T | project x = d{}", ".a".repeat(10_000));
    assert_eq!(exec(&members).unwrap_err().code, "ParserFailure");
    let neg = format!("T | project x = {}1", "-".repeat(10_000));
    assert_eq!(exec(&neg).unwrap_err().code, "ParserFailure");
    let joins = format!("T{}", " | join (T".repeat(100) + &")".repeat(100));
    assert!(exec(&joins).is_err());
    let deep_json = format!(
        "T | project x = dynamic({}1{})",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(exec(&deep_json).unwrap_err().code, "ParserFailure");
    // within the bound, a long chain evaluates
    let ok = format!("T | take 1 | project x = 1{}", " + 1".repeat(40));
    check(&ok, "x", json!([[41]]));
}

#[test]
fn resource_graph_result_shapes() {
    let t = exec("T | project name, n, r, t, d.a, ok = n > 1, s | take 1").unwrap();
    assert_eq!(
        t.to_columns_and_rows(),
        json!({
            "columns": [
                {"name": "name", "type": "string"}, {"name": "n", "type": "integer"},
                {"name": "r", "type": "number"}, {"name": "t", "type": "datetime"},
                {"name": "d_a", "type": "object"}, {"name": "ok", "type": "boolean"},
                {"name": "s", "type": "string"}
            ],
            "rows": [["vm1", 1, 1.5, "2024-01-01T00:10:00Z", {"b": 1}, false, "Hello World"]]
        })
    );
    assert_eq!(
        t.to_objects(),
        vec![
            json!({"name": "vm1", "n": 1, "r": 1.5, "t": "2024-01-01T00:10:00Z", "d_a": {"b": 1}, "ok": false, "s": "Hello World"})
        ]
    );
}

/// Log Analytics' dialect: the same tables, plus `workspace("…")` naming another workspace's.
struct Logs(World);

impl Tables for Logs {
    fn table(&self, name: &str) -> Option<Table> {
        self.0.table(name)
    }

    fn workspace_table(&self, ws: &str, name: &str) -> Result<Table, super::WorkspaceError> {
        if ws != "other-ws" {
            return Err(super::WorkspaceError::NoWorkspace);
        }
        self.0.table(name).ok_or(super::WorkspaceError::NoTable)
    }
}

fn exec_logs(query: &str) -> Result<Table, KqlError> {
    run(&super::parse_logs(query)?, &Logs(world()), &ctx())
}

fn rows_of(t: &Table) -> Json {
    Json::Array(
        t.rows
            .iter()
            .map(|r| Json::Array(r.iter().map(Value::to_json).collect()))
            .collect(),
    )
}

#[test]
fn log_analytics_dialect() {
    let ok = |q: &str, want: Json| {
        let t = exec_logs(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(rows_of(&t), want, "{q}");
    };
    // render is the last word of many saved queries: ignored, with or without its options
    ok(
        "T | where n == 1 | project name | render table",
        json!([["vm1"]]),
    );
    ok(
        "T | summarize count() by bin(t, 1d) | render timechart with (title='x')",
        json!([
            ["2024-01-01T00:00:00Z", 2],
            [Json::Null, 1],
            ["2024-01-02T00:00:00Z", 1]
        ]),
    );
    // workspace("…").Table, alone, in a union, and in a join's right side
    ok(
        "workspace('other-ws').T | where n == 2 | project name",
        json!([["vm2"]]),
    );
    ok(
        "union T, workspace(\"other-ws\").T | where n == 1 | count",
        json!([[2]]),
    );
    ok(
        "T | where n == 1 | join kind=inner (workspace('other-ws').T | project n, s2 = s) on n | project s2",
        json!([["Hello World"]]),
    );
    // no Resource Graph limits: four union legs
    ok("union T, T, T, T | count", json!([[16]]));
    // ago() and bin() on datetimes, against Ctx::now (2024-01-02T12:00Z)
    ok("T | where t > ago(13h) | project name", json!([["sa1"]]));
    let err = |q: &str, code: &str, token: &str| {
        let e = exec_logs(q)
            .err()
            .unwrap_or_else(|| panic!("{q} should fail"));
        assert_eq!((e.code, e.token.as_str()), (code, token), "{q}: {e}");
    };
    err("workspace('nope').T", "SemanticError", "nope");
    err("workspace('other-ws').Missing", "SemanticError", "Missing");
    err("workspace(other).T", "ParserFailure", "other");
    // Resource Graph's parser still refuses both
    error("T | render barchart", "ParserFailure", 1, 4, "render");
    error("workspace('other-ws').T", "SemanticError", 1, 0, "other-ws");
}

/// A table owner that keeps narrowed rows (as Log Analytics' cache does): every `where` +
/// `summarize` query answers exactly as over the wide rows.
struct Narrowing(World);

impl Tables for Narrowing {
    fn table(&self, name: &str) -> Option<Table> {
        self.0.table(name)
    }

    fn shared_table(&self, name: &str) -> Option<std::sync::Arc<Table>> {
        self.0.table(name).map(std::sync::Arc::new)
    }

    fn narrowed(
        &self,
        table: &std::sync::Arc<Table>,
        cols: &[usize],
    ) -> Option<std::sync::Arc<Vec<Value>>> {
        let block: Vec<Value> = table
            .rows
            .iter()
            .flat_map(|r| cols.iter().map(|&c| r[c].clone()))
            .collect();
        Some(std::sync::Arc::new(block))
    }
}

#[test]
fn narrowed_scans_answer_as_wide_ones() {
    for q in [
        "T | where n >= 1 | summarize count() by bin(t, 1h), name",
        "T | where isnotnull(t) | where s has 'hello' | summarize c = count(), m = max(r) by tolower(name)",
        "T | summarize sum(n), avg(r), dcount(name), make_set(s) by b = tostring(d.a.b)",
        "T | summarize arg_max(n, *) by s",
        "T | summarize count()",
        "T | where name in ('vm1', 'VM3') | summarize countif(r > 1), make_list(d.arr) by bin(n, 2)",
    ] {
        let parsed = parse(q).unwrap();
        let wide = run(&parsed, &world(), &ctx()).unwrap_or_else(|e| panic!("{q}: {e}"));
        let narrow = run(&parsed, &Narrowing(world()), &ctx()).unwrap();
        assert_eq!(narrow.columns, wide.columns, "{q}");
        assert_eq!(rows_of(&narrow), rows_of(&wide), "{q}");
    }
}

/// A table owner that keeps T as parts (two "workspaces": T split in two, and all of T again as
/// `workspace('w2')`), with a window on `t`, and narrowed rows or not: the fast path over parts.
struct Parted {
    window: Option<(String, i64, i64)>,
    narrow: bool,
}

fn parts_of_t() -> (Vec<Table>, Table) {
    let t = world().table("T").unwrap();
    let half = |rows: &[super::Row]| Table {
        columns: t.columns.clone(),
        rows: rows.to_vec(),
    };
    (vec![half(&t.rows[..2]), half(&t.rows[2..])], t.clone())
}

impl Tables for Parted {
    fn table(&self, name: &str) -> Option<Table> {
        world().table(name)
    }

    fn parts(&self, workspace: Option<&str>, name: &str) -> Option<super::Parts> {
        if !name.eq_ignore_ascii_case("T") {
            return None;
        }
        let (halves, all) = parts_of_t();
        let tables = match workspace {
            None => halves,
            Some("w2") => vec![all],
            Some(_) => return None,
        };
        Some(super::Parts {
            tables: tables.into_iter().map(std::sync::Arc::new).collect(),
            window: self.window.clone(),
        })
    }

    fn narrowed(
        &self,
        table: &std::sync::Arc<Table>,
        cols: &[usize],
    ) -> Option<std::sync::Arc<Vec<Value>>> {
        self.narrow
            .then(|| Narrowing(world()).narrowed(table, cols))
            .flatten()
    }
}

/// The general path over the same rows: each table the union of its parts with the window applied,
/// copied first (what Log Analytics' owner gives when it cannot hand parts).
struct Unioned(Option<(String, i64, i64)>);

impl Unioned {
    fn windowed(&self, mut t: Table) -> Table {
        if let Some((col, start, end)) = &self.0 {
            let i = t.index(col).unwrap();
            t.rows
                .retain(|r| matches!(r[i], Value::DateTime(x) if x >= *start && x < *end));
        }
        t
    }
}

impl Tables for Unioned {
    fn table(&self, name: &str) -> Option<Table> {
        let t = world().table(name)?;
        Some(if name.eq_ignore_ascii_case("T") {
            self.windowed(t)
        } else {
            t
        })
    }

    fn workspace_table(&self, ws: &str, name: &str) -> Result<Table, super::WorkspaceError> {
        if ws != "w2" {
            return Err(super::WorkspaceError::NoWorkspace);
        }
        self.table(name).ok_or(super::WorkspaceError::NoTable)
    }
}

#[test]
fn parts_with_a_window_answer_as_their_union() {
    let tick = |s: &str| parse_datetime(s).unwrap();
    let windows = [
        None,
        Some((
            "t".to_string(),
            tick("2024-01-01T00:00:00Z"),
            tick("2024-01-01T12:00:00Z"),
        )),
        Some((
            "t".to_string(),
            tick("2024-01-01T01:30:00Z"),
            tick("2024-01-03T00:00:00Z"),
        )),
    ];
    let queries = [
        "T",
        "T | where n >= 1",
        "T | take 3",
        "T | where n >= 1 | summarize count() by bin(t, 1h), name",
        "T | where isnotnull(t) | where s has 'hello' | summarize c = count(), m = max(r) by tolower(name)",
        "T | summarize sum(n), avg(r), dcount(name), make_set(s) by b = tostring(d.a.b)",
        "T | summarize arg_max(n, *) by s",
        "T | summarize count()",
        "T | where name in ('vm1', 'VM3') | summarize countif(r > 1), make_list(d.arr) by bin(n, 2)",
        "T | where n > 0 | project name, n | order by n desc",
        "union T, workspace('w2').T | where n >= 1 | summarize count() by name",
        "union T, workspace('w2').T | summarize make_list(name)",
        "union workspace('w2').T, T | where s != '' | project name, t",
        "workspace('w2').T | where r > 1 | summarize count() by name",
        "workspace('w2').T | summarize max(t)",
        "union T, (R | project name) | summarize count() by name",
    ];
    for w in &windows {
        for narrow in [false, true] {
            let fast = Parted {
                window: w.clone(),
                narrow,
            };
            for q in queries {
                let parsed = super::parse_logs(q).unwrap();
                let want = run(&parsed, &Unioned(w.clone()), &ctx())
                    .unwrap_or_else(|e| panic!("{q}: {e}"));
                let got = run(&parsed, &fast, &ctx()).unwrap_or_else(|e| panic!("{q}: {e}"));
                assert_eq!(got.columns, want.columns, "{q} {w:?} narrow {narrow}");
                assert_eq!(rows_of(&got), rows_of(&want), "{q} {w:?} narrow {narrow}");
            }
        }
    }
}
