//! How each x-ms-example of the Azure Monitor data collection specs (dataCollectionEndpoints_API.json
//! 2022-06-01) maps onto the default world: the example's subscription is fabrikam-prod and its
//! resource group rg-web, admin@fabrikam asks, and the endpoint an example lists or deletes is
//! first made in setup. Examples the stored copy of the spec lacks are excluded.

use crate::spec_plans::{Case, Plan};
use crate::*;
use serde_json::{json, Value};

const DCE_SUB: &str = "703362b3-f278-4e4b-9179-c76eaf41ffc2";

fn base(example_sub: &str) -> Case {
    Case::new("admin@fabrikam", &[(example_sub, FABRIKAM_PROD)])
        .set("subscriptionId", json!(FABRIKAM_PROD))
        .set("resourceGroupName", json!("rg-web"))
}

fn dce(c: Case, name: &str) -> Case {
    c.setup(
        "PUT",
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Insights/dataCollectionEndpoints/{name}?api-version=2022-06-01"),
        Some(json!({"location": "eastus", "tags": {"tag1": "A", "tag2": "B"},
            "properties": {"networkAcls": {"publicNetworkAccess": "Enabled"}}})),
    )
}

const MISSING_FILE: &str = "the example file is missing from the stored copy of the spec (only DataCollectionEndpointsDelete.json and DataCollectionEndpointsListBySubscription.json of its six are there)";

pub fn data_collection_endpoints(name: &str) -> Option<Plan> {
    match name {
        "DataCollectionEndpointsListBySubscription" => dce(base(DCE_SUB), "myCollectionEndpoint")
            .set("resourceGroupName", Value::Null)
            .missing(".nextLink", "the example's nextLink is null; the emulator answers every endpoint in one page and, as ARM does, leaves nextLink out of the last page")
            .go(),
        "DataCollectionEndpointsDelete" => dce(base(DCE_SUB), "myCollectionEndpoint").go(),
        "DataCollectionEndpointsListByResourceGroup"
        | "DataCollectionEndpointsGet"
        | "DataCollectionEndpointsCreate"
        | "DataCollectionEndpointsUpdate" => Some(Plan::Excluded(MISSING_FILE)),
        _ => None,
    }
}

const DCR_API: &str = "api-version=2023-03-11";

/// A rule of the list example's shape (its first rule's body) in rg-web, with the workspace it
/// sends to.
fn dcr(c: Case, name: &str) -> Case {
    let dir = "datacollectionrules/2023-03-11";
    let path = format!(
        "{}/tests/spec-examples/{dir}/examples/DataCollectionRulesListBySubscription.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace(DCE_SUB, FABRIKAM_PROD)
        .replace("myResourceGroup", "rg-web");
    let ex: Value = serde_json::from_str(&text).unwrap();
    let first = &ex["responses"]["200"]["body"]["value"][0];
    let mut props = first["properties"].clone();
    let props = props.as_object_mut().unwrap();
    props.remove("immutableId");
    props["destinations"]["logAnalytics"][0]
        .as_object_mut()
        .unwrap()
        .remove("workspaceId");
    workspace(c).setup(
        "PUT",
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Insights/dataCollectionRules/{name}?{DCR_API}"),
        Some(json!({"location": first["location"], "tags": first["tags"], "properties": props})),
    )
}

/// The Log Analytics workspace the examples' rules send to.
fn workspace(c: Case) -> Case {
    c.setup(
        "PUT",
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.OperationalInsights/workspaces/centralTeamWorkspace?api-version=2025-07-01"),
        Some(json!({"location": "eastus"})),
    )
}

const DCR_MISSING_FILE: &str = "the example file is missing from the stored copy of the spec (three of its nine examples are there: CreateEnrichment, ListBySubscription, Update)";

pub fn data_collection_rules(name: &str) -> Option<Plan> {
    let base = || base(DCE_SUB).sub("myResourceGroup", "rg-web");
    match name {
        "DataCollectionRulesCreateEnrichment" => {
            dce(workspace(base()), "myDataCollectionEndpoint").go()
        }
        "DataCollectionRulesUpdate" => dcr(base(), "myCollectionRule").go(),
        "DataCollectionRulesListBySubscription" => dcr(base(), "myCollectionRule")
            .set("resourceGroupName", Value::Null)
            .missing(".nextLink", "the example's nextLink is null; the emulator answers every rule in one page and, as ARM does, leaves nextLink out of the last page")
            .go(),
        "DataCollectionRulesListByResourceGroup"
        | "DataCollectionRulesGet"
        | "DataCollectionRulesCreate"
        | "DataCollectionRulesCreateAgentSettings"
        | "DataCollectionRulesCreateEmbeddedDCE"
        | "DataCollectionRulesDelete" => Some(Plan::Excluded(DCR_MISSING_FILE)),
        _ => None,
    }
}
