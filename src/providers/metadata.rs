//! Cloud metadata (`/metadata/endpoints`, every shape az, Terraform and Azure Stack tooling ask for)
//! pointing every endpoint at this emulator, and the sliver of Microsoft Graph the Azure CLI calls to
//! name principals (`directoryObjects/getByIds`). Follows ARM-FACTS.md §10 and CLIENTS.md §2.6.

use serde_json::{json, Value};

use crate::arm::error::ArmError;
use crate::directory::Directory;
use crate::wire::{Reply, Req};
use crate::world::PrincipalKind;

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
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
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

/// `POST /v1.0/directoryObjects/getByIds`: the directory objects with those ids.
pub fn graph_get_by_ids(req: &Req, dir: &Directory) -> Reply {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let ids: Vec<String> = body["ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let value: Vec<Value> = ids
        .iter()
        .filter_map(|id| dir.principal(id))
        .map(|p| match p.kind {
            PrincipalKind::User => json!({
                "@odata.type": "#microsoft.graph.user", "id": p.object_id, "displayName": p.display_name,
                "userPrincipalName": p.user_principal_name, "mail": p.user_principal_name,
            }),
            PrincipalKind::Group => json!({
                "@odata.type": "#microsoft.graph.group", "id": p.object_id, "displayName": p.display_name,
                "securityEnabled": true, "mailEnabled": false,
            }),
            PrincipalKind::ServicePrincipal => json!({
                "@odata.type": "#microsoft.graph.servicePrincipal", "id": p.object_id, "displayName": p.display_name,
                "appId": p.app_id, "servicePrincipalNames": [p.app_id], "servicePrincipalType": "Application",
            }),
        })
        .collect();
    Reply::json(
        200,
        &json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": value}),
    )
}
