//! Acting as a principal: the console's session (cookies holding the access token the token service
//! issued, the principal, the admin key), sign-in through the real token endpoint (password or client
//! secret, in-process through `dispatch::handle`), and ARM/admin requests made as that principal through
//! the same pipeline entry point, journaled like any client's. Never mints a token itself.

use serde_json::Value;

use crate::app::App;
use crate::dispatch;
use crate::wire::{Reply, Req};
use crate::world::{Principal, PrincipalKind};

/// The Azure CLI's public client id: the console signs users in as az does.
pub const AZ_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const ARM_SCOPE: &str = "https://management.azure.com/.default";
pub const USER_AGENT: &str = "lighthouse-emulator-console";

/// Cookie names, suffixed with the port: browsers share a host's cookies across ports, and each
/// sandbox (a port of its own) is another world with its own sign-in.
pub const TOKEN_COOKIE: &str = "lec_token";
pub const KEY_COOKIE: &str = "lec_admin_key";

fn name(base: &str, req: &Req) -> String {
    format!("{base}_{}", req.port)
}

/// One request to the console: the app, the request, and who is signed in.
pub struct Session<'a> {
    pub app: &'a App,
    pub req: &'a Req,
    pub token: Option<String>,
    /// The signed-in principal (from the token's `oid`), when it is in the world.
    pub who: Option<Principal>,
    pub admin_key: Option<String>,
    /// `Set-Cookie` values to send back.
    pub set_cookies: Vec<String>,
}

/// What an in-process request answered.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub decision: String,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status < 300
    }
    /// `error.code: error.message` of a refusal.
    pub fn error(&self) -> String {
        let e = &self.body["error"];
        match e {
            Value::Object(_) => format!(
                "{} {}: {}",
                self.status,
                e["code"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            ),
            Value::String(s) => format!(
                "{} {s}: {}",
                self.status,
                self.body["error_description"].as_str().unwrap_or("")
            ),
            _ => format!("{}", self.status),
        }
    }
    /// `value` of a list answer.
    pub fn items(&self) -> &[Value] {
        self.body["value"]
            .as_array()
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }
}

