//! Console pages without delegation or resource logic: sign-in (credentials through the token service,
//! or the one-click pick marked as an emulator convenience), the world's Directory, Clock and reset
//! (admin requests with the admin key when one is set), and the shared frame. Renders strings only.

use std::fmt::Write;

use serde_json::json;

use super::html::{self, cli, copyable, esc, notice, q, Banner};
use super::session::Session;
use super::{field, form, redirect, with_cookies};
use crate::wire::Reply;
use crate::world::PrincipalKind;

/// The page frame for `path` (its `PAGES` entry) with a shareable link naming the principal.
pub fn frame(s: &Session, path: &str, title: &str, body: &str) -> String {
    let tenant = s.who.as_ref().map(|w| s.tenant_name(&w.tenant_id));
    let name = s.who.as_ref().map(|w| w.client_name().to_string());
    let mut body = body.to_string();
    if let Some(n) = &name {
        let mut query: Vec<(String, String)> = s
            .req
            .query
            .iter()
            .filter(|(k, _)| k != "as")
            .cloned()
            .collect();
        query.insert(0, ("as".into(), n.clone()));
        let qs = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter())
            .finish();
        let url = format!("https://{}{path}?{qs}", s.req.host);
        let _ = write!(
            body,
            "<p class=\"muted\">Shareable link to this page as {}: {}</p>",
            esc(n),
            copyable(&url)
        );
    }
    html::page(
        path,
        title,
        &Banner {
            name: name.as_deref(),
            tenant: tenant.as_deref(),
        },
        &body,
    )
}

pub fn error_page(s: &Session, message: &str) -> String {
    frame(s, "/console/", "Sign-in failed", &notice("error", message))
}

pub fn not_found(s: &Session, path: &str) -> String {
    frame(
        s,
        "",
        "Not found",
        &notice("error", &format!("The console has no page {path}.")),
    )
}

/// Asks to sign in first, pointing back at `next`.
pub fn needs_principal(s: &Session, path: &str, title: &str, what: &str) -> String {
    frame(
        s,
        path,
        title,
        &format!(
            "<p>{}</p><p><a href=\"/console/?next={}\">Choose a principal</a> first.</p>",
            esc(what),
            q(path)
        ),
    )
}

/// The sign-in page: who is signed in, the credentials form, and the one-click pick.
pub fn home(s: &Session, message: Option<(&str, &str)>) -> String {
    let snap = s.app.snapshot();
    let dir = &snap.dir;
    let next = s.req.query("next").unwrap_or("/console/customers");
    let next = if next.starts_with("/console/") {
        next
    } else {
        "/console/customers"
    };
    let mut b = String::new();
    if let Some((kind, text)) = message {
        b.push_str(&notice(kind, text));
    }
    if let Some(w) = &s.who {
        let _ = write!(
            b,
            "<p>Signed in as <strong>{}</strong> ({}) of {} — object id {}.</p>",
            esc(w.client_name()),
            w.kind.as_str(),
            esc(&s.tenant_name(&w.tenant_id)),
            copyable(&w.object_id)
        );
    }
    // credentials, through the token service as a client would
    let mut options = String::new();
    for p in dir
        .principals
        .iter()
        .filter(|p| p.kind != PrincipalKind::Group)
    {
        let _ = write!(
            options,
            "<option value=\"{}\">{} — {} ({})</option>",
            esc(&p.object_id),
            esc(p.client_name()),
            esc(&s.tenant_name(&p.tenant_id)),
            if p.kind == PrincipalKind::User {
                "user"
            } else {
                "service principal"
            }
        );
    }
    let _ = write!(
        b,
        "<h2>Sign in with a credential</h2>\
<p>The console asks the emulator's token service for a token, as <code>az login</code> does: a password for a user \
(resource owner password grant), the client secret for a service principal.</p>\
<form method=\"post\" action=\"/console/signin\"><input type=\"hidden\" name=\"next\" value=\"{next}\">\
<div class=\"row\"><div><label for=\"principal\">Principal</label><select id=\"principal\" name=\"principal\">{options}</select></div>\
<div><label for=\"credential\">Password or client secret</label><input id=\"credential\" name=\"credential\" type=\"password\" autocomplete=\"off\" required></div>\
<div><button class=\"primary\" type=\"submit\">Sign in</button></div></div></form>{cli1}{cli2}",
        next = esc(next),
        cli1 = cli("az login -u alice@contosomsp.onmicrosoft.com -p 'Alice-Pa55!'"),
        cli2 = cli("az login --service-principal -u 40000000-0000-0000-0000-000000001121 -p msp-automation-secret --tenant 10000000-0000-0000-0000-000000000001"),
    );
    // the emulator convenience
    let _ = write!(
        b,
        "<section class=\"convenience\" aria-labelledby=\"quick\"><h2 id=\"quick\">One-click sign-in (emulator convenience)</h2>\
<p>Not something Azure offers: the console takes the principal's password or secret from the world file and signs in \
through the same token service. Adding <code>?as=NAME</code> to any console URL does the same.</p>"
    );
    for t in &dir.tenants {
        let members: Vec<_> = dir
            .principals
            .iter()
            .filter(|p| p.tenant_id == t.id && p.kind != PrincipalKind::Group)
            .collect();
        if members.is_empty() {
            continue;
        }
        let _ = write!(
            b,
            "<h3>{}</h3><div class=\"principals\">",
            esc(&t.display_name)
        );
        for p in members {
            let _ = write!(
                b,
                "<form method=\"post\" action=\"/console/signin\"><input type=\"hidden\" name=\"next\" value=\"{next}\">\
<input type=\"hidden\" name=\"principal\" value=\"{oid}\"><input type=\"hidden\" name=\"convenience\" value=\"1\">\
<button type=\"submit\" aria-label=\"Sign in as {name} (emulator convenience)\">{name}</button></form>",
                next = esc(next),
                oid = esc(&p.object_id),
                name = esc(p.client_name())
            );
        }
        b.push_str("</div>");
    }
    b.push_str("</section>");
    frame(s, "/console/", "Sign in", &b)
}

