// Alerts that fire, with the unmodified Azure SDK for JavaScript @azure/arm-monitor 7 (the last major that runs on
// Node 20): admin@fabrikam makes an action group whose webhook (common alert schema) is a local HTTP server this
// test starts, and an activity-log alert in fabrikam-prod on Administrative resource-group deletes; alice (Contoso
// MSP, Contributor there through the delegation) deletes a group and the server receives the payload naming the
// rule, the subscription and alice. Scheduled query rules over a workspace — the 2018-04-16 shape that
// arm-monitor 7's scheduledQueryRules speaks, and the current `criteria` shape (2023-12-01) through generic
// resources — fire once POST /_emulator/clock moves the clock past their frequency; the outbox keeps what was
// sent. Alice acknowledges the fired alert in fabrikam-prod through the delegation (Microsoft.AlertsManagement
// over REST: @azure/arm-alertsmanagement is not published for this registry) and its history shows her.
//
//   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT NODE_EXTRA_CA_CERTS=<state-dir>/ca.pem \
//     node --test tests/js/monitor.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { UsernamePasswordCredential } from "@azure/identity";
import { ResourceManagementClient } from "@azure/arm-resources";
import { MonitorClient } from "@azure/arm-monitor";

const URL_ = (process.env.LIGHTHOUSE_EMULATOR_URL || "").replace(/\/+$/, "");
if (!URL_ || !process.env.NODE_EXTRA_CA_CERTS) {
  console.error("set LIGHTHOUSE_EMULATOR_URL and NODE_EXTRA_CA_CERTS (see lighthouse-emulator env)");
  process.exit(2);
}
const CONTOSO = "10000000-0000-0000-0000-000000000001";
const FABRIKAM = "10000000-0000-0000-0000-000000000002";
const FABRIKAM_PROD = "20000000-0000-0000-0000-000000002001";
const AZ_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const ARM_SCOPES = ["https://management.azure.com/.default"];
const ALICE = "alice@contosomsp.onmicrosoft.com";
const ALERTS_API = "2019-05-05-preview";
const LEGACY_ALERTING_ACTION = "Microsoft.WindowsAzure.Management.Monitoring.Alerts.Models.Microsoft.AppInsights."
  + "Nexus.DataContracts.Resources.ScheduledQueryRules.AlertingAction";

const opts = { authorityHost: URL_, disableInstanceDiscovery: true };
const admin = new UsernamePasswordCredential(FABRIKAM, AZ_CLI_CLIENT_ID, "admin@fabrikam.onmicrosoft.com",
                                             "Fabrikam-Pa55!", opts);
