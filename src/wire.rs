//! Plain request and response values shared by every surface: what the HTTP edge hands to the
//! behaviour layer and what it gets back. No hyper, no I/O: providers and the token service build
//! `Reply` values and never touch a socket.

use std::borrow::Cow;

use serde_json::Value;

/// A request as the behaviour layer sees it. Header names are lower-case; `path` is percent-decoded.
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The Host header (or authority) the client used, e.g. `localhost:8443`.
    pub host: String,
    /// The local port the request arrived on.
    pub port: u16,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Query parameter; `$`-prefixed OData names match case-insensitively as ARM does.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| {
                if name.starts_with('$') {
                    k.eq_ignore_ascii_case(name)
                } else {
                    k == name
                }
            })
            .map(|(k, v)| {
                let _ = k;
                v.as_str()
            })
    }

    pub fn parse_query(raw: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(raw.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The form fields of an `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> Vec<(String, String)> {
        Req::parse_query(&String::from_utf8_lossy(&self.body))
    }
}

/// A response value: status, headers (lower-case names, mostly static), body bytes.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply::json_bytes(status, serde_json::to_vec(body).unwrap_or_default())
    }

    /// A JSON reply from bytes already serialized.
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            headers: vec![(
                "content-type".into(),
                Cow::Borrowed("application/json; charset=utf-8"),
            )],
            body,
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.to_string().into())],
            body: body.into(),
        }
    }

    /// Add a header; a name with capitals is lower-cased (a static lower-case name costs nothing).
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Reply {
        let name = name.into();
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            name
        };
        self.headers.push((name, value.into()));
        self
    }

    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// The `HttpStatusCode` name ARM writes in `properties.statusCode` and `subStatus.value`.
/// `https://{host}` as the client addressed us.
pub fn base_url(req: &Req) -> String {
    let host = if req.host.is_empty() {
        "localhost"
    } else {
        req.host.as_str()
    };
    ["https://", host].concat()
}

pub fn status_name(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "NoContent",
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        412 => "PreconditionFailed",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        429 => "TooManyRequests",
        501 => "NotImplemented",
        503 => "ServiceUnavailable",
        s if s >= 500 => "InternalServerError",
        _ => "BadRequest",
    }
}

/// How deeply `[`/`{` nest in JSON-like text (JSON, JSON5, JSONC), strings skipped (a bracket inside a
/// comment counts too, so the answer errs high). Parsers that recurse without a bound of their own ask
/// this first: the lenient body reader and KQL's `dynamic()` literals.
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut quote, mut escaped) = (0usize, 0usize, None::<u8>, false);
    for c in text.bytes() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == b'\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'[' | b'{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    max
}

/// The nesting ARM reads in a request body: serde_json's own limit, applied to the lenient reader too.
pub const MAX_BODY_DEPTH: usize = 128;

/// Read a request body as ARM does: JSON first; failing that Newtonsoft's leniency (unquoted property
/// names, comments, trailing commas — `az deployment … create` sends JSONC) through json5, but only up
/// to `MAX_BODY_DEPTH` (json5 recurses without a bound of its own). The error is serde_json's.
pub fn read_json_body(body: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Value>(body).or_else(|e| {
        std::str::from_utf8(body)
            .ok()
            .filter(|t| json_depth(t) <= MAX_BODY_DEPTH)
            .and_then(|t| json5::from_str::<Value>(t).ok())
            .ok_or(e)
    })
}
