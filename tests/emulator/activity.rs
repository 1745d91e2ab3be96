//! The activity log over the wire: delegated writes land in the customer subscription's log with the
//! managing tenant in the claims, refusals are logged as Failed, the `$filter`/`$select` grammar, and
//! the managing tenant's tenant-level delegation events.

use crate::*;
use lighthouse_emulator::clock::arm_time;
use serde_json::{json, Value};

const CORRELATION: &str = "c0ffee00-0000-0000-0000-000000000001";

/// A write with the correlation and client request ids a real SDK sends.
async fn write(
    e: &Emu,
    method: &str,
    path: &str,
    token: &str,
    correlation: &str,
    body: Option<Value>,
) -> Resp {
    let auth = format!("Bearer {token}");
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    e.raw(
        method,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
            ("x-ms-correlation-request-id", correlation),
            (
                "x-ms-client-request-id",
                "d0000000-0000-0000-0000-0000000000aa",
            ),
        ],
        bytes,
    )
    .await
}

/// The last hour to the next, on the emulator's clock.
fn window(e: &Emu) -> String {
    let now = e.app.clock.now();
    format!(
        "eventTimestamp ge '{}' and eventTimestamp le '{}'",
        arm_time(now - time::Duration::hours(1)),
        arm_time(now + time::Duration::hours(1))
    )
}

fn log_path(scope: &str, filter: Option<&str>, select: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("api-version", "2015-04-01");
    if let Some(f) = filter {
        q.append_pair("$filter", f);
    }
    if let Some(s) = select {
        q.append_pair("$select", s);
    }
    format!(
        "{scope}/providers/Microsoft.Insights/eventtypes/management/values?{}",
        q.finish()
    )
}

fn sub_log(filter: Option<&str>, select: Option<&str>) -> String {
    log_path(&format!("/subscriptions/{FABRIKAM_PROD}"), filter, select)
}

async fn count_events(e: &Emu, token: &str, filter: String) -> usize {
    values(
        &e.call("GET", &sub_log(Some(&filter), None), Some(token), None)
            .await,
    )
    .len()
}

