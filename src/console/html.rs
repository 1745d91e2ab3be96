//! HTML building blocks for the console: escaping, the page frame (navigation, who is signed in, skip
//! link, theme from the system), copyable ids, the Azure CLI command beside an action. Plain strings;
//! every value from the world or a request goes through `esc`. No I/O.

use std::fmt::Write;

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a query value.
pub fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The pages, in navigation order: (path, title).
pub const PAGES: &[(&str, &str)] = &[
    ("/console/", "Sign in"),
    ("/console/directory", "Directory"),
    ("/console/customers", "My customers"),
    ("/console/providers", "Service providers"),
    ("/console/resources", "Resources"),
    ("/console/activity", "Activity log"),
    ("/console/explain", "Explain"),
    ("/console/clock", "Clock and reset"),
];

/// Who the frame shows as signed in.
pub struct Banner<'a> {
    pub name: Option<&'a str>,
    pub tenant: Option<&'a str>,
}

/// A whole page: `current` is its path in `PAGES`.
pub fn page(current: &str, title: &str, banner: &Banner, body: &str) -> String {
    let mut nav = String::new();
    for (path, name) in PAGES {
        let here = *path == current;
        let _ = write!(
            nav,
            "<li><a href=\"{path}\"{}>{name}</a></li>",
            if here { " aria-current=\"page\"" } else { "" }
        );
    }
    let who = match (banner.name, banner.tenant) {
        (Some(n), Some(t)) => format!(
            "Acting as <strong>{}</strong> <span class=\"muted\">(home tenant {})</span> \
             <form method=\"post\" action=\"/console/signout\" class=\"inline\"><button type=\"submit\">Sign out</button></form>",
            esc(n),
            esc(t)
        ),
        _ => "Not signed in — <a href=\"/console/\">choose a principal</a>".to_string(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<title>{title} · lighthouse-emulator console</title>\
<link rel=\"stylesheet\" href=\"/console/assets/console.css\">\
<script src=\"/console/assets/console.js\" defer></script></head>\
<body><a class=\"skip\" href=\"#main\">Skip to content</a>\
<header><p class=\"brand\"><a href=\"/console/\">lighthouse-emulator</a> <span class=\"muted\">console</span></p>\
<p class=\"who\" id=\"who\">{who}</p></header>\
<nav aria-label=\"Console pages\"><ul>{nav}</ul></nav>\
<main id=\"main\" tabindex=\"-1\"><h1>{title}</h1>{body}</main>\
<footer><p class=\"muted\">Every action here is a real request to this emulator as the principal shown above: \
it appears in the <a href=\"/console/activity\">activity log</a> like any client's.</p></footer></body></html>",
        title = esc(title),
    )
}

/// An id with a copy button.
pub fn copyable(id: &str) -> String {
    format!(
        "<span class=\"id\"><code>{id}</code><button type=\"button\" class=\"copy\" data-copy=\"{id}\" aria-label=\"Copy {id}\">Copy</button></span>",
        id = esc(id)
    )
}

/// The Azure CLI command equivalent to an action, copyable.
pub fn cli(cmd: &str) -> String {
    format!(
        "<div class=\"cli\"><span class=\"cli-label\">Azure CLI</span><code>{c}</code><button type=\"button\" class=\"copy\" data-copy=\"{c}\" aria-label=\"Copy the Azure CLI command\">Copy</button></div>",
        c = esc(cmd)
    )
}

/// A notice box: `kind` is `ok`, `error` or `info`.
pub fn notice(kind: &str, text: &str) -> String {
    let role = if kind == "error" { "alert" } else { "status" };
    format!(
        "<p class=\"notice {kind}\" role=\"{role}\">{}</p>",
        esc(text)
    )
}

/// A status code as a badge.
pub fn status_badge(status: u16) -> String {
    let class = match status {
        0..=299 => "ok",
        300..=399 => "info",
        _ => "error",
    };
    format!("<span class=\"badge {class}\">{status}</span>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(q("a b&c=/"), "a+b%26c%3D%2F");
        let p = page(
            "/console/activity",
            "T<",
            &Banner {
                name: Some("x<y"),
                tenant: Some("t"),
            },
            "",
        );
        assert!(p.contains("<title>T&lt; ·") && p.contains("x&lt;y"));
        assert!(p.contains("href=\"/console/activity\" aria-current=\"page\""));
    }
}
