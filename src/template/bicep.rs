//! A deployment template written out as Bicep, for `exportTemplate` with `outputFormat: Bicep`
//! (ResourceGroups_ExportTemplate, resources spec 2025-04-01): parameters become `param`s, resources
//! `resource` declarations named after their name parameter, `[expression]` strings Bicep
//! expressions (ARM and Bicep share the function names; `parameters('x')` becomes `x`), and
//! `dependsOn` entries the symbolic names they point at. PURE: a string from a JSON value.

use serde_json::{Map, Value};

/// The Bicep text of a template (what `az bicep decompile` makes of an exported template).
pub fn decompile(template: &Value) -> String {
    let mut out = String::from("\n");
    for (name, p) in template["parameters"].as_object().into_iter().flatten() {
        let t = p["type"].as_str().unwrap_or("string").to_ascii_lowercase();
        let (secure, ty) = match t.as_str() {
            "securestring" => (true, "string"),
            "secureobject" => (true, "object"),
            "int" => (false, "int"),
            "bool" => (false, "bool"),
            "object" => (false, "object"),
            "array" => (false, "array"),
            _ => (false, "string"),
        };
        if secure {
            out.push_str("\n@secure()\n");
        }
        out.push_str(&format!("param {name} {ty}"));
        if let Some(d) = p.get("defaultValue") {
            out.push_str(&format!(" = {}", value(d, 0)));
        }
        out.push('\n');
    }
    let resources: Vec<&Map<String, Value>> = template["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let symbols = symbols(&resources);
    for (r, sym) in resources.iter().zip(&symbols) {
        let rtype = r.get("type").and_then(Value::as_str).unwrap_or_default();
        let api = r
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.push_str(&format!("\nresource {sym} '{rtype}@{api}' = {{\n"));
        for (k, v) in r.iter() {
            match k.as_str() {
                "type" | "apiVersion" => {}
                "dependsOn" => {
                    let deps: Vec<&str> = v
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .filter_map(|d| depends_on(d, &resources, &symbols))
                        .collect();
                    if !deps.is_empty() {
                        out.push_str("  dependsOn: [\n");
                        for d in deps {
                            out.push_str(&format!("    {d}\n"));
                        }
                        out.push_str("  ]\n");
                    }
                }
                _ => out.push_str(&format!("  {}: {}\n", key(k), value(v, 1))),
            }
        }
        out.push_str("}\n");
    }
    out
}

/// Each resource's symbolic name: its name parameter plus `_resource`, else its type and name.
fn symbols(resources: &[&Map<String, Value>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in resources {
        let name = r.get("name").and_then(Value::as_str).unwrap_or_default();
        let base = match param_ref(name) {
            Some(p) => format!("{p}_resource"),
            None => {
                // `[concat(parameters('p'), '/v1')]` → `p_v1`; a plain name → `{type}_{name}`
                let raw = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
                    Some(e) => expression(e).replacen("concat(", "", 1),
                    None => {
                        let t = r.get("type").and_then(Value::as_str).unwrap_or_default();
                        format!("{}_{name}", t.rsplit('/').next().unwrap_or(t))
                    }
                };
                let mut sym = String::new();
                for c in raw.chars() {
                    let c = if c.is_ascii_alphanumeric() { c } else { '_' };
                    if !(c == '_' && (sym.is_empty() || sym.ends_with('_'))) {
                        sym.push(c);
                    }
                }
                sym.trim_end_matches('_').to_string()
            }
        };
        let mut sym = base.clone();
        let mut n = 1;
        while out.contains(&sym) {
            n += 1;
            sym = format!("{base}_{n}");
        }
        out.push(sym);
    }
    out
}

/// `[parameters('x')]` → `x`.
fn param_ref(s: &str) -> Option<&str> {
    s.strip_prefix("[parameters('")?.strip_suffix("')]")
}

/// `[resourceId('NS/type', <name>)]` → the symbol of the resource of that type and name.
fn depends_on<'a>(
    d: &str,
    resources: &[&Map<String, Value>],
    symbols: &'a [String],
) -> Option<&'a str> {
    let inner = d.strip_prefix("[resourceId('")?.strip_suffix(")]")?;
    let (rtype, name) = inner.split_once("', ")?;
    resources.iter().zip(symbols).find_map(|(r, sym)| {
        let t = r.get("type").and_then(Value::as_str)?;
        let n = r.get("name").and_then(Value::as_str)?;
        let same_name = match n.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
            Some(expr) => expr == name,
            None => name == format!("'{n}'"),
        };
        (t.eq_ignore_ascii_case(rtype) && same_name).then_some(sym.as_str())
    })
}

