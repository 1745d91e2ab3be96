//! The live *Activity log* (the request journal, newest first, filterable by subscription, caller and
//! status, each record with the caller's home tenant; `activity.json` feeds the page's polling) and
//! *Explain* (a method and URL, or a request picked from the log → the decision with every reason
//! linking to the grant, deny assignment or lock; `POST /_emulator/explain` through the admin surface),
//! with *Send* to make the request as the signed-in principal and see the answer beside its reasons.

use std::fmt::Write;

use serde_json::{json, Value};

use super::html::{cli, copyable, esc, notice, q, status_badge};
use super::journal::Entry;
use super::pages::frame;
use super::session::Session;
use super::{field, form};
use crate::wire::Reply;

/// The log page's filters, from the query.
struct Filters {
    subscription: String,
    caller: String,
    status: String,
    /// Show the console's own successful reads too (hidden by default: they are the page's plumbing).
    console_reads: bool,
}

impl Filters {
    fn of(s: &Session) -> Filters {
        let get = |k: &str| s.req.query(k).unwrap_or("").trim().to_string();
        Filters {
            subscription: get("subscription").to_ascii_lowercase(),
            caller: get("caller").to_ascii_lowercase(),
            status: get("status"),
            console_reads: get("console") == "all",
        }
    }

    fn keep(&self, e: &Entry) -> bool {
        if e.path.starts_with("/_emulator") && e.method == "GET" {
            return false;
        }
        if e.console && !self.console_reads && e.status < 400 && e.method == "GET" {
            return false;
        }
        if !self.subscription.is_empty() && e.subscription != self.subscription {
            return false;
        }
        if !self.caller.is_empty()
            && !e.caller.to_ascii_lowercase().contains(&self.caller)
            && !e.caller_object_id.eq_ignore_ascii_case(&self.caller)
        {
            return false;
        }
        match self.status.as_str() {
            "" => true,
            "refused" => e.status >= 400,
            "ok" => e.status < 400,
            code => code.parse::<u16>().map(|c| c == e.status).unwrap_or(true),
        }
    }

    fn query(&self) -> String {
        let mut pairs = Vec::new();
        for (k, v) in [
            ("subscription", &self.subscription),
            ("caller", &self.caller),
            ("status", &self.status),
        ] {
            if !v.is_empty() {
                pairs.push((k, v.as_str()));
            }
        }
        if self.console_reads {
            pairs.push(("console", "all"));
        }
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }
}

/// The Explain link of a journaled request (ARM requests with a known caller).
fn explain_link(e: &Entry) -> Option<String> {
    if e.caller_object_id.is_empty() || !e.path.starts_with("/subscriptions") {
        return None;
    }
    let url = if e.query.is_empty() {
        e.path.clone()
    } else {
        format!("{}?{}", e.path, e.query)
    };
    Some(format!(
        "/console/explain?principal={}&method={}&url={}",
        q(&e.caller_object_id),
        q(&e.method),
        q(&url)
    ))
}

fn row(e: &Entry) -> String {
    format!(
        "<tr data-seq=\"{}\"><td>{}</td><td>{}{}</td><td><code>{} {}</code></td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        e.seq,
        esc(&e.time),
        status_badge(e.status),
        if e.code.is_empty() { String::new() } else { format!(" {}", esc(&e.code)) },
        esc(&e.method),
        esc(&e.path),
        esc(&e.caller),
        if e.console { " (console)" } else { "" },
        if e.home_tenant_name.is_empty() {
            esc(&e.home_tenant_id)
        } else {
            format!("{} ({})", esc(&e.home_tenant_name), esc(&e.home_tenant_id))
        },
        esc(&e.decision),
        explain_link(e)
            .map(|l| format!(
                "<a href=\"{}\" aria-label=\"Explain {} {} by {}\">Explain</a>",
                esc(&l),
                esc(&e.method),
                esc(&e.path),
                esc(&e.caller)
            ))
            .unwrap_or_default()
    )
}

