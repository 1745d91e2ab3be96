// Cross-workspace Log Analytics queries with the unmodified Azure SDK for JavaScript (@azure/monitor-query-logs):
// admin@fabrikam and tailspin-ci each make a workspace in their own subscription (@azure/arm-resources, generic
// resources) with a subscription diagnostic setting streaming the activity log into it; alice (Contoso MSP)
// creates and deletes a resource group in both through the delegations; msp-automation — the provider, with no
// account in either customer tenant — reads both workspaces in ONE query (`additionalWorkspaces`, and
// `workspace("…")` inside the query), each row tagged with its workspace (TenantId) and subscription. A
// workspace the caller cannot read makes the answer partial (PartialError naming it), as the API does; as the
// primary workspace it is refused with 403 InsufficientAccessError.
//
//   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT NODE_EXTRA_CA_CERTS=<state-dir>/ca.pem \
//     node --test tests/js/loganalytics_cross.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ClientSecretCredential, UsernamePasswordCredential } from "@azure/identity";
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
const TAILSPIN = "10000000-0000-0000-0000-000000000004";
const FABRIKAM_PROD = "20000000-0000-0000-0000-000000002001";
const NORTHWIND_MAIN = "20000000-0000-0000-0000-000000003001";
const TAILSPIN_PROD = "20000000-0000-0000-0000-000000004001";
const AZ_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const ARM_SCOPES = ["https://management.azure.com/.default"];
const ALICE = "alice@contosomsp.onmicrosoft.com";

const opts = { authorityHost: URL_, disableInstanceDiscovery: true };
const user = (tenant, name, password) => new UsernamePasswordCredential(tenant, AZ_CLI_CLIENT_ID, name, password, opts);
const sp = (tenant, appId, secret) => new ClientSecretCredential(tenant, appId, secret, opts);
const fabrikamAdmin = user(FABRIKAM, "admin@fabrikam.onmicrosoft.com", "Fabrikam-Pa55!");
const northwindAdmin = user(NORTHWIND, "admin@northwind.onmicrosoft.com", "Northwind-Pa55!");
const alice = user(CONTOSO, ALICE, "Alice-Pa55!");
const tailspinCi = sp(TAILSPIN, "40000000-0000-0000-0000-000000004121", "tailspin-ci-secret");
const msp = sp(CONTOSO, "40000000-0000-0000-0000-000000001121", "msp-automation-secret");
const arm = (cred, sub) => new ResourceManagementClient(cred, sub, { endpoint: URL_, credentialScopes: ARM_SCOPES });
const logs = (cred) => new LogsQueryClient(cred, { endpoint: `${URL_}/v1` });

