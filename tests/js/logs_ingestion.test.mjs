// The Logs Ingestion API with the unmodified Azure SDK for JavaScript (@azure/monitor-ingestion): admin@fabrikam
// makes a workspace, a data collection endpoint and a data collection rule through ARM (@azure/arm-resources,
// generic resources; a declared custom stream, one flow through a KQL transformation into AppEvents_CL);
// fabrikam-ci (Contributor: no data action) is refused with the service's 403 until admin@fabrikam gives it
// Monitoring Metrics Publisher on the rule; then LogsIngestionClient uploads the rows (gzip, as the SDK always
// sends) and @azure/monitor-query-logs' LogsQueryClient reads them back.
//
//   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT NODE_EXTRA_CA_CERTS=<state-dir>/ca.pem \
//     node --test tests/js/logs_ingestion.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ClientSecretCredential, UsernamePasswordCredential } from "@azure/identity";
import { ResourceManagementClient } from "@azure/arm-resources";
import { LogsIngestionClient } from "@azure/monitor-ingestion";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";

const URL_ = (process.env.LIGHTHOUSE_EMULATOR_URL || "").replace(/\/+$/, "");
if (!URL_ || !process.env.NODE_EXTRA_CA_CERTS) {
  console.error("set LIGHTHOUSE_EMULATOR_URL and NODE_EXTRA_CA_CERTS (see lighthouse-emulator env)");
  process.exit(2);
}
const FABRIKAM = "10000000-0000-0000-0000-000000000002";
const FABRIKAM_PROD = "20000000-0000-0000-0000-000000002001";
const FABRIKAM_CI_OID = "30000000-0000-0000-0000-000000002121";
const METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb";
const AZ_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const DCR_API = "2023-03-11";
const ARM_SCOPES = ["https://management.azure.com/.default"];

const identityOptions = { authorityHost: URL_, disableInstanceDiscovery: true };
const admin = new UsernamePasswordCredential(FABRIKAM, AZ_CLI_CLIENT_ID, "admin@fabrikam.onmicrosoft.com",
                                             "Fabrikam-Pa55!", identityOptions);
const fabrikamCi = new ClientSecretCredential(FABRIKAM, "40000000-0000-0000-0000-000000002121", "fabrikam-ci-secret",
                                              identityOptions);

test("LogsIngestionClient uploads through a rule once the caller publishes; LogsQueryClient reads the rows", async () => {
  const rc = new ResourceManagementClient(admin, FABRIKAM_PROD, { endpoint: URL_, credentialScopes: ARM_SCOPES });
  const suffix = randomUUID().slice(0, 8);
  const base = `/subscriptions/${FABRIKAM_PROD}/resourceGroups/rg-web/providers`;
  const wsId = `${base}/Microsoft.OperationalInsights/workspaces/ws-js-ingest-${suffix}`;
  const ws = await rc.resources.beginCreateOrUpdateByIdAndWait(wsId, "2025-07-01", { location: "westeurope" });
  const dce = await rc.resources.beginCreateOrUpdateByIdAndWait(
    `${base}/Microsoft.Insights/dataCollectionEndpoints/dce-js-${suffix}`, DCR_API, { location: "westeurope" });
  const endpoint = dce.properties.logsIngestion.endpoint;
  assert.match(dce.properties.immutableId, /^dce-/);
  const dcr = await rc.resources.beginCreateOrUpdateByIdAndWait(
    `${base}/Microsoft.Insights/dataCollectionRules/dcr-js-${suffix}`, DCR_API, {
      location: "westeurope",
      properties: {
        dataCollectionEndpointId: dce.id,
        streamDeclarations: { "Custom-AppEvents": { columns: [
          { name: "TimeGenerated", type: "datetime" }, { name: "Message", type: "string" },
          { name: "Severity", type: "string" }, { name: "Count", type: "int" }] } },
        destinations: { logAnalytics: [{ name: "la", workspaceResourceId: wsId }] },
        dataFlows: [{
          streams: ["Custom-AppEvents"], destinations: ["la"], outputStream: "Custom-AppEvents_CL",
          transformKql: "source | where Severity != 'debug' | extend Level = toupper(Severity) "
                        + "| project TimeGenerated, Message, Level, Count",
        }],
      },
    });
  const immutable = dcr.properties.immutableId;
  assert.match(immutable, /^dcr-[0-9a-f]{32}$/);

  const now = Date.now();
  const rows = [0, 1, 2, 3, 4, 5].map((i) => ({
    TimeGenerated: new Date(now - i * 60_000).toISOString(), Message: `event ${i}`,
    Severity: ["info", "error", "debug"][i % 3], Count: i,
  }));

  // Contributor holds no data action: the service's 403 OperationFailed, naming the rule
  const client = new LogsIngestionClient(endpoint, fabrikamCi);
  await assert.rejects(client.upload(immutable, "Custom-AppEvents", rows), (e) => {
    const errors = e.errors ?? [e];
    const cause = errors[0].cause ?? errors[0];
    assert.equal(cause.statusCode, 403, String(cause));
    assert.match(String(cause.message), /OperationFailed|does not have access to ingest data/);
    assert.ok(String(cause.message).includes(immutable));
    return true;
  });

  // Monitoring Metrics Publisher on the rule (admin@fabrikam, Owner, through ARM)
  const arm = await admin.getToken(ARM_SCOPES);
  const res = await fetch(`${URL_}${dcr.id}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${arm.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ properties: {
      roleDefinitionId: `/subscriptions/${FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/${METRICS_PUBLISHER}`,
      principalId: FABRIKAM_CI_OID, principalType: "ServicePrincipal",
    } }),
  });
  assert.equal(res.status, 201, await res.text());
  await client.upload(immutable, "Custom-AppEvents", rows);

  const q = new LogsQueryClient(admin, { endpoint: `${URL_}/v1` });
  const r = await q.queryWorkspace(ws.properties.customerId,
    "AppEvents_CL | order by Count asc | project Message, Level, Count, TimeGenerated", { duration: "PT1H" });
  assert.equal(r.status, LogsQueryResultStatus.Success);
  const got = r.tables[0].rows.map(([m, l, c, t]) => {
    assert.ok(t instanceof Date);
    return [m, l, c];
  });
  assert.deepEqual(got, [["event 0", "INFO", 0], ["event 1", "ERROR", 1], ["event 3", "INFO", 3], ["event 4", "ERROR", 4]]);
  // the declared int column is typed so in queries
  assert.deepEqual(r.tables[0].columnDescriptors.map((c) => [c.name, c.type]),
    [["Message", "string"], ["Level", "string"], ["Count", "int"], ["TimeGenerated", "datetime"]]);
});
