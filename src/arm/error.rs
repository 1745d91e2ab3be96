//! The ARM error envelope: `{"error":{"code","message","target"?,"details"?}}` with one constructor per
//! ARM error code and one table from code to HTTP status. Never does I/O.
//! Codes and message templates follow ARM-FACTS.md §3.5 (observed ARM wire texts).

use serde_json::{json, Value};

/// `target`, `details`, `additionalInfo`.
pub type Extra = (Option<String>, Vec<Value>, Vec<Value>);

/// An ARM error: code, message and the extra headers some codes carry (`WWW-Authenticate`).
#[derive(Debug, Clone, PartialEq)]
pub struct ArmError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// `target`, `details` and `additionalInfo`, rarely present (boxed to keep `Result<_, ArmError>`
    /// small).
    pub extra: Option<Box<Extra>>,
    pub headers: Vec<(&'static str, String)>,
    /// Microsoft.Authorization answers some routing failures in ASP.NET style (`{"Message":…}`).
    pub aspnet_style: bool,
}

/// The one table from ARM error code to HTTP status.
pub fn status_of(code: &str) -> u16 {
    match code {
        "AuthenticationFailed"
        | "InvalidAuthenticationToken"
        | "InvalidAuthenticationTokenAudience"
        | "ExpiredAuthenticationToken"
        | "InvalidAuthenticationTokenTenant" => 401,
        "AuthorizationFailed"
        | "LinkedAuthorizationFailed"
        | "DenyAssignmentAuthorizationFailed"
        | "RequestDisallowedByPolicy" => 403,
        "SubscriptionNotFound"
        | "ResourceGroupNotFound"
        | "ResourceNotFound"
        | "NotFound"
        | "RoleDefinitionDoesNotExist"
        | "RoleAssignmentNotFound"
        | "TenantNotFound"
        | "DeploymentNotFound" => 404,
        "MethodNotAllowed" => 405,
        "ReadOnlyDisabledSubscription"
        | "ResourceGroupBeingDeleted"
        | "ScopeLocked"
        | "RoleAssignmentExists"
        | "RoleAssignmentUpdateNotPermitted"
        | "MissingSubscriptionRegistration"
        | "Conflict"
        | "AnotherOperationInProgress" => 409,
        "RequestEntityTooLarge" => 413,
        "UnsupportedMediaType" => 415,
        "SubscriptionRequestsThrottled" | "TooManyRequests" => 429,
        "InternalServerError" => 500,
        _ => 400,
    }
}

impl ArmError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ArmError {
            status: status_of(code),
            code: code.to_string(),
            message: message.into(),
            extra: None,
            headers: Vec::new(),
            aspnet_style: false,
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.extra.get_or_insert_with(Default::default).0 = Some(target.into());
        self
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn with_detail(mut self, code: &str, message: impl Into<String>) -> Self {
        self.extra
            .get_or_insert_with(Default::default)
            .1
            .push(json!({"code": code, "message": message.into()}));
        self
    }

    /// A detail with more than a code and a message (Resource Graph's ParserFailure has a position).
    pub fn with_detail_value(mut self, detail: Value) -> Self {
        self.extra
            .get_or_insert_with(Default::default)
            .1
            .push(detail);
        self
    }

    /// An `additionalInfo` entry (`{"type": "PolicyViolation", "info": …}`).
    pub fn with_additional_info(mut self, info: Value) -> Self {
        self.extra.get_or_insert_with(Default::default).2.push(info);
        self
    }

    /// The JSON body ARM sends for this error.
    pub fn body(&self) -> Value {
        if self.aspnet_style {
            return json!({ "Message": self.message });
        }
        let mut e = json!({ "code": self.code, "message": self.message });
        if let Some((target, details, info)) = self.extra.as_deref() {
            if let Some(t) = target {
                e["target"] = json!(t);
            }
            if !details.is_empty() {
                e["details"] = Value::Array(details.clone());
            }
            if !info.is_empty() {
                e["additionalInfo"] = Value::Array(info.clone());
            }
        }
        json!({ "error": e })
    }

    // --- authentication (401) ---

    /// `authority_tenant` names the tenant clients should ask for a token (the subscription's home tenant).
    pub fn authentication_failed_missing(authority: &str) -> Self {
        ArmError::new(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        )
        .with_header(
            "WWW-Authenticate",
            challenge(
                authority,
                "The authentication failed because of missing 'Authorization' header.",
            ),
        )
    }

    pub fn authentication_failed_format(authority: &str) -> Self {
        ArmError::new(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        )
        .with_header(
            "WWW-Authenticate",
            challenge(
                authority,
                "The authentication failed because of an invalid 'Authorization' header.",
            ),
        )
    }