pub fn cookie(req: &Req, name: &str) -> Option<String> {
    let raw = req.header("cookie")?;
    raw.split(';')
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then(|| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
        .filter(|v| !v.is_empty())
}

fn set_cookie(name: &str, value: &str) -> String {
    let v: String =
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let max_age = if value.is_empty() { "; Max-Age=0" } else { "" };
    format!("{name}={v}; Path=/; Secure; HttpOnly; SameSite=Strict{max_age}")
}

impl<'a> Session<'a> {
    pub fn open(app: &'a App, req: &'a Req) -> Session<'a> {
        let token = cookie(req, &name(TOKEN_COOKIE, req));
        let who = token
            .as_deref()
            .and_then(super::journal::token_claims)
            .and_then(|c| {
                let oid = c["oid"].as_str()?.to_string();
                app.snapshot().dir.principal(&oid).cloned()
            });
        Session {
            app,
            req,
            token: if who.is_some() { token } else { None },
            who,
            admin_key: cookie(req, &name(KEY_COOKIE, req)),
            set_cookies: Vec::new(),
        }
    }

    pub fn tenant_name(&self, id: &str) -> String {
        self.app
            .snapshot()
            .dir
            .tenant(id)
            .map(|t| t.display_name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    /// Sign in through the token service: a user with a password (ROPC, as `az login -u`), a service
    /// principal with its secret (client credentials). `None` takes the credential from the world (the
    /// emulator convenience). Returns the error text on failure.
    pub fn sign_in(&mut self, p: &Principal, credential: Option<&str>) -> Result<(), String> {
        let (form, what) = match p.kind {
            PrincipalKind::User => {
                let upn = p.user_principal_name.clone().unwrap_or_default();
                let pw = credential
                    .map(str::to_string)
                    .or_else(|| p.password.clone())
                    .ok_or("this user has no password in the world")?;
                (
                    vec![
                        ("grant_type", "password".to_string()),
                        ("client_id", AZ_CLI_CLIENT_ID.to_string()),
                        ("username", upn),
                        ("password", pw),
                        ("scope", ARM_SCOPE.to_string()),
                    ],
                    "password",
                )
            }
            PrincipalKind::ServicePrincipal => {
                let secret = credential
                    .map(str::to_string)
                    .or_else(|| p.secret.clone())
                    .ok_or("this service principal has no secret in the world")?;
                (
                    vec![
                        ("grant_type", "client_credentials".to_string()),
                        ("client_id", p.app_id.clone().unwrap_or_default()),
                        ("client_secret", secret),
                        ("scope", ARM_SCOPE.to_string()),
                    ],
                    "secret",
                )
            }
            PrincipalKind::Group => return Err("a group cannot sign in".into()),
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let req = self.internal(
            "POST",
            &format!("/{}/oauth2/v2.0/token", p.tenant_id),
            "",
            body.into_bytes(),
            "application/x-www-form-urlencoded",
            None,
        );
        let reply = dispatch::handle(self.app, &req);
        self.journal(&req, &reply);
        let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        match v["access_token"].as_str() {
            Some(t) if reply.status == 200 => {
                self.token = Some(t.to_string());
                self.who = Some(p.clone());
                self.set_cookies
                    .push(set_cookie(&name(TOKEN_COOKIE, self.req), t));
                Ok(())
            }
            _ => Err(format!(
                "the token service refused the {what}: {} {}",
                v["error"].as_str().unwrap_or(""),
                v["error_description"].as_str().unwrap_or("")
            )),
        }
    }

    pub fn sign_out(&mut self) {
        self.token = None;
        self.who = None;
        self.set_cookies
            .push(set_cookie(&name(TOKEN_COOKIE, self.req), ""));
    }

    pub fn remember_admin_key(&mut self, key: &str) {
        self.admin_key = (!key.is_empty()).then(|| key.to_string());
        self.set_cookies
            .push(set_cookie(&name(KEY_COOKIE, self.req), key));
    }

    fn internal(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: Vec<u8>,
        content_type: &str,
        bearer: Option<&str>,
    ) -> Req {
        let mut headers = vec![
            ("user-agent".to_string(), USER_AGENT.to_string()),
            ("content-type".to_string(), content_type.to_string()),
        ];
        if let Some(t) = bearer {
            headers.push(("authorization".into(), format!("Bearer {t}")));
        }
        if let Some(k) = &self.admin_key {
            if path.starts_with("/_emulator") {
                headers.push(("x-emulator-admin-key".into(), k.clone()));
            }
        }
        Req {
            method: method.to_string(),
            path: path.to_string(),
            raw_query: query.to_string(),
            query: Req::parse_query(query),
            headers,
            body,
            host: self.req.host.clone(),
            port: self.req.port,
        }
    }

    fn journal(&self, req: &Req, reply: &Reply) {
        self.app.console.journal.record(
            &self.app.snapshot().dir,
            req,
            reply,
            crate::clock::arm_time(self.app.clock.now()),
            true,
        );
    }

    /// An ARM request as the signed-in principal, through the pipeline (`dispatch::handle`), journaled.
    /// `url` is a path with its query (`/subscriptions?api-version=…`).
    pub fn arm(&self, method: &str, url: &str, body: Option<&Value>) -> Answer {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let req = self.internal(
            method,
            path,
            query,
            body.map(|b| serde_json::to_vec(b).unwrap_or_default())
                .unwrap_or_default(),
            "application/json",
            self.token.as_deref(),
        );
        let reply = dispatch::handle(self.app, &req);
        self.journal(&req, &reply);
        answer(&reply)
    }

    /// An emulator admin request (`/_emulator/…`) with the admin key the console was given.
    pub fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let req = self.internal(
            method,
            path,
            "",
            body.map(|b| serde_json::to_vec(b).unwrap_or_default())
                .unwrap_or_default(),
            "application/json",
            None,
        );
        let reply = crate::admin::handle(self.app, &req);
        if method != "GET" && path != "/_emulator/explain" {
            self.journal(&req, &reply);
        }
        answer(&reply)
    }
}

fn answer(reply: &Reply) -> Answer {
    Answer {
        status: reply.status,
        body: serde_json::from_slice(&reply.body).unwrap_or(Value::Null),
        decision: reply
            .get_header("x-ms-emulator-decision")
            .unwrap_or_default()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_round_trip_and_clear() {
        let c = set_cookie("lec_token", "a.b=c d");
        assert!(c.starts_with("lec_token=a%2Eb%3Dc%20d; Path=/; Secure; HttpOnly; SameSite=Strict"));
        let req = Req {
            headers: vec![("cookie".into(), "x=1; lec_token=a%2Eb%3Dc%20d".into())],
            ..Default::default()
        };
        assert_eq!(cookie(&req, "lec_token").as_deref(), Some("a.b=c d"));
        assert_eq!(cookie(&req, "lec_admin_key"), None);
        assert!(set_cookie("k", "").ends_with("Max-Age=0"));
    }
}