const alice = new UsernamePasswordCredential(CONTOSO, AZ_CLI_CLIENT_ID, ALICE, "Alice-Pa55!", opts);
const monitor = (cred) => new MonitorClient(cred, FABRIKAM_PROD, { endpoint: URL_, $host: URL_, credentialScopes: ARM_SCOPES });
const arm = (cred) => new ResourceManagementClient(cred, FABRIKAM_PROD, { endpoint: URL_, credentialScopes: ARM_SCOPES });
const unique = (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** The local HTTP server action groups call: keeps each JSON body POSTed to it. */
const bodies = [];
let hookServer;
let hookUrl;
before(async () => {
  hookServer = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      bodies.push({ path: req.url, body: JSON.parse(Buffer.concat(chunks).toString() || "null") });
      res.writeHead(200, { "Content-Length": "0" }).end();
    });
  });
  await new Promise((resolve) => hookServer.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${hookServer.address().port}`;
});
after(() => hookServer.close());

/** The bodies POSTed to `path` once there are `n` of them (or whatever came within the wait). */
async function received(path, n, seconds = 15) {
  const mine = () => bodies.filter((b) => b.path === path).map((b) => b.body);
  for (let waited = 0; mine().length < n && waited < seconds * 1000; waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return mine();
}

async function emulator(method, path, body) {
  const r = await fetch(`${URL_}${path}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.status === 200 || r.status === 204, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function armRest(cred, method, path, body) {
  const token = (await cred.getToken(ARM_SCOPES)).token;
  const r = await fetch(`${URL_}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  assert.equal(r.status, 200, JSON.stringify(json));
  return json;
}

async function actionGroup(mon, path, shortName) {
  const ag = await mon.actionGroups.createOrUpdate("rg-web", unique("ag-js"), {
    location: "Global",
    groupShortName: shortName,
    enabled: true,
    emailReceivers: [{ name: "ops", emailAddress: "ops@contosomsp.example", useCommonAlertSchema: true }],
    webhookReceivers: [{ name: "automation", serviceUri: `${hookUrl}${path}`, useCommonAlertSchema: true }],
  });
  assert.equal(ag.webhookReceivers[0].serviceUri, `${hookUrl}${path}`);
  assert.equal(ag.webhookReceivers[0].useCommonAlertSchema, true);
  assert.equal(ag.emailReceivers[0].status, "Enabled");
  return ag;
}

test("alice deleting a group in fabrikam-prod calls the webhook of Fabrikam's activity-log alert", async () => {
  const mon = monitor(admin);
  const path = `/${unique("rg-deleted")}`;
  const ag = await actionGroup(mon, path, "js-auto");
  const ruleName = unique("rg-deleted");
  const rule = await mon.activityLogAlerts.createOrUpdate("rg-web", ruleName, {
    location: "Global",
    scopes: [`/subscriptions/${FABRIKAM_PROD}`],
    enabled: true,
    condition: { allOf: [
      { field: "category", equals: "Administrative" },
      { field: "operationName", equals: "Microsoft.Resources/subscriptions/resourceGroups/delete" },
      { field: "status", equals: "Succeeded" },
    ] },
    actions: { actionGroups: [{ actionGroupId: ag.id, webhookProperties: { customer: "fabrikam" } }] },
  });
  assert.equal(rule.enabled, true);
  assert.equal(rule.location, "Global");
  assert.equal(ag.location, "Global");
  assert.equal(rule.condition.allOf.length, 3);
  assert.equal(rule.actions.actionGroups[0].actionGroupId, ag.id);
  const listed = [];
  for await (const r of mon.activityLogAlerts.listByResourceGroup("rg-web")) listed.push(r.name);
  assert.ok(listed.includes(ruleName), listed);

  // alice: Contributor on fabrikam-prod through MSP Operators, so she may delete the group
  const rg = unique("rg-js-doomed");
  const rc = arm(alice);
  await rc.resourceGroups.createOrUpdate(rg, { location: "westeurope" });
  const outboxOf = async (...rules) =>
    (await emulator("GET", "/_emulator/outbox")).value.filter((m) => rules.includes(m.alertRule));
  assert.deepEqual(await outboxOf(ruleName), []); // creating a group does not match the rule
  await rc.resourceGroups.beginDeleteAndWait(rg);

  const got = await received(path, 1);
  assert.equal(got.length, 1, JSON.stringify(got));
  const payload = got[0];
  assert.equal(payload.schemaId, "azureMonitorCommonAlertSchema");
  const ess = payload.data.essentials;
  assert.equal(ess.alertRule, ruleName);
  assert.equal(ess.signalType, "Activity Log");
  assert.equal(ess.monitoringService, "Activity Log - Administrative");
  assert.equal(ess.monitorCondition, "Fired");
  assert.deepEqual(ess.alertTargetIDs, [`/subscriptions/${FABRIKAM_PROD}/resourcegroups/${rg}`]);
  assert.match(ess.alertId, new RegExp(`^/subscriptions/${FABRIKAM_PROD}/providers/Microsoft\\.AlertsManagement/alerts/[0-9a-f-]{36}$`));
  assert.deepEqual(ess.configurationItems, [rg]);
  const ctx = payload.data.alertContext;
  assert.equal(ctx.caller, ALICE);
  assert.equal(ctx.operationName, "Microsoft.Resources/subscriptions/resourceGroups/delete");
  assert.equal(ctx.status, "Succeeded");
  assert.equal(ctx.claims && JSON.parse(ctx.claims)["http://schemas.microsoft.com/identity/claims/tenantid"], CONTOSO);
  assert.deepEqual(payload.data.customProperties, { customer: "fabrikam" });

  // the e-mail receiver got it too: the outbox keeps both notifications
  const sent = await outboxOf(ruleName);
  assert.deepEqual(sent.map((m) => m.kind).sort(), ["email", "webhook"]);
  assert.equal(sent.find((m) => m.kind === "email").to, "ops@contosomsp.example");

  // alice acknowledges the alert through the delegation; the customer sees her in its history
  const alertGuid = ess.alertId.split("/").pop();
  const alertPath = `/subscriptions/${FABRIKAM_PROD}/providers/Microsoft.AlertsManagement/alerts/${alertGuid}`;
  const acked = await armRest(alice, "POST", `${alertPath}/changestate?api-version=${ALERTS_API}&newState=Acknowledged`,
                              { comments: "msp automation on it" });
  assert.equal(acked.properties.essentials.alertState, "Acknowledged");
  assert.equal(acked.properties.essentials.lastModifiedUserName, ALICE);
  const history = await armRest(admin, "GET", `${alertPath}/history?api-version=${ALERTS_API}`);
  const mods = history.properties.modifications;
  // the rule has an action group: its notification is in the history between creation and alice's change
  assert.deepEqual(mods.map((m) => m.modificationEvent), ["AlertCreated", "ActionsTriggered", "StateChange"]);
  assert.equal(mods[2].modifiedBy, ALICE);
  assert.deepEqual([mods[2].oldValue, mods[2].newValue, mods[2].comments], ["New", "Acknowledged", "msp automation on it"]);

  // the customer turns the rule off (PATCH, as arm-monitor 7 sends it): alice's next delete matches nothing
  const off = await mon.activityLogAlerts.update("rg-web", ruleName, { enabled: false, tags: { paused: "yes" } });
  assert.equal(off.enabled, false);
  assert.deepEqual(off.tags, { paused: "yes" });
  assert.equal(off.condition.allOf.length, 3); // the rest of the rule is kept
  const rg2 = unique("rg-js-spared");
  await rc.resourceGroups.createOrUpdate(rg2, { location: "westeurope" });
  await rc.resourceGroups.beginDeleteAndWait(rg2);
  const after = (await emulator("GET", "/_emulator/outbox?kind=webhook")).value.filter((m) => m.alertRule === ruleName);
  assert.equal(after.length, 1); // still only the first delete's
});

test("scheduled query rules over a workspace fire when the emulator clock passes their frequency", async () => {
  const mon = monitor(admin);
  const rc = arm(admin);
  const wsName = unique("ws-js-sqr");
  const wsId = `/subscriptions/${FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.OperationalInsights/workspaces/${wsName}`;
  const ws = await rc.resources.beginCreateOrUpdateByIdAndWait(wsId, "2025-07-01", { location: "westeurope" });
  const path = `/${unique("sqr")}`;
  const ag = await actionGroup(mon, path, "js-sqr");
  const table = `JsErrors${randomUUID().slice(0, 6)}_CL`;

  // the 2018-04-16 shape, as @azure/arm-monitor 7's scheduledQueryRules sends it
  const legacyName = unique("errors-legacy");
  const legacy = await mon.scheduledQueryRules.createOrUpdate("rg-web", legacyName, {
    location: "westeurope",
    enabled: "true",
    source: { query: `${table} | where Level == 'Error'`, dataSourceId: wsId, queryType: "ResultCount" },
    schedule: { frequencyInMinutes: 5, timeWindowInMinutes: 5 },
    action: {
      odataType: LEGACY_ALERTING_ACTION,
      severity: "1",
      aznsAction: { actionGroup: [ag.id] },
      trigger: { thresholdOperator: "GreaterThan", threshold: 0 },
    },
  });
  assert.equal(legacy.provisioningState, "Succeeded");
  assert.equal(legacy.action.odataType, LEGACY_ALERTING_ACTION);
  assert.equal(legacy.schedule.frequencyInMinutes, 5);

  // the current shape (criteria.allOf), which arm-monitor 7 does not model: generic resources, 2023-12-01
  const currentName = unique("errors");
  const current = await rc.resources.beginCreateOrUpdateByIdAndWait(
    `/subscriptions/${FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Insights/scheduledQueryRules/${currentName}`,
    "2023-12-01",
    {
      location: "westeurope",
      properties: {
        severity: 2, enabled: true, scopes: [wsId], evaluationFrequency: "PT5M", windowSize: "PT5M",
        criteria: { allOf: [{
          query: `${table} | where Level == 'Error'`, timeAggregation: "Count", operator: "GreaterThan", threshold: 0,
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
        }] },
        actions: { actionGroups: [ag.id], customProperties: { team: "msp" } },
      },
    },
  );
  assert.equal(current.properties.createdWithApiVersion, "2023-12-01");
  assert.equal(current.properties.isLegacyLogAnalyticsRule, false);
  // arm-monitor 7 reads the current rule back with its (2018) model: the shared fields are there
  const read = await mon.scheduledQueryRules.get("rg-web", currentName);
  assert.equal(read.id, current.id);
  assert.equal(read.location, "westeurope");

  await emulator("POST", `/_emulator/logs/${ws.properties.customerId}/${table}`, [
    { Level: "Error", Message: "disk full" },
    { Level: "Info", Message: "started" },
  ]);
  const queued = (await emulator("GET", "/_emulator/outbox")).value
    .filter((m) => m.alertRule === currentName || m.alertRule === legacyName);
  assert.deepEqual(queued, []); // nothing before an evaluation
  await emulator("POST", "/_emulator/clock", { advance: "PT6M" });

  const got = await received(path, 2);
  assert.equal(got.length, 2, JSON.stringify(got));
  const byRule = Object.fromEntries(got.map((b) => [b.data.essentials.alertRule, b]));
  assert.deepEqual(Object.keys(byRule).sort(), [currentName, legacyName].sort());
  for (const b of got) {
    assert.equal(b.schemaId, "azureMonitorCommonAlertSchema");
    assert.equal(b.data.essentials.signalType, "Log");
    assert.equal(b.data.essentials.monitorCondition, "Fired");
    assert.deepEqual(b.data.essentials.alertTargetIDs, [wsId.toLowerCase()]);
  }
  assert.equal(byRule[legacyName].data.essentials.severity, "Sev1");
  assert.equal(byRule[currentName].data.essentials.severity, "Sev2");
  const cond = byRule[currentName].data.alertContext.condition.allOf[0];
  assert.equal(cond.metricValue, 1);
  assert.equal(cond.operator, "GreaterThan");
  assert.equal(cond.threshold, "0");
  assert.deepEqual(byRule[currentName].data.customProperties, { team: "msp" });

  const posts = (await emulator("GET", "/_emulator/outbox?kind=webhook")).value
    .filter((m) => m.alertRule === currentName || m.alertRule === legacyName);
  assert.deepEqual(posts.map((m) => m.alertRule).sort(), [currentName, legacyName].sort());
});