fn key(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        k.to_string()
    } else {
        quote(k)
    }
}

fn quote(s: &str) -> String {
    format!(
        "'{}'",
        s.replace('\\', "\\\\")
            .replace('\'', "\\'")
            .replace('\n', "\\n")
    )
}

/// An ARM expression as Bicep: `parameters('x')` and `variables('x')` become `x`.
fn expression(e: &str) -> String {
    let mut out = e.to_string();
    for f in ["parameters('", "variables('"] {
        while let Some(start) = out.find(f) {
            let rest = &out[start + f.len()..];
            let Some(end) = rest.find("')") else { break };
            let name = rest[..end].to_string();
            out.replace_range(start..start + f.len() + end + 2, &name);
        }
    }
    out
}

fn value(v: &Value, depth: usize) -> String {
    let pad = "  ".repeat(depth);
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.starts_with("[[") => quote(&s[1..]),
        Value::String(s) if s.starts_with('[') && s.ends_with(']') => {
            expression(&s[1..s.len() - 1])
        }
        Value::String(s) => quote(s),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Array(a) => {
            let items: String = a
                .iter()
                .map(|x| format!("{pad}  {}\n", value(x, depth + 1)))
                .collect();
            format!("[\n{items}{pad}]")
        }
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) => {
            let items: String = m
                .iter()
                .map(|(k, x)| format!("{pad}  {}: {}\n", key(k), value(x, depth + 1)))
                .collect();
            format!("{{\n{items}{pad}}}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_and_expressions() {
        for (v, want) in [
            (json!("West US"), "'West US'"),
            (json!("it's"), "'it\\'s'"),
            (json!("[parameters('x_name')]"), "x_name"),
            (
                json!("[concat(parameters('a'), '/default')]"),
                "concat(a, '/default')",
            ),
            (json!("[[literal]"), "'[literal]'"),
            (json!(42), "42"),
            (json!(true), "true"),
            (json!(null), "null"),
            (json!([]), "[]"),
            (json!({"a-b": 1}), "{\n  'a-b': 1\n}"),
        ] {
            assert_eq!(value(&v, 0), want, "{v}");
        }
    }

    #[test]
    fn an_exported_template() {
        let t = json!({
            "parameters": {
                "sa_name": {"defaultValue": "fabrikamdata", "type": "String"},
                "secret": {"type": "SecureString"}
            },
            "resources": [
                {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01",
                 "name": "[parameters('sa_name')]", "location": "westeurope",
                 "properties": {"secret": "[parameters('secret')]"}},
                {"type": "Microsoft.Storage/storageAccounts/blobServices", "apiVersion": "2023-05-01",
                 "name": "[concat(parameters('sa_name'), '/default')]",
                 "dependsOn": ["[resourceId('Microsoft.Storage/storageAccounts', parameters('sa_name'))]"]}
            ]
        });
        let b = decompile(&t);
        assert!(b.contains("param sa_name string = 'fabrikamdata'\n"), "{b}");
        assert!(b.contains("@secure()\nparam secret string\n"), "{b}");
        assert!(b.contains("resource sa_name_resource 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: sa_name\n  location: 'westeurope'\n  properties: {\n    secret: secret\n  }\n}\n"), "{b}");
        assert!(
            b.contains(
                "resource sa_name_default 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {\n  name: concat(sa_name, '/default')\n  dependsOn: [\n    sa_name_resource\n  ]\n"
            ),
            "{b}"
        );
    }
}