    pub fn invalid_authentication_token(authority: &str, why: &str) -> Self {
        ArmError::new(
            "InvalidAuthenticationToken",
            format!("The access token is invalid. {why}")
                .trim_end()
                .to_string(),
        )
        .with_header(
            "WWW-Authenticate",
            challenge(authority, "The access token is invalid."),
        )
    }

    pub fn invalid_authentication_token_no_oid(authority: &str) -> Self {
        ArmError::new(
            "InvalidAuthenticationToken",
            "The received access token is not valid: at least one of the claims 'puid' or 'altsecid' or 'oid' should be present. If you are accessing as application please make sure service principal is properly created in the tenant.",
        )
        .with_header("WWW-Authenticate", challenge(authority, "The access token is invalid."))
    }

    pub fn invalid_authentication_token_audience(
        authority: &str,
        aud: &str,
        allowed: &[String],
    ) -> Self {
        let list = allowed
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(",");
        ArmError::new(
            "InvalidAuthenticationTokenAudience",
            format!("The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences {list}."),
        )
        .with_header("WWW-Authenticate", challenge(authority, "The access token has been obtained for wrong audience or resource."))
    }

    /// Both times already in ARM's `M/d/yyyy h:mm:ss tt` form.
    pub fn expired_authentication_token(authority: &str, expiry: &str, now: &str) -> Self {
        ArmError::new(
            "ExpiredAuthenticationToken",
            format!("The access token expiry UTC time '{expiry}' is earlier than current UTC time '{now}'."),
        )
        .with_header("WWW-Authenticate", challenge(authority, "The access token expiry UTC time is earlier than current UTC time."))
    }

    pub fn invalid_authentication_token_tenant(
        login_base: &str,
        token_tid: &str,
        sub_tid: &str,
    ) -> Self {
        ArmError::new(
            "InvalidAuthenticationTokenTenant",
            format!("The access token is from the wrong issuer 'https://sts.windows.net/{token_tid}/'. It must match the tenant 'https://sts.windows.net/{sub_tid}/' associated with this subscription. Please use the authority (URL) '{login_base}/{sub_tid}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later."),
        )
        .with_header(
            "WWW-Authenticate",
            challenge(&format!("{login_base}/{sub_tid}"), "The access token is from the wrong issuer."),
        )
    }

    // --- authorization (403) ---

    pub fn authorization_failed(client: &str, oid: &str, action: &str, scope: &str) -> Self {
        ArmError::new(
            "AuthorizationFailed",
            format!("The client '{client}' with object id '{oid}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."),
        )
    }

    pub fn deny_assignment_authorization_failed(
        client: &str,
        oid: &str,
        action: &str,
        scope: &str,
        deny_name: &str,
        deny_id: &str,
        deny_scope: &str,
    ) -> Self {
        ArmError::new(
            "DenyAssignmentAuthorizationFailed",
            format!("The client '{client}' with object id '{oid}' has permission to perform action '{action}' on scope '{scope}'; however, the access is denied because of the deny assignment with name '{deny_name}' and Id '{deny_id}' at scope '{deny_scope}'."),
        )
    }

    // --- request shape (400) ---

    pub fn missing_api_version() -> Self {
        ArmError::new(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    }

    pub fn invalid_api_version(v: &str, supported: &[&str]) -> Self {
        ArmError::new(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are '{}'.",
                supported.join(",")
            ),
        )
    }

    pub fn no_registered_provider(
        location: &str,
        v: &str,
        rtype: &str,
        supported: &[&str],
    ) -> Self {
        ArmError::new(
            "NoRegisteredProviderFound",
            format!("No registered resource provider found for location '{location}' and API version '{v}' for type '{rtype}'. The supported api-versions are '{}'. The supported locations are ''.", supported.join(", ")),
        )
    }

    pub fn invalid_request_content(detail: &str) -> Self {
        ArmError::new(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{detail}'."),
        )
    }

    pub fn unsupported_media_type(ct: &str) -> Self {
        ArmError::new(
            "UnsupportedMediaType",
            format!("The content media type '{ct}' is not supported. Only 'application/json' is supported."),
        )
    }

    pub fn request_entity_too_large(limit: usize) -> Self {
        ArmError::new(
            "RequestEntityTooLarge",
            format!("The request content size exceeds the maximum size of {limit} bytes."),
        )
    }

    pub fn invalid_subscription_id(x: &str) -> Self {
        ArmError::new(
            "InvalidSubscriptionId",
            format!("The provided subscription identifier '{x}' is malformed or invalid."),
        )
    }

    pub fn invalid_resource_namespace(ns: &str) -> Self {
        ArmError::new(
            "InvalidResourceNamespace",
            format!("The resource namespace '{ns}' is invalid."),
        )
    }

