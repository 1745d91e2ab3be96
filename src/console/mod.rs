//! The web console (issue 15): server-rendered pages at `/` and `/console/…` showing the world as a
//! chosen principal sees it — Directory, My customers, Service providers, Resources, the live Activity
//! log, Explain, Clock and reset — with its CSS and script embedded (no build step, nothing fetched).
//! Every read and action is a real request as that principal through the token service and the pipeline
//! (`session`); the console never reads the store behind the pipeline's back, except the world's
//! directory for the Directory page and the principal picker. Served on loopback listeners only unless
//! `--console-bind` says otherwise (`State::serves_on`).

pub mod activity;
pub mod delegations;
pub mod html;
pub mod journal;
pub mod pages;
pub mod resources;
pub mod session;

use std::net::IpAddr;
use std::sync::RwLock;

use crate::app::App;
use crate::wire::{Reply, Req};
use session::Session;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// Where the console answers (`--console-bind`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Bind {
    /// Connections that arrived on a loopback address (the default).
    #[default]
    Loopback,
    /// Every listener.
    Any,
    /// Loopback and this address.
    Address(IpAddr),
    /// Nowhere.
    Off,
}

impl Bind {
    /// `loopback`, `any` (or `0.0.0.0`, `::`), `off`, or an IP address.
    pub fn parse(s: &str) -> Result<Bind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "loopback" | "localhost" => Ok(Bind::Loopback),
            "any" | "all" => Ok(Bind::Any),
            "off" | "none" => Ok(Bind::Off),
            other => match other.parse::<IpAddr>() {
                Ok(ip) if ip.is_unspecified() => Ok(Bind::Any),
                Ok(ip) => Ok(Bind::Address(ip)),
                Err(_) => Err(format!(
                    "--console-bind '{s}' is none of loopback, any, off or an IP address"
                )),
            },
        }
    }

    /// Does the console answer on a listener bound to `local`?
    pub fn serves_on(&self, local: IpAddr) -> bool {
        match self {
            Bind::Off => false,
            Bind::Any => true,
            Bind::Loopback => local.is_loopback(),
            Bind::Address(a) => local.is_loopback() || *a == local,
        }
    }
}

/// What `App` keeps for the console: the request journal and where the console answers.
#[derive(Default)]
pub struct State {
    pub journal: journal::Journal,
    bind: RwLock<Bind>,
}

impl State {
    /// A sandbox's: the console answers where it answers here; the journal starts empty.
    pub fn fork(&self) -> State {
        let s = State::default();
        s.set_bind(self.bind.read().unwrap_or_else(|p| p.into_inner()).clone());
        s
    }

    pub fn set_bind(&self, b: Bind) {
        *self.bind.write().unwrap_or_else(|p| p.into_inner()) = b;
    }

    pub fn serves_on(&self, local: IpAddr) -> bool {
        self.bind
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .serves_on(local)
    }

    /// Note a request the server answered (the HTTP edge calls this after `dispatch::handle`).
    pub fn record(&self, app: &App, req: &Req, reply: &Reply) {
        self.journal.record(
            &app.snapshot().dir,
            req,
            reply,
            crate::clock::arm_time(app.clock.now()),
            false,
        );
    }
}

/// Is this a console request (`GET /`, `/console`, `/console/…`)? Host-style names (a storage
/// account's `/`) never are.
pub fn is_console(req: &Req) -> bool {
    if crate::hosts::hosted(&req.host).is_some_and(|h| h != crate::hosts::Hosted::Local) {
        return false;
    }
    let p = req.path.as_str();
    (p == "/" && matches!(req.method.as_str(), "GET" | "HEAD") && req.raw_query.is_empty())
        || p == "/console"
        || p.starts_with("/console/")
}

