//! The host names the emulator answers besides its own: the data plane's host-style names under the
//! cloud's suffixes (`{account}.blob.core.windows.net`, `{vault}.vault.azure.net`) and the Log Analytics
//! query API (`api.loganalytics.io`), which clients reach
//! through the emulator's port as an HTTP CONNECT proxy. Pure: names in, names out. The suffixes are
//! the ones `/metadata/endpoints` publishes (`suffixes.storage`, `suffixes.keyVaultDns`).

use crate::world::{is_storage_account_name, is_vault_name};

/// `suffixes.storage` of the emulator's cloud: Blob endpoints are `{account}.blob.{this}`.
pub const STORAGE_SUFFIX: &str = "core.windows.net";
/// `suffixes.keyVaultDns`: vaults are `{vault}.{this}`.
pub const KEY_VAULT_DNS: &str = "vault.azure.net";

/// What a host name addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hosted {
    /// `{account}.blob.core.windows.net`
    Blob(String),
    /// `{vault}.vault.azure.net`
    Vault(String),
    /// `api.loganalytics.io` (and its `api.loganalytics.azure.com` alias): the Log Analytics query API.
    LogAnalytics,
    /// `localhost`, `127.0.0.1`, `::1`: the emulator itself.
    Local,
}

/// The Log Analytics query API's host names (`LogsQueryClient`'s default endpoint, and the alias).
pub const LOG_ANALYTICS_HOSTS: &[&str] = &["api.loganalytics.io", "api.loganalytics.azure.com"];

/// The host of a `Host` header or CONNECT target, without its port, lower-cased.
pub fn host_only(authority: &str) -> String {
    let a = authority.trim();
    let h = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        a.rsplit_once(':')
            .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
            .map(|(h, _)| h)
            .unwrap_or(a)
    };
    h.trim_end_matches('.').to_ascii_lowercase()
}

/// Which data-plane resource, if any, a host name addresses.
pub fn hosted(authority: &str) -> Option<Hosted> {
    let h = host_only(authority);
    if matches!(h.as_str(), "localhost" | "127.0.0.1" | "::1") {
        return Some(Hosted::Local);
    }
    if LOG_ANALYTICS_HOSTS.contains(&h.as_str()) {
        return Some(Hosted::LogAnalytics);
    }
    if let Some(account) = h.strip_suffix(&format!(".blob.{STORAGE_SUFFIX}")) {
        return is_storage_account_name(account).then(|| Hosted::Blob(account.to_string()));
    }
    if let Some(vault) = h.strip_suffix(&format!(".{KEY_VAULT_DNS}")) {
        return is_vault_name(vault).then(|| Hosted::Vault(vault.to_string()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_map_to_accounts_and_vaults() {
        let cases: &[(&str, Option<Hosted>)] = &[
            (
                "fabrikamdata.blob.core.windows.net",
                Some(Hosted::Blob("fabrikamdata".into())),
            ),
            (
                "FabrikamData.blob.core.windows.net:443",
                Some(Hosted::Blob("fabrikamdata".into())),
            ),
            (
                "fabrikam-kv.vault.azure.net",
                Some(Hosted::Vault("fabrikam-kv".into())),
            ),
            (
                "fabrikam-kv.vault.azure.net.:443",
                Some(Hosted::Vault("fabrikam-kv".into())),
            ),
            ("localhost:8443", Some(Hosted::Local)),
            ("[::1]:8443", Some(Hosted::Local)),
            ("127.0.0.1", Some(Hosted::Local)),
            ("a.b.blob.core.windows.net", None),
            ("UPPER_bad.blob.core.windows.net", None),
            ("fabrikamdata.queue.core.windows.net", None),
            ("x.vault.azure.net", None), // vault names have 3–24 characters
            ("example.com:443", None),
            ("management.azure.com", None),
            ("api.loganalytics.io:443", Some(Hosted::LogAnalytics)),
            ("API.LogAnalytics.azure.com", Some(Hosted::LogAnalytics)),
            ("x.api.loganalytics.io", None),
        ];
        for (host, want) in cases {
            assert_eq!(&hosted(host), want, "{host}");
        }
    }
}