    pub fn invalid_resource_group_name(name: &str) -> Self {
        ArmError::new(
            "InvalidResourceGroupName",
            format!("The provided resource group name '{name}' has these invalid characters: '{}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.", invalid_chars(name)),
        )
    }

    pub fn location_required() -> Self {
        ArmError::new(
            "LocationRequired",
            "The location property is required for this definition.",
        )
    }

    pub fn invalid_filter(f: &str) -> Self {
        ArmError::new(
            "InvalidFilter",
            format!("The filter '{f}' is not supported."),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ArmError::new("BadRequest", message)
    }

    // --- not found (404) ---

    pub fn subscription_not_found(sub: &str) -> Self {
        ArmError::new(
            "SubscriptionNotFound",
            format!("The subscription '{sub}' could not be found."),
        )
    }

    pub fn resource_group_not_found(rg: &str) -> Self {
        ArmError::new(
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        )
    }

    pub fn resource_not_found(type_and_name: &str, rg: &str) -> Self {
        ArmError::new(
            "ResourceNotFound",
            format!("The Resource '{type_and_name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"),
        )
    }

    pub fn role_definition_does_not_exist(guid: &str) -> Self {
        ArmError::new(
            "RoleDefinitionDoesNotExist",
            format!("The specified role definition with ID '{guid}' does not exist."),
        )
    }

    pub fn role_assignment_not_found() -> Self {
        ArmError::new(
            "RoleAssignmentNotFound",
            "The role assignment could not be found.",
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ArmError::new("NotFound", message)
    }

    pub fn method_not_allowed(method: &str) -> Self {
        let mut e = ArmError::new(
            "MethodNotAllowed",
            format!("The requested resource does not support http method '{method}'."),
        );
        e.aspnet_style = true;
        e
    }

    // --- conflict (409) ---

    pub fn role_assignment_exists(existing_guid: &str) -> Self {
        ArmError::new(
            "RoleAssignmentExists",
            format!(
                "The role assignment already exists. The ID of the existing role assignment is {}.",
                existing_guid.replace('-', "")
            ),
        )
    }

    pub fn role_assignment_update_not_permitted() -> Self {
        ArmError::new(
            "RoleAssignmentUpdateNotPermitted",
            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
        )
    }

    pub fn principal_not_found(oid: &str, tid: &str) -> Self {
        ArmError::new(
            "PrincipalNotFound",
            format!("Principal {} does not exist in the directory {tid}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype", oid.replace('-', "")),
        )
    }

    pub fn resource_group_being_deleted(rg: &str) -> Self {
        ArmError::new(
            "ResourceGroupBeingDeleted",
            format!("The resource group '{rg}' is in deprovisioning state and cannot perform this operation."),
        )
    }

    pub fn scope_locked(target: &str, op: &str, locked: &[String]) -> Self {
        ArmError::new(
            "ScopeLocked",
            format!(
                "The scope '{target}' cannot perform {op} operation because following scope(s) are locked: '{}'. Please remove the lock and try again.",
                locked.join("','")
            ),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ArmError::new("Conflict", message)
    }

    pub fn internal() -> Self {
        ArmError::new(
            "InternalServerError",
            "Encountered internal server error. Diagnostic information: the emulator logged the cause.",
        )
    }
}

fn invalid_chars(name: &str) -> String {
    name.chars()
        .filter(|c| !(c.is_alphanumeric() || matches!(c, '-' | '.' | '(' | ')' | '_')))
        .collect()
}

/// ARM's `WWW-Authenticate` challenge; clients parse `authorization_uri` to discover the tenant.
pub fn challenge(authority: &str, description: &str) -> String {
    format!(
        "Bearer authorization_uri=\"{authority}\", error=\"invalid_token\", error_description=\"{description}\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_table() {
        assert_eq!(
            ArmError::authorization_failed("a", "b", "c", "d").status,
            403
        );
        assert_eq!(ArmError::missing_api_version().status, 400);
        assert_eq!(
            ArmError::scope_locked("s", "delete", &["l".into()]).status,
            409
        );
        assert_eq!(ArmError::subscription_not_found("x").status, 404);
        assert_eq!(
            ArmError::invalid_authentication_token_tenant("https://l", "a", "b").status,
            401
        );
    }

    #[test]
    fn envelope_has_code_and_message() {
        let b = ArmError::resource_group_not_found("rg1").body();
        assert_eq!(b["error"]["code"], "ResourceGroupNotFound");
        assert_eq!(
            b["error"]["message"],
            "Resource group 'rg1' could not be found."
        );
        let m = ArmError::method_not_allowed("PUT").body();
        assert_eq!(
            m["Message"],
            "The requested resource does not support http method 'PUT'."
        );
    }
}