/// Answer a console request.
pub fn handle(app: &App, req: &Req) -> Reply {
    let path = req.path.as_str();
    match (req.method.as_str(), path) {
        ("GET" | "HEAD", "/") | ("GET" | "HEAD", "/console") => {
            return redirect("/console/", &[]);
        }
        ("GET" | "HEAD", "/console/assets/console.css") => {
            return asset("text/css; charset=utf-8", CSS)
        }
        ("GET" | "HEAD", "/console/assets/console.js") => {
            return asset("text/javascript; charset=utf-8", JS)
        }
        _ => {}
    }
    if req.method == "POST" && !same_origin(req) {
        return Reply::text(
            403,
            "text/plain; charset=utf-8",
            "The console accepts forms from its own pages only.",
        );
    }
    let mut s = Session::open(app, req);
    // `?as=NAME` on any page: the one-click sign-in, so a page's URL can be shared with its principal
    if let Some(name) = req.query("as").filter(|n| !n.is_empty()) {
        let want = app.snapshot().dir.principal_by_name(name).cloned();
        match want {
            Some(p)
                if s.who
                    .as_ref()
                    .is_none_or(|w| !w.object_id.eq_ignore_ascii_case(&p.object_id)) =>
            {
                if let Err(e) = s.sign_in(&p, None) {
                    return finish(&s, pages::error_page(&s, &e));
                }
            }
            _ => {}
        }
    }
    // HEAD is answered as GET (the server drops the body)
    let method = if req.method == "HEAD" {
        "GET"
    } else {
        req.method.as_str()
    };
    let r = match (method, path) {
        ("GET", "/console/") => pages::home(&s, None),
        ("POST", "/console/signin") => return pages::signin(&mut s),
        ("POST", "/console/signout") => {
            s.sign_out();
            return with_cookies(redirect("/console/", &[]), &s);
        }
        ("GET", "/console/directory") => pages::directory(&s),
        ("GET", "/console/customers") => delegations::customers(&s, None),
        ("POST", "/console/activate") => delegations::activate(&s),
        ("GET", "/console/providers") => delegations::providers(&s, None),
        ("POST", "/console/remove-delegation") => delegations::remove(&s),
        ("GET", "/console/resources") => resources::resources(&s),
        ("GET", "/console/object") => resources::object(&s),
        ("GET", "/console/activity") => activity::activity(&s),
        ("GET", "/console/activity.json") => return activity::activity_json(&s),
        ("GET", "/console/explain") => activity::explain(&s, None),
        ("POST", "/console/send") => activity::send(&s),
        ("GET", "/console/clock") => pages::clock(&s, None),
        ("POST", "/console/clock") => return pages::clock_post(&mut s),
        ("POST", "/console/reset") => return pages::reset_post(&mut s),
        _ => return Reply::text(404, "text/html; charset=utf-8", pages::not_found(&s, path)),
    };
    finish(&s, r)
}

fn finish(s: &Session, html: String) -> Reply {
    with_cookies(
        Reply::text(200, "text/html; charset=utf-8", html)
            .header("cache-control", "no-store")
            .header("x-content-type-options", "nosniff")
            .header(
                "content-security-policy",
                "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
            ),
        s,
    )
}

pub fn with_cookies(mut r: Reply, s: &Session) -> Reply {
    for c in &s.set_cookies {
        r = r.header("set-cookie", c.clone());
    }
    r
}

/// 303 to `to` (a console path) with query pairs.
pub fn redirect(to: &str, query: &[(&str, &str)]) -> Reply {
    let mut url = to.to_string();
    if !query.is_empty() {
        url.push('?');
        url.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter())
                .finish(),
        );
    }
    Reply::empty(303).header("location", url)
}

fn asset(content_type: &'static str, body: &'static str) -> Reply {
    Reply::text(200, content_type, body).header("cache-control", "max-age=300")
}

/// A form post from the console's own origin (an `Origin` naming another host is refused).
fn same_origin(req: &Req) -> bool {
    match req.header("origin") {
        None => true,
        Some(o) => o
            .split_once("://")
            .is_some_and(|(_, host)| host.eq_ignore_ascii_case(&req.host)),
    }
}

/// The form fields of a console POST.
pub fn form(req: &Req) -> Vec<(String, String)> {
    req.form()
}

pub fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_bind_parses_and_decides_per_listener() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        let lan: IpAddr = "192.168.1.5".parse().unwrap();
        for (text, on_lo, on_lan) in [
            ("loopback", true, false),
            ("any", true, true),
            ("0.0.0.0", true, true),
            ("off", false, false),
            ("192.168.1.5", true, true),
            ("10.0.0.1", true, false),
        ] {
            let b = Bind::parse(text).unwrap();
            assert_eq!(b.serves_on(lo), on_lo, "{text}");
            assert_eq!(b.serves_on(lo6), on_lo, "{text}");
            assert_eq!(b.serves_on(lan), on_lan, "{text}");
        }
        assert!(Bind::parse("nowhere").is_err());
    }

    #[test]
    fn console_paths_and_origins() {
        let r = |m: &str, p: &str, host: &str| Req {
            method: m.into(),
            path: p.into(),
            host: host.into(),
            ..Default::default()
        };
        assert!(is_console(&r("GET", "/", "localhost:8443")));
        assert!(is_console(&r("POST", "/console/signin", "localhost:8443")));
        assert!(!is_console(&r("GET", "/consoles", "localhost:8443")));
        assert!(!is_console(&r("PUT", "/", "localhost:8443")));
        assert!(!is_console(&r(
            "GET",
            "/",
            "fabrikamdata.blob.core.windows.net"
        )));
        let mut p = r("POST", "/console/reset", "localhost:8443");
        assert!(same_origin(&p));
        p.headers = vec![("origin".into(), "https://localhost:8443".into())];
        assert!(same_origin(&p));
        p.headers = vec![("origin".into(), "https://evil.example".into())];
        assert!(!same_origin(&p));
    }
}