pub fn signin(s: &mut Session) -> Reply {
    let f = form(s.req);
    let who = field(&f, "principal");
    let next = field(&f, "next");
    let next = if next.starts_with("/console/") {
        next.to_string()
    } else {
        "/console/customers".to_string()
    };
    let Some(p) = s.app.snapshot().dir.principal_by_name(who).cloned() else {
        let page = home(
            s,
            Some(("error", &format!("No principal '{who}' in the world."))),
        );
        return super::finish(s, page);
    };
    let credential = (field(&f, "convenience") != "1").then(|| field(&f, "credential"));
    match s.sign_in(&p, credential) {
        Ok(()) => with_cookies(redirect(&next, &[]), s),
        Err(e) => {
            let page = home(s, Some(("error", &e)));
            super::finish(s, page)
        }
    }
}

/// The world's directory: tenants, users, groups, service principals, subscriptions (the emulator's view).
pub fn directory(s: &Session) -> String {
    let snap = s.app.snapshot();
    let dir = &snap.dir;
    let mut b = String::from(
        "<p>The world this emulator serves, as its world file declares it (an emulator view: in Azure each tenant \
sees only its own directory, through Microsoft Graph).</p>",
    );
    b.push_str(&cli("az account tenant list"));
    b.push_str("<h2>Tenants</h2><table><caption class=\"visually-hidden\">Tenants</caption><thead><tr><th scope=\"col\">Tenant</th><th scope=\"col\">Tenant id</th><th scope=\"col\">Default domain</th><th scope=\"col\">Cloud</th></tr></thead><tbody>");
    for t in &dir.tenants {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.display_name),
            copyable(&t.id),
            esc(&t.default_domain),
            esc(&t.cloud)
        );
    }
    b.push_str("</tbody></table>");
    for (kind, title) in [
        (PrincipalKind::User, "Users"),
        (PrincipalKind::Group, "Groups"),
        (PrincipalKind::ServicePrincipal, "Service principals"),
    ] {
        let _ = write!(
            b,
            "<h2>{title}</h2><table><caption class=\"visually-hidden\">{title}</caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Tenant</th><th scope=\"col\">Object id</th><th scope=\"col\">{}</th><th scope=\"col\">Member of</th></tr></thead><tbody>",
            if kind == PrincipalKind::ServicePrincipal { "Application (client) id" } else { "Sign-in name" }
        );
        for p in dir.principals.iter().filter(|p| p.kind == kind) {
            let member_of: Vec<String> = p
                .member_of
                .iter()
                .map(|g| {
                    dir.principal(g)
                        .map(|g| g.display_name.clone())
                        .unwrap_or_else(|| g.clone())
                })
                .collect();
            let login = match kind {
                PrincipalKind::ServicePrincipal => {
                    copyable(p.app_id.as_deref().unwrap_or_default())
                }
                PrincipalKind::User => esc(p.user_principal_name.as_deref().unwrap_or_default()),
                PrincipalKind::Group => String::new(),
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.display_name),
                esc(&s.tenant_name(&p.tenant_id)),
                copyable(&p.object_id),
                login,
                esc(&member_of.join(", "))
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2>Subscriptions</h2><table><caption class=\"visually-hidden\">Subscriptions</caption><thead><tr><th scope=\"col\">Subscription</th><th scope=\"col\">Id</th><th scope=\"col\">Tenant</th><th scope=\"col\">State</th></tr></thead><tbody>");
    for sub in &dir.subscriptions {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&sub.display_name),
            copyable(&sub.subscription_id),
            esc(&s.tenant_name(&sub.tenant_id)),
            esc(&sub.state)
        );
    }
    b.push_str("</tbody></table>");
    frame(s, "/console/directory", "Directory", &b)
}