pub fn activity(s: &Session) -> String {
    const PATH: &str = "/console/activity";
    let f = Filters::of(s);
    let from = s.app.console.journal.next_seq();
    let entries = s.app.console.journal.newest(None, 300, |e| f.keep(e));
    let mut subs = String::from("<option value=\"\">All</option>");
    for sub in &s.app.snapshot().dir.subscriptions {
        let id = sub.subscription_id.to_ascii_lowercase();
        let _ = write!(
            subs,
            "<option value=\"{}\"{}>{}</option>",
            esc(&id),
            if id == f.subscription {
                " selected"
            } else {
                ""
            },
            esc(&sub.display_name)
        );
    }
    let mut statuses = String::new();
    for (v, label) in [
        ("", "All"),
        ("refused", "Refused (4xx, 5xx)"),
        ("ok", "Succeeded"),
        ("401", "401"),
        ("403", "403"),
        ("409", "409"),
    ] {
        let _ = write!(
            statuses,
            "<option value=\"{v}\"{}>{label}</option>",
            if v == f.status { " selected" } else { "" }
        );
    }
    let mut b = format!(
        "<p>Every request this emulator answered, newest first — from any client (az, the SDKs, curl) and from this console. \
The caller's home tenant is the tenant that issued its token.</p>\
<form method=\"get\" action=\"{PATH}\" class=\"row\" aria-label=\"Filter the log\">\
<div><label for=\"f-sub\">Subscription</label><select id=\"f-sub\" name=\"subscription\">{subs}</select></div>\
<div><label for=\"f-caller\">Caller</label><input id=\"f-caller\" name=\"caller\" value=\"{}\" placeholder=\"alice\"></div>\
<div><label for=\"f-status\">Status</label><select id=\"f-status\" name=\"status\">{statuses}</select></div>\
<div><label for=\"f-console\">Console reads</label><select id=\"f-console\" name=\"console\"><option value=\"\">Hide successful</option><option value=\"all\"{}>Show all</option></select></div>\
<div><button type=\"submit\">Filter</button></div>\
<div><label><input type=\"checkbox\" id=\"live\" checked> Live updates</label></div></form>{}",
        esc(&f.caller),
        if f.console_reads { " selected" } else { "" },
        cli("az monitor activity-log list --subscription SUBSCRIPTION --offset 1h -o table"),
    );
    b.push_str("<table><caption class=\"visually-hidden\">Requests, newest first</caption><thead><tr><th scope=\"col\">Time (emulator clock)</th><th scope=\"col\">Status</th><th scope=\"col\">Request</th><th scope=\"col\">Caller</th><th scope=\"col\">Caller's home tenant</th><th scope=\"col\">Decision</th><th scope=\"col\"><span class=\"visually-hidden\">Explain</span></th></tr></thead>");
    let _ = write!(
        b,
        "<tbody id=\"activity-rows\" data-from=\"{from}\" data-filters=\"{}\">",
        esc(&f.query())
    );
    for e in &entries {
        b.push_str(&row(e));
    }
    b.push_str("</tbody></table>");
    if entries.is_empty() {
        b.push_str("<p class=\"muted\" id=\"empty\">No request matches yet.</p>");
    }
    frame(s, PATH, "Activity log", &b)
}

pub fn activity_json(s: &Session) -> Reply {
    let f = Filters::of(s);
    let from = s.req.query("from").and_then(|v| v.parse::<u64>().ok());
    let next = s.app.console.journal.next_seq();
    let entries: Vec<Value> = s
        .app
        .console
        .journal
        .newest(from, 300, |e| f.keep(e))
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(&**e).unwrap_or(Value::Null);
            v["explain"] = explain_link(e).map(Value::String).unwrap_or(Value::Null);
            v
        })
        .collect();
    Reply::json(200, &json!({"entries": entries, "next": next})).header("cache-control", "no-store")
}

/// One reason of an explanation, with a link to what it names.
fn reason(r: &Value) -> String {
    let effect = r["effect"].as_str().unwrap_or("");
    let mut b = format!(
        "<div class=\"reason {}\"><p><strong>{}</strong> — {}{}</p><p>{}</p>",
        esc(effect),
        esc(r["kind"].as_str().unwrap_or("")),
        esc(effect),
        r["code"]
            .as_str()
            .map(|c| format!(" (<code>{}</code>)", esc(c)))
            .unwrap_or_default(),
        esc(r["message"].as_str().unwrap_or(""))
    );
    if let Some(id) = r["id"].as_str().filter(|i| i.starts_with('/')) {
        let label = r["name"].as_str().unwrap_or(id);
        let _ = write!(
            b,
            "<p>See <a href=\"/console/object?id={}\">{} {}</a> {}</p>",
            esc(&q(id)),
            esc(r["kind"].as_str().unwrap_or("")),
            esc(label),
            copyable(id)
        );
    }
    if let Some(d) = r["registrationDefinitionId"].as_str() {
        let _ = write!(
            b,
            "<p>Offer: <a href=\"/console/object?id={}\">registration definition</a></p>",
            esc(&q(d))
        );
    }
    b.push_str("</div>");
    b
}

