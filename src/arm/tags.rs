//! ARM's rules for tags, checked on every write that carries them (a resource's or group's `tags`, the
//! `properties.tags` of `{scope}/providers/Microsoft.Resources/tags/default`): at most 50, names 1–512
//! characters without `< > % & \ ? /` or control characters, values at most 256. The codes and texts are
//! ARM's (as Az PowerShell's Migrate module repeats them client-side). Pure.

use serde_json::Value;

use super::error::ArmError;

pub const MAX_TAGS: usize = 50;
pub const MAX_NAME: usize = 512;
pub const MAX_VALUE: usize = 256;

fn bad(code: &str, message: String) -> ArmError {
    ArmError::new(code, message).with_status(400)
}

/// Check the tags of a request body (`tags`, or `properties.tags` for the tags resource).
pub fn check(body: &Value) -> Result<(), ArmError> {
    for tags in [body.get("tags"), body.pointer("/properties/tags")]
        .into_iter()
        .flatten()
    {
        let Some(map) = tags.as_object() else {
            continue;
        };
        if map.len() > MAX_TAGS {
            return Err(bad("InvalidTags", format!("Too many tags specified. Requested tag count - '{}'. Maximum number of tags allowed - '{MAX_TAGS}'.", map.len())));
        }
        let mut reserved = Vec::new();
        let mut long_names = Vec::new();
        let mut long_values = Vec::new();
        for (k, v) in map {
            if k.trim().is_empty() {
                return Err(bad("InvalidTagName", "The tag name must be non-null, non-empty and non-whitespace only. Please provide an actual value.".into()));
            }
            // `hidden-link:{resource id}` names link a resource to another (Application Insights web
            // tests, the Lighthouse sample delegation-alert-for-customer's scheduled query rule): ARM
            // takes the id's slashes in them
            let hidden_link = k
                .get(..12)
                .is_some_and(|p| p.eq_ignore_ascii_case("hidden-link:"));
            if k.chars().any(|c| {
                (matches!(c, '<' | '>' | '%' | '&' | '\\' | '?') || c == '/' && !hidden_link)
                    || c.is_control()
            }) {
                reserved.push(clip(k));
            }
            if k.chars().count() > MAX_NAME {
                long_names.push(clip(k));
            }
            if v.as_str().is_some_and(|s| s.chars().count() > MAX_VALUE) {
                long_values.push(clip(v.as_str().unwrap_or_default()));
            }
        }
        if !reserved.is_empty() {
            return Err(bad("InvalidTagNameCharacters", format!("The tag names '{}' have reserved characters '<,>,%,&,\\,?,/' or control characters.", reserved.join(", "))));
        }
        if !long_names.is_empty() {
            return Err(bad("InvalidTagName", format!("Tag key too large. Following tag name '{}' exceeded the maximum length. Maximum allowed length for tag name - '{MAX_NAME}' characters.", long_names.join(", "))));
        }
        if !long_values.is_empty() {
            return Err(bad("InvalidTagValueLength", format!("Tag value too large. Following tag value '{}' exceeded the maximum length. Maximum allowed length for tag value - '{MAX_VALUE}' characters.", long_values.join(", "))));
        }
    }
    Ok(())
}

/// A name or value as an error message quotes it: long ones cut, so a 4 MiB value is not echoed back.
fn clip(s: &str) -> String {
    if s.chars().count() <= 600 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(600).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_rules() {
        let code = |v: Value| check(&v).err().map(|e| e.code);
        assert_eq!(code(json!({"tags": {"env": "prod"}})), None);
        let many: serde_json::Map<String, Value> =
            (0..51).map(|i| (format!("t{i}"), json!("v"))).collect();
        assert_eq!(code(json!({"tags": many})).as_deref(), Some("InvalidTags"));
        assert_eq!(
            code(json!({"tags": {"a/b": "v"}})).as_deref(),
            Some("InvalidTagNameCharacters")
        );
        assert_eq!(
            code(json!({"tags": {"hidden-link:/subscriptions/s/x": "Resource"}})),
            None
        );
        assert_eq!(
            code(json!({"tags": {"hidden-link:a?b": "v"}})).as_deref(),
            Some("InvalidTagNameCharacters")
        );
        assert_eq!(
            code(json!({"tags": {"ééééééé/": "v"}})).as_deref(),
            Some("InvalidTagNameCharacters")
        );
        assert_eq!(
            code(json!({"tags": {" ": "v"}})).as_deref(),
            Some("InvalidTagName")
        );
        assert_eq!(
            code(json!({"tags": {"k".repeat(513): "v"}})).as_deref(),
            Some("InvalidTagName")
        );
        assert_eq!(code(json!({"tags": {"k".repeat(512): "v"}})), None);
        assert_eq!(
            code(json!({"tags": {"k": "v".repeat(257)}})).as_deref(),
            Some("InvalidTagValueLength")
        );
        assert_eq!(
            code(json!({"properties": {"tags": {"k": "v".repeat(257)}}})).as_deref(),
            Some("InvalidTagValueLength")
        );
        let e = check(&json!({"tags": {"k": "v".repeat(4 << 20)}})).unwrap_err();
        assert!(e.message.len() < 2_000, "a huge value is not echoed back");
    }
}