fn base(s: &Session) -> String {
    format!("https://{}", s.req.host)
}

/// The clock (show, advance) and reset.
pub fn clock(s: &Session, message: Option<(&str, &str)>) -> String {
    let mut b = String::new();
    if let Some((k, t)) = message {
        b.push_str(&notice(k, t));
    }
    let c = s.admin("GET", "/_emulator/clock", None);
    if c.ok() {
        let _ = write!(
            b,
            "<p>Emulator clock: <strong id=\"clock-now\">{}</strong> (offset {} s from real time). Tokens are issued and \
checked on this clock; moving it past a token's expiry makes requests with it fail with 401 ExpiredAuthenticationToken.</p>",
            esc(c.body["now"].as_str().unwrap_or("")),
            c.body["offsetSeconds"]
        );
    } else {
        b.push_str(&notice("error", &c.error()));
    }
    let needs_key = s.app.config.admin_key.is_some();
    let key_field = if needs_key {
        format!(
            "<div><label for=\"admin-key\">Admin key</label><input id=\"admin-key\" name=\"admin_key\" type=\"password\" autocomplete=\"off\" value=\"\"{}></div>",
            if s.admin_key.is_some() { " placeholder=\"(remembered)\"" } else { " required" }
        )
    } else {
        String::new()
    };
    let hdr = if needs_key {
        " -H 'x-emulator-admin-key: KEY'"
    } else {
        ""
    };
    let _ = write!(
        b,
        "<h2>Advance the clock</h2><form method=\"post\" action=\"/console/clock\"><div class=\"row\">\
<div><label for=\"advance\">Advance by (ISO 8601 duration)</label><input id=\"advance\" name=\"advance\" value=\"PT1H\" pattern=\"P.*\" required></div>{key_field}\
<div><button class=\"primary\" type=\"submit\">Advance</button></div></div></form>{}\
<form method=\"post\" action=\"/console/clock\"><input type=\"hidden\" name=\"reset_clock\" value=\"1\"><div class=\"row\">{key_field}<div><button type=\"submit\">Back to real time</button></div></div></form>\
<h2>Reset the world</h2><p>Back to the loaded world and real time: every resource, delegation, activation and log written since start-up is gone.</p>\
<form method=\"post\" action=\"/console/reset\"><div class=\"row\">{key_field}<div><button class=\"danger\" type=\"submit\">Reset the world</button></div></div></form>{}",
        cli(&format!("curl -s --cacert ca.pem -X POST {}/_emulator/clock -H 'content-type: application/json'{hdr} -d '{{\"advance\":\"PT1H\"}}'", base(s))),
        cli(&format!("curl -s --cacert ca.pem -X POST {}/_emulator/reset{hdr}", base(s))),
    );
    frame(s, "/console/clock", "Clock and reset", &b)
}

pub fn clock_post(s: &mut Session) -> Reply {
    let f = form(s.req);
    let key = field(&f, "admin_key");
    if !key.is_empty() {
        s.remember_admin_key(key);
    }
    let body = if field(&f, "reset_clock") == "1" {
        json!({"reset": true})
    } else {
        json!({"advance": field(&f, "advance")})
    };
    let a = s.admin("POST", "/_emulator/clock", Some(&body));
    let msg = if a.ok() {
        (
            "ok",
            format!(
                "The clock now reads {}.",
                a.body["now"].as_str().unwrap_or("")
            ),
        )
    } else {
        ("error", a.error())
    };
    let page = clock(s, Some((msg.0, &msg.1)));
    super::finish(s, page)
}

pub fn reset_post(s: &mut Session) -> Reply {
    let f = form(s.req);
    let key = field(&f, "admin_key");
    if !key.is_empty() {
        s.remember_admin_key(key);
    }
    let a = s.admin("POST", "/_emulator/reset", None);
    let msg = if a.ok() {
        (
            "ok",
            format!(
                "The world was reset in {:.0} ms.",
                a.body["elapsedMs"].as_f64().unwrap_or(0.0)
            ),
        )
    } else {
        ("error", a.error())
    };
    let page = clock(s, Some((msg.0, &msg.1)));
    super::finish(s, page)
}
