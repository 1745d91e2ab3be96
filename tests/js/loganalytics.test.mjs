// Log Analytics with the unmodified Azure SDK for JavaScript (@azure/monitor-query-logs): fabrikam-ci makes
// a workspace and a subscription diagnostic setting (@azure/arm-resources, generic resources), writes in
// fabrikam-prod, and msp-automation — through Contoso's delegation — queries the workspace's AzureActivity;
// northwind-ci, with no role there, is refused.
//
//   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT NODE_EXTRA_CA_CERTS=<state-dir>/ca.pem \
//     node --test tests/js/loganalytics.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClientSecretCredential } from "@azure/identity";
import { ResourceManagementClient } from "@azure/arm-resources";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";

const URL_ = (process.env.LIGHTHOUSE_EMULATOR_URL || "").replace(/\/+$/, "");
if (!URL_ || !process.env.NODE_EXTRA_CA_CERTS) {
  console.error("set LIGHTHOUSE_EMULATOR_URL and NODE_EXTRA_CA_CERTS (see lighthouse-emulator env)");
  process.exit(2);
}
const CONTOSO = "10000000-0000-0000-0000-000000000001";
const FABRIKAM = "10000000-0000-0000-0000-000000000002";
const NORTHWIND = "10000000-0000-0000-0000-000000000003";
const FABRIKAM_PROD = "20000000-0000-0000-0000-000000002001";

const cred = (tenant, appId, secret) =>
  new ClientSecretCredential(tenant, appId, secret, { authorityHost: URL_, disableInstanceDiscovery: true });
const fabrikamCi = cred(FABRIKAM, "40000000-0000-0000-0000-000000002121", "fabrikam-ci-secret");
const msp = cred(CONTOSO, "40000000-0000-0000-0000-000000001121", "msp-automation-secret");
const northwindCi = cred(NORTHWIND, "40000000-0000-0000-0000-000000003121", "northwind-ci-secret");
const logs = (c) => new LogsQueryClient(c, { endpoint: `${URL_}/v1` });

test("a delegated provider queries a customer's AzureActivity; a principal without a role is refused", async () => {
  const rc = new ResourceManagementClient(fabrikamCi, FABRIKAM_PROD, { endpoint: URL_ });
  const name = `ws-js-${Date.now()}`;
  const wsId = `/subscriptions/${FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.OperationalInsights/workspaces/${name}`;
  const ws = await rc.resources.beginCreateOrUpdateByIdAndWait(wsId, "2025-07-01", { location: "westeurope" });
  const customerId = ws.properties.customerId;
  assert.match(customerId, /^[0-9a-f-]{36}$/);
  await rc.resources.beginCreateOrUpdateByIdAndWait(
    `/subscriptions/${FABRIKAM_PROD}/providers/Microsoft.Insights/diagnosticSettings/to-${name}`,
    "2021-05-01-preview",
    { properties: { workspaceId: wsId, logs: [{ category: "Administrative", enabled: true }] } },
  );
  const rg = `rg-${name}`;
  await rc.resourceGroups.createOrUpdate(rg, { location: "westeurope" });

  const r = await logs(msp).queryWorkspace(
    customerId,
    `AzureActivity | where ResourceGroup == '${rg.toUpperCase()}' | project TimeGenerated, Caller, TenantId, Claims_d`,
    { duration: "PT1H" },
  );
  assert.equal(r.status, LogsQueryResultStatus.Success);
  const rows = r.tables[0].rows;
  assert.equal(rows.length, 2); // Begin + End of the group's PUT
  for (const [time, caller, tenantId, claims] of rows) {
    assert.ok(time instanceof Date);
    assert.equal(caller, "40000000-0000-0000-0000-000000002121");
    assert.equal(tenantId, customerId);
    assert.equal(claims["http://schemas.microsoft.com/identity/claims/tenantid"], FABRIKAM);
  }

  await assert.rejects(logs(northwindCi).queryWorkspace(customerId, "AzureActivity | count", { duration: "PT1H" }), (e) => {
    assert.equal(e.statusCode, 403);
    return true;
  });
});
