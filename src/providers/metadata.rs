//! Cloud metadata (`/metadata/endpoints`, every shape az, Terraform and Azure Stack tooling ask for)
//! pointing every endpoint at this emulator (Microsoft Graph is `crate::graph`). Follows ARM-FACTS.md §10
//! and CLIENTS.md §2.6.

use serde_json::{json, Value};

use crate::arm::error::ArmError;
use crate::hosts::{KEY_VAULT_DNS, STORAGE_SUFFIX};
use crate::wire::{Reply, Req};

pub const CLOUD_NAME: &str = "LighthouseEmulator";

fn cloud(base: &str, name: &str) -> Value {
    json!({
        "portal": base,
        "authentication": {
            "loginEndpoint": base,
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/", format!("{base}/")],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "media": base,
        "graphAudience": format!("{base}/"),
        "graph": format!("{base}/"),
        "name": name,
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": KEY_VAULT_DNS,
            "storage": STORAGE_SUFFIX,
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net",
        },
        "batch": format!("{base}/"),
        "resourceManager": format!("{base}/"),
        "vmImageAliasDoc": format!("{base}/_emulator/vm-image-aliases.json"),
        "activeDirectoryDataLake": format!("{base}/"),
        "sqlManagement": format!("{base}/"),
        "microsoftGraphResourceId": format!("{base}/"),
        "appInsightsResourceId": base,
        "appInsightsTelemetryChannelResourceId": base,
        "attestationResourceId": base,
        "synapseAnalyticsResourceId": base,
        "logAnalyticsResourceId": base,
        "ossrDbmsResourceId": base,
    })
}

/// `GET /metadata/endpoints?api-version=…`: no token needed.
pub fn metadata_endpoints(req: &Req, base: &str) -> Result<Reply, ArmError> {
    let v = req.query("api-version").unwrap_or("2022-09-01");
    let body = match v {
        "2015-01-01" | "2018-01-01" => {
            let mut b = json!({
                "galleryEndpoint": format!("{base}/"),
                "graphEndpoint": format!("{base}/"),
                "portalEndpoint": format!("{base}/"),
                "authentication": {"loginEndpoint": format!("{base}/"), "audiences": ["https://management.azure.com/", format!("{base}/")]},
            });
            if v == "2018-01-01" {
                b["graphAudience"] = json!(format!("{base}/"));
                b["authentication"]["tenant"] = json!("common");
                b["authentication"]["identityProvider"] = json!("AAD");
            }
            b
        }
        "2019-05-01" | "2020-06-01" => {
            let mut c = cloud(base, CLOUD_NAME);
            c["gallery"] = json!(format!("{base}/"));
            json!([c])
        }
        _ if req.query("api-version").is_none() => json!([cloud(base, CLOUD_NAME)]),
        _ => cloud(base, CLOUD_NAME),
    };
    Ok(Reply::json(200, &body))
}
