//! Azure Policy aliases where ARM exposes them: `$expand=resourceTypes/aliases` on the providers
//! listing and on one provider, at subscription and tenant scope (resources spec 2025-04-01, Alias).

use super::*;

fn aliases_of<'a>(provider: &'a Value, rtype: &str) -> &'a Vec<Value> {
    provider["resourceTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["resourceType"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(rtype)
        })
        .unwrap_or_else(|| panic!("no resource type {rtype}"))["aliases"]
        .as_array()
        .unwrap_or_else(|| panic!("{rtype} has no aliases"))
}

#[tokio::test]
async fn providers_expand_resource_types_aliases() {
    let e = emu().await;
    let t = e.token("fabrikam-ci").await;
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Storage?$expand=resourceTypes/aliases&api-version=2021-04-01"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = aliases_of(&r.body, "storageAccounts");
    let https = a
        .iter()
        .find(|x| x["name"] == "Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly")
        .unwrap();
    assert_eq!(https["defaultPath"], "properties.supportsHttpsTrafficOnly");
    assert_eq!(https["defaultMetadata"]["attributes"], "Modifiable");
    assert_eq!(https["defaultMetadata"]["type"], "Boolean");

    // without $expand no aliases, as in Azure
    let r = e
        .call(
            "GET",
            &format!(
                "/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Storage?api-version=2021-04-01"
            ),
            Some(&t),
            None,
        )
        .await;
    assert!(r.body["resourceTypes"][0].get("aliases").is_none());

    // the subscription's list and the tenant-level provider
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/providers?$expand=resourceTypes/aliases&api-version=2021-04-01"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ms = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["namespace"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("Microsoft.ManagedServices")
        })
        .unwrap();
    assert!(aliases_of(ms, "registrationDefinitions").iter().any(
        |x| x["name"] == "Microsoft.ManagedServices/registrationDefinitions/managedByTenantId"
    ));
    let r = e
        .call(
            "GET",
            "/providers/Microsoft.KeyVault?$expand=resourceTypes/aliases&api-version=2021-04-01",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(aliases_of(&r.body, "vaults")
        .iter()
        .any(|x| x["name"] == "Microsoft.KeyVault/vaults/enableSoftDelete"));
}