fn values(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["value"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn delegated_write_is_logged_in_the_customer_subscription() {
    let e = emu().await;
    let alice = e.token("alice").await;
    let rg =
        format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-alice?api-version=2024-11-01");
    let r = write(
        &e,
        "PUT",
        &rg,
        &alice,
        CORRELATION,
        Some(json!({"location": "westeurope"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let admin = e.token("admin@fabrikam").await;
    let filter = format!("{} and correlationId eq '{CORRELATION}'", window(&e));
    let events = values(
        &e.call("GET", &sub_log(Some(&filter), None), Some(&admin), None)
            .await,
    );
    assert_eq!(events.len(), 2, "{events:#?}");
    let (end, begin) = (&events[0], &events[1]);
    let rid = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-alice");
    let action = "Microsoft.Resources/subscriptions/resourceGroups/write";

    for ev in [begin, end] {
        assert_eq!(ev["caller"], "alice@contosomsp.onmicrosoft.com");
        assert_eq!(ev["channels"], "Operation");
        assert_eq!(ev["correlationId"], CORRELATION);
        assert_eq!(ev["description"], "");
        assert_eq!(ev["category"]["value"], "Administrative");
        assert_eq!(ev["tenantId"], FABRIKAM);
        assert_eq!(ev["subscriptionId"], FABRIKAM_PROD);
        assert_eq!(ev["resourceId"], rid.as_str());
        assert_eq!(ev["resourceGroupName"], "rg-alice");
        assert_eq!(ev["resourceProviderName"]["value"], "Microsoft.Resources");
        assert_eq!(
            ev["resourceType"]["value"],
            "Microsoft.Resources/subscriptions/resourceGroups"
        );
        assert_eq!(ev["operationName"]["value"], action);
        assert_eq!(
            ev["operationName"]["localizedValue"],
            "Create or Update Resource Group"
        );
        assert_eq!(
            ev["properties"]["hierarchy"],
            format!("{FABRIKAM}/{FABRIKAM_PROD}")
        );
        assert_eq!(ev["properties"]["entity"], rid.as_str());
        assert_eq!(ev["httpRequest"]["method"], "PUT");
        assert_eq!(ev["httpRequest"]["clientIpAddress"], "127.0.0.1");
        assert_eq!(
            ev["httpRequest"]["clientRequestId"],
            "d0000000-0000-0000-0000-0000000000aa"
        );
        assert!(ev["httpRequest"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/resourcegroups/rg-alice?api-version=2024-11-01"));
        let claims = &ev["claims"];
        assert_eq!(
            claims["http://schemas.microsoft.com/identity/claims/tenantid"],
            CONTOSO
        );
        assert_eq!(
            claims["http://schemas.microsoft.com/identity/claims/objectidentifier"],
            "30000000-0000-0000-0000-000000001111"
        );
        assert_eq!(
            claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"],
            "alice@contosomsp.onmicrosoft.com"
        );
        assert_eq!(claims["iss"], format!("https://sts.windows.net/{CONTOSO}/"));
        assert!(claims["exp"].is_string(), "claims are strings: {claims}");
        assert_eq!(
            ev["authorization"],
            json!({
                "action": action,
                "scope": rid,
                "evidence": {
                    "role": "Contributor",
                    "roleAssignmentScope": format!("/subscriptions/{FABRIKAM_PROD}"),
                    "roleAssignmentId": "60000000000000000000000000002001",
                    "roleDefinitionId": "b24988ac618042a0ab8820f7382dd24c",
                    "principalId": "30000000000000000000000000001101",
                    "principalType": "Group",
                },
            })
        );
        let ts = ev["eventTimestamp"].as_str().unwrap();
        assert_eq!(ts.len(), "2024-05-01T10:00:00.1234567Z".len(), "{ts}");
        assert!(ev["id"].as_str().unwrap().starts_with(&format!(
            "{rid}/events/{}/ticks/",
            ev["eventDataId"].as_str().unwrap()
        )));
    }
    assert_eq!(begin["eventName"]["value"], "BeginRequest");
    assert_eq!(begin["status"]["value"], "Started");
    assert_eq!(end["eventName"]["value"], "EndRequest");
    assert_eq!(end["status"]["value"], "Succeeded");
    assert_eq!(end["level"], "Informational");
    assert_eq!(
        end["subStatus"],
        json!({"value": "Created", "localizedValue": "Created (HTTP Status Code: 201)"})
    );
    assert_eq!(end["properties"]["statusCode"], "Created");
    assert_eq!(begin["operationId"], end["operationId"]);
    assert_ne!(begin["eventDataId"], end["eventDataId"]);

    // The subscription's log names the request among everything else in the window, newest first.
    let all = values(
        &e.call("GET", &sub_log(Some(&window(&e)), None), Some(&admin), None)
            .await,
    );
    assert_eq!(all.len(), 2, "world replay leaves no events: {all:#?}");
    assert_eq!(all[0]["eventName"]["value"], "EndRequest");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_write_is_logged_as_failed() {
    let e = emu().await;
    let reader = e.token("reader@fabrikam").await;
    let corr = "c0ffee00-0000-0000-0000-000000000403";
    let rg =
        format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-nope?api-version=2024-11-01");
    let refused = write(
        &e,
        "PUT",
        &rg,
        &reader,
        corr,
        Some(json!({"location": "westeurope"})),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "AuthorizationFailed")
    );

    let admin = e.token("admin@fabrikam").await;
    let filter = format!("{} and correlationId eq '{corr}'", window(&e));
    let events = values(
        &e.call("GET", &sub_log(Some(&filter), None), Some(&admin), None)
            .await,
    );
    assert_eq!(events.len(), 2);
    let end = &events[0];
    assert_eq!(end["caller"], "reader@fabrikam.onmicrosoft.com");
    assert_eq!(end["eventName"]["value"], "EndRequest");
    assert_eq!(
        end["status"],
        json!({"value": "Failed", "localizedValue": "Failed"})
    );
    assert_eq!(end["level"], "Error");
    assert_eq!(
        end["subStatus"],
        json!({"value": "Forbidden", "localizedValue": "Forbidden (HTTP Status Code: 403)"})
    );
    assert_eq!(end["properties"]["statusCode"], "Forbidden");
    let message: Value =
        serde_json::from_str(end["properties"]["statusMessage"].as_str().unwrap()).unwrap();
    assert_eq!(message, refused.body);
    assert_eq!(
        end["authorization"],
        json!({
            "action": "Microsoft.Resources/subscriptions/resourceGroups/write",
            "scope": format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-nope"),
        })
    );
    assert_eq!(
        end["claims"]["http://schemas.microsoft.com/identity/claims/tenantid"],
        FABRIKAM
    );
    assert_eq!(events[1]["status"]["value"], "Started");

    // Only failures: levels eq 'Error'.
    let errors = format!("{} and levels eq 'Error'", window(&e));
    let failed = values(
        &e.call("GET", &sub_log(Some(&errors), None), Some(&admin), None)
            .await,
    );
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["eventDataId"], end["eventDataId"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn delegated_reader_reads_the_customer_log() {
    let e = emu().await;
    let alice = e.token("alice").await;
    let rg =
        format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-bob-sees?api-version=2024-11-01");
    let r = write(
        &e,
        "PUT",
        &rg,
        &alice,
        CORRELATION,
        Some(json!({"location": "westeurope"})),
    )
    .await;
    assert_eq!(r.status, 201);

    // bob: MSP Readers → Reader on fabrikam-prod through the delegation.
    let bob = e.token("bob").await;
    let r = e
        .call("GET", &sub_log(Some(&window(&e)), None), Some(&bob), None)
        .await;
    let events = values(&r);
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|ev| ev["caller"] == "alice@contosomsp.onmicrosoft.com"));
    assert!(
        r.header("x-ms-emulator-decision").contains("delegated"),
        "{:?}",
        r.headers
    );

    // fabrikam-dev is not delegated: the managing tenant's token is from the wrong issuer there.
    let dev = log_path(
        &format!("/subscriptions/{FABRIKAM_DEV}"),
        Some(&window(&e)),
        None,
    );
    let r = e.call("GET", &dev, Some(&bob), None).await;
    assert_eq!(
        (r.status, r.code()),
        (401, "InvalidAuthenticationTokenTenant")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_select_and_reads() {
    let e = emu().await;
    let alice = e.token("alice").await;
    let admin = e.token("admin@fabrikam").await;
    for (rg, corr) in [
        ("rg-one", "c0ffee00-0000-0000-0000-000000000011"),
        ("rg-two", "c0ffee00-0000-0000-0000-000000000012"),
    ] {
        let p =
            format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/{rg}?api-version=2024-11-01");
        let r = write(
            &e,
            "PUT",
            &p,
            &alice,
            corr,
            Some(json!({"location": "westeurope"})),
        )
        .await;
        assert_eq!(r.status, 201);
    }
    // GETs are not logged.
    let get =
        format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-one?api-version=2024-11-01");
    let read_corr = "c0ffee00-0000-0000-0000-0000000000ff";
    let r = write(&e, "GET", &get, &alice, read_corr, None).await;
    assert_eq!(r.status, 200);
    let f = format!("{} and correlationId eq '{read_corr}'", window(&e));
    assert!(values(
        &e.call("GET", &sub_log(Some(&f), None), Some(&admin), None)
            .await
    )
    .is_empty());

    let w = window(&e);
    let count = |filter: String| count_events(&e, &admin, filter);
    assert_eq!(count(w.clone()).await, 4);
    assert_eq!(
        count(format!("{w} and resourceGroupName eq 'RG-ONE'")).await,
        2
    );
    assert_eq!(
        count(format!(
            "resourceUri eq '/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-two' and {w}"
        ))
        .await,
        2
    );
    assert_eq!(
        count(format!("{w} and resourceProvider eq 'microsoft.resources'")).await,
        4
    );
    assert_eq!(
        count(format!("{w} and resourceProvider eq 'Microsoft.Compute'")).await,
        0
    );
    assert_eq!(
        count(format!(
            "{w} and correlationId eq 'C0FFEE00-0000-0000-0000-000000000012'"
        ))
        .await,
        2
    );
    // A window in the past holds nothing.
    let now = e.app.clock.now();
    let past = format!(
        "eventTimestamp ge '{}' and eventTimestamp le '{}'",
        arm_time(now - time::Duration::days(2)),
        arm_time(now - time::Duration::days(1))
    );
    assert_eq!(count(past).await, 0);

    // $select keeps only the named top-level fields.
    let sel = e
        .call(
            "GET",
            &sub_log(Some(&w), Some("caller,Status")),
            Some(&admin),
            None,
        )
        .await;
    let events = values(&sel);
    assert_eq!(events.len(), 4);
    for ev in &events {
        let keys: Vec<&String> = ev.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["caller", "status"], "{ev}");
        assert_eq!(ev["caller"], "alice@contosomsp.onmicrosoft.com");
    }
    assert_eq!(events[0]["status"]["value"], "Succeeded");
    assert_eq!(events[1]["status"]["value"], "Started");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_filters_are_refused() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let w = window(&e);
    let now = e.app.clock.now();
    for (filter, expect_in_message) in [
        (None, "The $filter query parameter is required"),
        (
            Some("garbage".to_string()),
            "The $filter 'garbage' is invalid",
        ),
        (
            Some(format!("{w} and status eq 'Failed'")),
            "'status' is not a supported filter field",
        ),
        (
            Some(format!(
                "{w} and resourceGroupName eq 'a' and correlationId eq 'b'"
            )),
            "only one of",
        ),
        (
            Some("resourceGroupName eq 'rg-web'".to_string()),
            "start time",
        ),
        (
            Some(format!(
                "eventTimestamp ge '{}'",
                arm_time(now - time::Duration::days(91))
            )),
            "more than 90 days in the past",
        ),
    ] {
        let r = e
            .call("GET", &sub_log(filter.as_deref(), None), Some(&admin), None)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "BadRequest"),
            "{filter:?}: {}",
            r.body
        );
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(expect_in_message), "{filter:?}: {msg}");
    }
    // 89 days back is within retention; only the start is required.
    let recent = format!(
        "eventTimestamp ge '{}'",
        arm_time(now - time::Duration::days(89))
    );
    let r = e
        .call("GET", &sub_log(Some(&recent), None), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The one api-version.
    let p = sub_log(Some(&w), None).replace("2015-04-01", "2023-01-01");
    let r = e.call("GET", &p, Some(&admin), None).await;
    assert_eq!((r.status, r.code()), (400, "InvalidApiVersionParameter"));
}

/// Onboarding and offboarding fabrikam-dev through the ManagedServices API as the customer's Owner;
/// the managing tenant reads the register/unregister events from its tenant-level log.
#[tokio::test(flavor = "multi_thread")]
async fn delegation_changes_reach_the_managing_tenant_log() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let def = format!(
        "/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationDefinitions/51000000-0000-0000-0000-000000002002"
    );
    let asg = format!(
        "/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationAssignments/61000000-0000-0000-0000-000000002002"
    );
    let r = write(
        &e,
        "PUT",
        &format!("{def}?api-version=2022-10-01"),
        &admin,
        "c0ffee00-0000-0000-0000-00000000de01",
        Some(json!({"properties": {
            "registrationDefinitionName": "Contoso MSP - Fabrikam dev",
            "description": "Contoso MSP manages fabrikam-dev",
            "managedByTenantId": CONTOSO,
            "authorizations": [{
                "principalId": "30000000-0000-0000-0000-000000001101",
                "principalIdDisplayName": "MSP Operators",
                "roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c",
            }],
        }})),
    )
    .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let r = write(
        &e,
        "PUT",
        &format!("{asg}?api-version=2022-10-01"),
        &admin,
        "c0ffee00-0000-0000-0000-00000000de02",
        Some(json!({"properties": {"registrationDefinitionId": def}})),
    )
    .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);

    let tenant_filter = format!("{} and eventChannels eq 'Admin, Operation'", window(&e));
    let tenant_log = log_path("", Some(&tenant_filter), None);
    let alice = e.token("alice").await;
    let events = values(&e.call("GET", &tenant_log, Some(&alice), None).await);
    assert_eq!(events.len(), 1, "{events:#?}");
    let ev = &events[0];
    assert_eq!(
        ev["operationName"]["value"],
        "Microsoft.Resources/tenants/register/action"
    );
    assert_eq!(ev["eventName"]["value"], "EndRequest");
    assert_eq!(ev["status"]["value"], "Succeeded");
    assert_eq!(ev["tenantId"], CONTOSO);
    assert_eq!(ev["caller"], "admin@fabrikam.onmicrosoft.com");
    assert_eq!(ev["correlationId"], "c0ffee00-0000-0000-0000-00000000de02");
    let description: Value = serde_json::from_str(ev["description"].as_str().unwrap()).unwrap();
    assert_eq!(
        description,
        json!({
            "delegationResourceId": asg,
            "subscriptionTenantId": FABRIKAM,
            "subscriptionId": FABRIKAM_DEV,
        })
    );

    // The customer's own tenant-level log does not carry the managing tenant's events.
    let own = values(&e.call("GET", &tenant_log, Some(&admin), None).await);
    assert!(own.is_empty(), "{own:#?}");

    // Offboarding: DELETE of the assignment logs unregister.
    let r = write(
        &e,
        "DELETE",
        &format!("{asg}?api-version=2022-10-01"),
        &admin,
        "c0ffee00-0000-0000-0000-00000000de03",
        None,
    )
    .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let events = values(&e.call("GET", &tenant_log, Some(&alice), None).await);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(
        events[0]["operationName"]["value"],
        "Microsoft.Resources/tenants/unregister/action"
    );
    assert_eq!(
        events[0]["correlationId"],
        "c0ffee00-0000-0000-0000-00000000de03"
    );

    // The subscription's own log has Begin + End of all three writes.
    let sub_events = values(
        &e.call(
            "GET",
            &log_path(
                &format!("/subscriptions/{FABRIKAM_DEV}"),
                Some(&window(&e)),
                None,
            ),
            Some(&admin),
            None,
        )
        .await,
    );
    assert_eq!(sub_events.len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_log_needs_a_role_that_reads_it() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let tenant_log = log_path("", Some(&window(&e)), None);
    let reader = e.token("reader@fabrikam").await;
    assert_eq!(
        e.call("GET", &tenant_log, Some(&reader), None).await.status,
        200
    );

    // Without its Reader assignment reader@fabrikam keeps only Storage Blob Data Reader.
    let ra = format!(
        "/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleAssignments/70000000-0000-0000-0000-000000002005?api-version=2022-04-01"
    );
    let r = e.call("DELETE", &ra, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e.call("GET", &tenant_log, Some(&reader), None).await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'Microsoft.Insights/eventtypes/values/read' over scope '/'"));

    // Missing filter on the tenant route too.
    let r = e
        .call("GET", &log_path("", None, None), Some(&admin), None)
        .await;
    assert_eq!((r.status, r.code()), (400, "BadRequest"));
}
