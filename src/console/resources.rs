//! The *Resources* page: a tree of the subscriptions, resource groups and resources the signed-in
//! principal may read (ARM lists as that principal), with locks and deny assignments marked where they
//! apply; and the object view (`/console/object?id=`), one ARM GET of any id the explanations link to.
//! With many subscriptions only the chosen one is expanded, so a page stays small.

use std::fmt::Write;

use serde_json::Value;

use super::html::{cli, copyable, esc, notice, q};
use super::pages::{frame, needs_principal};
use super::session::{Answer, Session};
use crate::arm::resource_id::ResourceId;

/// Expand every subscription when the principal sees at most this many.
const EXPAND_ALL: usize = 12;

/// The path (with query) of a `nextLink`, or of the URL itself.
fn path_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => url,
    }
}

/// Every item of a list, following `nextLink` (at most 50 pages).
fn all(s: &Session, url: &str) -> Result<Vec<Value>, Answer> {
    let mut out = Vec::new();
    let mut next = Some(url.to_string());
    for _ in 0..50 {
        let Some(u) = next.take() else { break };
        let a = s.arm("GET", &u, None);
        if !a.ok() {
            return Err(a);
        }
        out.extend(a.items().iter().cloned());
        next = a.body["nextLink"].as_str().map(|l| path_of(l).to_string());
    }
    Ok(out)
}

/// A lock or deny assignment, by the scope it applies to.
struct Guard {
    scope: String,
    label: String,
    id: String,
}

fn guards(s: &Session, sid: &str, groups: &[String]) -> Vec<Guard> {
    let mut out = Vec::new();
    let mut lists = vec![(
        format!("/subscriptions/{sid}/providers/Microsoft.Authorization/locks?api-version=2020-05-01"),
        format!("/subscriptions/{sid}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01"),
    )];
    let first_locks = all(s, &lists[0].0);
    let first_denies = all(s, &lists[0].1);
    let (locks, denies) = match (first_locks, first_denies) {
        (Ok(l), Ok(d)) => (l, d),
        _ => {
            // not readable at the subscription: ask each group the principal sees
            lists.clear();
            let mut l = Vec::new();
            let mut d = Vec::new();
            for g in groups {
                l.extend(all(s, &format!("/subscriptions/{sid}/resourceGroups/{g}/providers/Microsoft.Authorization/locks?api-version=2020-05-01")).unwrap_or_default());
                d.extend(all(s, &format!("/subscriptions/{sid}/resourceGroups/{g}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01")).unwrap_or_default());
            }
            (l, d)
        }
    };
    for l in locks {
        let id = l["id"].as_str().unwrap_or("").to_string();
        let scope = id
            .to_ascii_lowercase()
            .find("/providers/microsoft.authorization/locks/")
            .map(|i| id[..i].to_ascii_lowercase())
            .unwrap_or_default();
        out.push(Guard {
            scope,
            label: format!(
                "{} lock '{}'",
                l["properties"]["level"].as_str().unwrap_or(""),
                l["name"].as_str().unwrap_or("")
            ),
            id,
        });
    }
    for d in denies {
        out.push(Guard {
            scope: d["properties"]["scope"]
                .as_str()
                .unwrap_or("")
                .to_ascii_lowercase(),
            label: {
                let name = d["properties"]["denyAssignmentName"].as_str().unwrap_or("");
                if d["properties"]["isSystemProtected"].as_bool() == Some(true)
                    || name.starts_with("System deny assignment")
                {
                    "system deny assignment".to_string()
                } else {
                    format!("deny assignment '{name}'")
                }
            },
            id: d["id"].as_str().unwrap_or("").to_string(),
        });
    }
    out
}

fn marks(guards: &[Guard], id: &str) -> String {
    let key = id.to_ascii_lowercase();
    let mut b = String::new();
    for g in guards.iter().filter(|g| g.scope == key) {
        let _ = write!(
            b,
            " <a class=\"mark\" href=\"/console/object?id={}\">{}</a>",
            esc(&q(&g.id)),
            esc(&g.label)
        );
    }
    b
}

fn item(id: &str, name: &str, kind: &str, guards: &[Guard]) -> String {
    format!(
        "<a href=\"/console/object?id={}\">{}</a> <span class=\"muted\">{}</span>{} \
<button type=\"button\" class=\"copy\" data-copy=\"{id}\" aria-label=\"Copy id of {name}\">Copy id</button>",
        esc(&q(id)),
        esc(name),
        esc(kind),
        marks(guards, id),
        id = esc(id),
        name = esc(name),
    )
}

