//! How each x-ms-example of the Azure Monitor data collection specs (dataCollectionEndpoints_API.json
//! 2022-06-01) maps onto the default world: the example's subscription is fabrikam-prod and its
//! resource group rg-web, admin@fabrikam asks, and the endpoint an example lists or deletes is
//! first made in setup. The one example no stored copy of the spec has is excluded.

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

const NEXT_LINK: &str = "the example's nextLink is null; the emulator answers every endpoint in one page and, as ARM does, leaves nextLink out of the last page";

pub fn data_collection_endpoints(name: &str) -> Option<Plan> {
    match name {
        "DataCollectionEndpointsListBySubscription" => dce(base(DCE_SUB), "myCollectionEndpoint")
            .set("resourceGroupName", Value::Null)
            .missing(".nextLink", NEXT_LINK)
            .go(),
        "DataCollectionEndpointsListByResourceGroup" => dce(
            dce(base(DCE_SUB), "myCollectionEndpoint"),
            "herCollectionEndpoint",
        )
        .missing(".nextLink", NEXT_LINK)
        .go(),
        "DataCollectionEndpointsCreate" => base(DCE_SUB)
            .missing(".tags*", "the example's response shows tags its request does not send; the emulator stores what was sent")
            .go(),
        "DataCollectionEndpointsDelete"
        | "DataCollectionEndpointsGet"
        | "DataCollectionEndpointsUpdate" => dce(base(DCE_SUB), "myCollectionEndpoint").go(),
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

const DCR_MISSING_FILE: &str = "the example file is in no stored copy of the upstream repository: DataCollectionRulesCreate.json of 2023-03-11 was looked for under Microsoft.Insights/stable/2023-03-11/examples/, Microsoft.Insights/Insights/stable/2023-03-11/examples/ and the DataCollection, DataCollectionApi and DataCollection.Management example folders (which hold 2024-03-11 only)";

pub fn data_collection_rules(name: &str) -> Option<Plan> {
    let base = || base(DCE_SUB).sub("myResourceGroup", "rg-web");
    match name {
        "DataCollectionRulesCreateEnrichment" => {
            dce(workspace(base()), "myDataCollectionEndpoint").go()
        }
        "DataCollectionRulesCreateAgentSettings" => base().go(),
        // The example's data flow sends to 'myworkspace', a destination its rule does not define
        // (its one destination is 'centralWorkspace'); the emulator refuses such a rule with 400
        // InvalidPayload, so the flow is pointed at the rule's own destination.
        "DataCollectionRulesCreateEmbeddedDCE" => {
            workspace(base())
                .sub("myworkspace", "centralWorkspace")
                .missing(".properties.endpoints.metricsIngestion", "the emulator serves the Logs Ingestion API (its URL is the rule's logsIngestion endpoint) and no metrics ingestion, so a Direct rule gets no metricsIngestion endpoint")
                .go()
        }
        "DataCollectionRulesUpdate" | "DataCollectionRulesGet" | "DataCollectionRulesDelete" => {
            dcr(base(), "myCollectionRule").go()
        }
        "DataCollectionRulesListBySubscription" => dcr(base(), "myCollectionRule")
            .set("resourceGroupName", Value::Null)
            .missing(".nextLink", "the example's nextLink is null; the emulator answers every rule in one page and, as ARM does, leaves nextLink out of the last page")
            .go(),
        "DataCollectionRulesListByResourceGroup" => dcr(dcr(base(), "myCollectionRule"), "herCollectionRule")
            .missing(".nextLink", "the example's nextLink is null; the emulator answers every rule in one page and, as ARM does, leaves nextLink out of the last page")
            .go(),
        "DataCollectionRulesCreate" => Some(Plan::Excluded(DCR_MISSING_FILE)),
        _ => None,
    }
}