/// The explanation of `method url` for `principal`, as HTML.
fn explanation(
    s: &Session,
    principal: &str,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> String {
    let mut req = json!({"principal": principal, "method": method, "url": url});
    if let Some(b) = body {
        req["body"] = b.clone();
    }
    let a = s.admin("POST", "/_emulator/explain", Some(&req));
    if !a.ok() {
        return notice("error", &a.error());
    }
    let d = &a.body;
    let mut b = format!(
        "<section aria-labelledby=\"decision\" class=\"card\"><h2 id=\"decision\">Decision: {}</h2>\
<p>{} <code>{}</code> at <code>{}</code> for {} ({})</p>",
        esc(d["decision"].as_str().unwrap_or("")),
        esc(method),
        esc(d["action"].as_str().unwrap_or("")),
        esc(d["scope"].as_str().unwrap_or("")),
        esc(d["principal"]["name"].as_str().unwrap_or(principal)),
        esc(&s.tenant_name(d["principal"]["tenantId"].as_str().unwrap_or("")))
    );
    for r in d["reasons"].as_array().map(|v| v.as_slice()).unwrap_or(&[]) {
        b.push_str(&reason(r));
    }
    b.push_str("</section>");
    b
}

pub fn explain(s: &Session, sent: Option<String>) -> String {
    const PATH: &str = "/console/explain";
    let method = s.req.query("method").unwrap_or("GET").to_ascii_uppercase();
    let url = s.req.query("url").unwrap_or("");
    let body_text = s.req.query("body").unwrap_or("");
    let me = s.who.as_ref().map(|w| w.object_id.clone());
    let principal = s
        .req
        .query("principal")
        .map(str::to_string)
        .or(me)
        .unwrap_or_default();
    let snap = s.app.snapshot();
    let mut options = String::new();
    for p in snap
        .dir
        .principals
        .iter()
        .filter(|p| p.kind != crate::world::PrincipalKind::Group)
    {
        let _ = write!(
            options,
            "<option value=\"{}\"{}>{}</option>",
            esc(&p.object_id),
            if p.object_id.eq_ignore_ascii_case(&principal) {
                " selected"
            } else {
                ""
            },
            esc(p.client_name())
        );
    }
    let mut methods = String::new();
    for m in ["GET", "PUT", "PATCH", "DELETE", "POST"] {
        let _ = write!(
            methods,
            "<option{}>{m}</option>",
            if m == method { " selected" } else { "" }
        );
    }
    let mut b = String::new();
    if let Some(html) = sent {
        b.push_str(&html);
    }
    let _ = write!(
        b,
        "<p>Why would a principal's request be allowed or refused? Paste a method and URL (or pick a refused request \
from the log below), optionally the request body.</p>\
<form method=\"get\" action=\"{PATH}\" aria-label=\"Explain a request\">\
<div class=\"row\"><div><label for=\"x-principal\">Principal</label><select id=\"x-principal\" name=\"principal\">{options}</select></div>\
<div><label for=\"x-method\">Method</label><select id=\"x-method\" name=\"method\">{methods}</select></div>\
<div class=\"wide\"><label for=\"x-url\">URL</label><input id=\"x-url\" name=\"url\" value=\"{}\" placeholder=\"/subscriptions/…/resourceGroups/…?api-version=2021-04-01\" required></div></div>\
<div><label for=\"x-body\">Body (JSON, optional)</label><textarea id=\"x-body\" name=\"body\">{}</textarea></div>\
<div class=\"row\"><div><button class=\"primary\" type=\"submit\">Explain</button></div>\
<div><button type=\"submit\" formmethod=\"post\" formaction=\"/console/send\">Send as the signed-in principal</button></div></div></form>",
        esc(url),
        esc(body_text)
    );
    if !url.is_empty() && !principal.is_empty() {
        let body: Option<Value> = serde_json::from_str(body_text).ok();
        b.push_str(&explanation(s, &principal, &method, url, body.as_ref()));
        b.push_str(&cli(&format!(
            "curl -s --cacert ca.pem https://{}/_emulator/explain -H 'content-type: application/json' -d '{}'",
            s.req.host,
            json!({"principal": principal, "method": method, "url": url})
        )));
    }
    // refused requests to pick from
    let refused = s
        .app
        .console
        .journal
        .newest(None, 15, |e| e.status >= 400 && explain_link(e).is_some());
    b.push_str("<h2>Recent refused requests</h2>");
    if refused.is_empty() {
        b.push_str("<p class=\"muted\">None yet.</p>");
    } else {
        b.push_str("<ul>");
        for e in &refused {
            let _ = write!(
                b,
                "<li><a href=\"{}\">{} {} {} by {}</a> <span class=\"muted\">{} {}</span></li>",
                esc(&explain_link(e).unwrap_or_default()),
                e.status,
                esc(&e.method),
                esc(&e.path),
                esc(&e.caller),
                esc(&e.code),
                esc(&e.time)
            );
        }
        b.push_str("</ul>");
    }
    frame(s, PATH, "Explain", &b)
}

/// Send the request as the signed-in principal, then show its answer above the explanation.
pub fn send(s: &Session) -> String {
    let f = form(s.req);
    let method = field(&f, "method").to_ascii_uppercase();
    let url = field(&f, "url");
    let body_text = field(&f, "body");
    let Some(who) = &s.who else {
        return explain(
            s,
            Some(notice(
                "error",
                "Sign in first: requests are sent as the signed-in principal.",
            )),
        );
    };
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => url,
    };
    let body: Option<Value> = if body_text.trim().is_empty() {
        None
    } else {
        match serde_json::from_str(body_text) {
            Ok(v) => Some(v),
            Err(e) => {
                return explain(
                    s,
                    Some(notice("error", &format!("The body is not JSON: {e}"))),
                );
            }
        }
    };
    let a = s.arm(&method, path, body.as_ref());
    let mut html = format!(
        "<section class=\"card\" aria-labelledby=\"answer\"><h2 id=\"answer\">Answer: {} {}</h2><p>{} {} as {}</p>",
        status_badge(a.status),
        esc(a.body["error"]["code"].as_str().unwrap_or("")),
        esc(&method),
        esc(path),
        esc(who.client_name()),
    );
    if !a.decision.is_empty() {
        let _ = write!(html, "<p>Decision header: {}</p>", esc(&a.decision));
    }
    let _ = write!(
        html,
        "<pre tabindex=\"0\" aria-label=\"The answer's body\">{}</pre>{}</section>",
        esc(&serde_json::to_string_pretty(&a.body).unwrap_or_default()),
        cli(&format!(
            "az rest --method {} --url \"{}\"{}",
            method.to_ascii_lowercase(),
            path,
            body.as_ref()
                .map(|b| format!(" --body '{b}'"))
                .unwrap_or_default()
        ))
    );
    explain(s, Some(html))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(status: u16, caller: &str, sub: &str, console: bool, method: &str) -> Entry {
        Entry {
            seq: 1,
            time: String::new(),
            method: method.into(),
            path: format!("/subscriptions/{sub}/resourcegroups"),
            query: String::new(),
            status,
            caller: caller.into(),
            caller_object_id: "oid".into(),
            home_tenant_id: String::new(),
            home_tenant_name: String::new(),
            subscription: sub.into(),
            code: String::new(),
            decision: String::new(),
            console,
            request_id: String::new(),
        }
    }

    #[test]
    fn filters_keep_what_they_name() {
        let f = |sub: &str, caller: &str, status: &str, all: bool| Filters {
            subscription: sub.into(),
            caller: caller.into(),
            status: status.into(),
            console_reads: all,
        };
        let e = entry(403, "alice@contosomsp.onmicrosoft.com", "s1", false, "PUT");
        assert!(f("", "", "", false).keep(&e));
        assert!(f("s1", "alice", "refused", false).keep(&e));
        assert!(f("", "", "403", false).keep(&e));
        assert!(!f("s2", "", "", false).keep(&e));
        assert!(!f("", "bob", "", false).keep(&e));
        assert!(!f("", "", "ok", false).keep(&e));
        let read = entry(200, "alice", "s1", true, "GET");
        assert!(!f("", "", "", false).keep(&read));
        assert!(f("", "", "", true).keep(&read));
        let refused_read = entry(401, "alice", "s1", true, "GET");
        assert!(f("", "", "", false).keep(&refused_read));
        assert_eq!(
            f("s1", "alice", "refused", true).query(),
            "subscription=s1&caller=alice&status=refused&console=all"
        );
    }
}