pub fn resources(s: &Session) -> String {
    const PATH: &str = "/console/resources";
    if s.who.is_none() {
        return needs_principal(
            s,
            PATH,
            "Resources",
            "Resources shows what a principal may read.",
        );
    }
    let mut b = String::new();
    let subs = match all(s, "/subscriptions?api-version=2022-12-01") {
        Ok(v) => v,
        Err(a) => {
            b.push_str(&notice("error", &a.error()));
            return frame(s, PATH, "Resources", &b);
        }
    };
    let chosen = s.req.query("subscription").map(str::to_ascii_lowercase);
    let expand_all = subs.len() <= EXPAND_ALL && chosen.is_none();
    b.push_str(&cli("az resource list -o table"));
    let _ = write!(
        b,
        "<p>{} subscription{} readable.{}</p><ul class=\"tree\" aria-label=\"Subscriptions, resource groups and resources\">",
        subs.len(),
        if subs.len() == 1 { "" } else { "s" },
        if expand_all {
            ""
        } else {
            " Choose one to see its groups and resources."
        }
    );
    for sub in &subs {
        let sid = sub["subscriptionId"].as_str().unwrap_or("");
        let name = sub["displayName"].as_str().unwrap_or(sid);
        let tenant = s.tenant_name(sub["tenantId"].as_str().unwrap_or(""));
        let open = expand_all || chosen.as_deref() == Some(&sid.to_ascii_lowercase());
        if !open {
            let _ = write!(
                b,
                "<li><a href=\"{PATH}?subscription={}\">{}</a> <span class=\"muted\">subscription of {}</span> {}</li>",
                esc(sid),
                esc(name),
                esc(&tenant),
                copyable(sid)
            );
            continue;
        }
        let _ = write!(
            b,
            "<li><strong>{}</strong> <span class=\"muted\">subscription of {}</span> {}",
            esc(name),
            esc(&tenant),
            copyable(sid)
        );
        let groups = all(
            s,
            &format!("/subscriptions/{sid}/resourcegroups?api-version=2021-04-01"),
        );
        let groups = match groups {
            Ok(g) => g,
            Err(a) => {
                let _ = write!(b, "{}</li>", notice("error", &a.error()));
                continue;
            }
        };
        let names: Vec<String> = groups
            .iter()
            .filter_map(|g| g["name"].as_str().map(str::to_string))
            .collect();
        let guards = guards(s, sid, &names);
        b.push_str(&marks(&guards, &format!("/subscriptions/{sid}")));
        let res = all(
            s,
            &format!("/subscriptions/{sid}/resources?api-version=2021-04-01"),
        )
        .unwrap_or_default();
        b.push_str("<ul>");
        for g in &groups {
            let gid = g["id"].as_str().unwrap_or("");
            let gname = g["name"].as_str().unwrap_or("");
            let _ = write!(b, "<li>{}<ul>", item(gid, gname, "resource group", &guards));
            let prefix = format!("{}/", gid.to_ascii_lowercase());
            for r in res.iter().filter(|r| {
                r["id"]
                    .as_str()
                    .is_some_and(|i| i.to_ascii_lowercase().starts_with(&prefix))
            }) {
                let _ = write!(
                    b,
                    "<li>{}</li>",
                    item(
                        r["id"].as_str().unwrap_or(""),
                        r["name"].as_str().unwrap_or(""),
                        r["type"].as_str().unwrap_or(""),
                        &guards
                    )
                );
            }
            b.push_str("</ul></li>");
        }
        b.push_str("</ul></li>");
    }
    b.push_str("</ul>");
    frame(s, PATH, "Resources", &b)
}

/// The api-version to read `id` with.
fn api_version_for(id: &ResourceId) -> String {
    match id.full_type() {
        Some(t) => {
            let (ns, rtype) = t.split_once('/').unwrap_or((t.as_str(), ""));
            crate::providers::catalog::api_versions(ns, rtype)
                .into_iter()
                .find(|v| !v.contains("preview"))
                .unwrap_or("2021-04-01")
                .to_string()
        }
        None if id.resource_group.as_deref().is_some_and(|g| !g.is_empty()) => "2021-04-01".into(),
        None => "2022-12-01".into(),
    }
}

/// One object by id, read as the principal.
pub fn object(s: &Session) -> String {
    const PATH: &str = "/console/object";
    let id = s.req.query("id").unwrap_or("");
    let mut b = format!("<p>{}</p>", copyable(id));
    let parsed = match ResourceId::parse(id) {
        Ok(p) => p,
        Err(e) => {
            b.push_str(&notice("error", &format!("Not a resource id: {}", e.0)));
            return frame(s, PATH, "Object", &b);
        }
    };
    if s.who.is_none() {
        return needs_principal(s, PATH, "Object", "Reading an object needs a principal.");
    }
    let api = api_version_for(&parsed);
    let a = s.arm("GET", &format!("{id}?api-version={api}"), None);
    b.push_str(&cli(&format!(
        "az resource show --ids \"{id}\" --api-version {api}"
    )));
    if a.ok() {
        let _ = write!(
            b,
            "<pre tabindex=\"0\" aria-label=\"The object as JSON\">{}</pre>",
            esc(&serde_json::to_string_pretty(&a.body).unwrap_or_default())
        );
    } else {
        b.push_str(&notice("error", &a.error()));
    }
    frame(s, PATH, "Object", &b)
}