/** A workspace in `rg` of `sub` and a subscription diagnostic setting sending the activity log to it. */
async function workspace(cred, sub, rg, diagnostics = true) {
  const rc = arm(cred, sub);
  const name = `ws-js-x-${randomUUID().slice(0, 8)}`;
  const id = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.OperationalInsights/workspaces/${name}`;
  const ws = await rc.resources.beginCreateOrUpdateByIdAndWait(id, "2025-07-01", { location: "westeurope" });
  assert.equal(ws.id, id);
  if (diagnostics) {
    await rc.resources.beginCreateOrUpdateByIdAndWait(
      `/subscriptions/${sub}/providers/Microsoft.Insights/diagnosticSettings/to-${name}`, "2021-05-01-preview",
      { properties: { workspaceId: id, logs: [{ category: "Administrative", enabled: true }] } },
    );
  }
  return { id, customerId: ws.properties.customerId };
}

test("msp-automation queries Fabrikam's and Tailspin's workspaces in one query; rows tagged by workspace", async (t) => {
  const fab = await workspace(fabrikamAdmin, FABRIKAM_PROD, "rg-web");
  const tail = await workspace(tailspinCi, TAILSPIN_PROD, "rg-apps");
  assert.notEqual(fab.customerId, tail.customerId);

  // alice works in both customers through Contoso's delegations
  const rg = `rg-js-x-${randomUUID().slice(0, 8)}`;
  for (const sub of [FABRIKAM_PROD, TAILSPIN_PROD]) {
    const rc = arm(alice, sub);
    await rc.resourceGroups.createOrUpdate(rg, { location: "westeurope" });
    await rc.resourceGroups.beginDeleteAndWait(rg);
  }
  const mine = `AzureActivity | where Caller == '${ALICE}' and ResourceGroup =~ '${rg}'`;
  const client = logs(msp);

  await t.test("additionalWorkspaces: one answer over both, by TenantId and SubscriptionId", async () => {
    const r = await client.queryWorkspace(
      fab.customerId,
      `${mine} | where OperationNameValue endswith '/DELETE' | summarize n = count() by TenantId, SubscriptionId, _ResourceId`,
      { duration: "P1D" },
      { additionalWorkspaces: [tail.id] },
    );
    assert.equal(r.status, LogsQueryResultStatus.Success);
    assert.deepEqual(r.tables[0].columnDescriptors.map((c) => c.name), ["TenantId", "SubscriptionId", "_ResourceId", "n"]);
    const got = r.tables[0].rows.map((row) => row.join(" ")).sort();
    const want = [
      `${fab.customerId} ${FABRIKAM_PROD} /subscriptions/${FABRIKAM_PROD}/resourcegroups/${rg} 2`, // Begin + End
      `${tail.customerId} ${TAILSPIN_PROD} /subscriptions/${TAILSPIN_PROD}/resourcegroups/${rg} 2`,
    ].sort();
    assert.deepEqual(got, want);
  });

  await t.test('union workspace("…").AzureActivity, workspace("…").AzureActivity', async () => {
    const r = await client.queryWorkspace(
      fab.customerId,
      `union workspace('${fab.customerId}').AzureActivity, workspace('${tail.customerId}').AzureActivity `
        + `| where Caller == '${ALICE}' and ResourceGroup =~ '${rg}' `
        + "| summarize n = count() by TenantId, SubscriptionId, OperationNameValue",
      { duration: "P1D" },
    );
    assert.equal(r.status, LogsQueryResultStatus.Success);
    const got = r.tables[0].rows.map((row) => row.join(" ")).sort();
    const want = [];
    for (const [ws, sub] of [[fab.customerId, FABRIKAM_PROD], [tail.customerId, TAILSPIN_PROD]]) {
      for (const op of ["WRITE", "DELETE"]) {
        want.push(`${ws} ${sub} MICROSOFT.RESOURCES/SUBSCRIPTIONS/RESOURCEGROUPS/${op} 2`); // Begin + End
      }
    }
    assert.deepEqual(got, want.sort());
  });

  await t.test("a workspace the caller cannot read: a partial answer naming it", async () => {
    // Northwind's rg-private is not delegated to Contoso MSP
    const nw = await workspace(northwindAdmin, NORTHWIND_MAIN, "rg-private", false);
    const r = await client.queryWorkspace(
      fab.customerId,
      `${mine} | summarize n = count() by TenantId`,
      { duration: "P1D" },
      { additionalWorkspaces: [tail.customerId, nw.id] },
    );
    assert.equal(r.status, LogsQueryResultStatus.PartialFailure);
    assert.equal(r.partialError.code, "PartialError");
    assert.equal(r.partialError.details.length, 1);
    assert.equal(r.partialError.details[0].code, "InsufficientAccessError");
    assert.equal(r.partialError.details[0].value, nw.id);
    // the readable workspaces still answer
    const got = Object.fromEntries(r.partialTables[0].rows.map(([ws, n]) => [ws, n]));
    assert.deepEqual(got, { [fab.customerId]: 4, [tail.customerId]: 4 });
  });

  await t.test("tailspin-ci reads its own workspace; Fabrikam's is refused alone and partial alongside", async () => {
    await assert.rejects(
      logs(tailspinCi).queryWorkspace(fab.customerId, "AzureActivity | count", { duration: "P1D" }),
      (e) => {
        assert.equal(e.statusCode, 403);
        assert.equal(e.code, "InsufficientAccessError");
        return true;
      },
    );
    const r = await logs(tailspinCi).queryWorkspace(
      tail.customerId,
      `${mine} | summarize n = count() by TenantId`,
      { duration: "P1D" },
      { additionalWorkspaces: [fab.customerId] },
    );
    assert.equal(r.status, LogsQueryResultStatus.PartialFailure);
    assert.equal(r.partialError.details[0].code, "InsufficientAccessError");
    assert.equal(r.partialError.details[0].value, fab.customerId);
    assert.deepEqual(r.partialTables[0].rows, [[tail.customerId, 4]]);
  });
});
