// Runs the real Azure SDK for JavaScript against a running lighthouse-emulator.
//
//   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT NODE_EXTRA_CA_CERTS=<state-dir>/ca.pem node tests/js/test.mjs
//
// (NODE_EXTRA_CA_CERTS is read by Node at start-up, so it must be in the environment, not set here.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ClientSecretCredential, UsernamePasswordCredential } from "@azure/identity";
import { ResourceManagementClient } from "@azure/arm-resources";
import { SubscriptionClient } from "@azure/arm-resources-subscriptions";

const URL = (process.env.LIGHTHOUSE_EMULATOR_URL || "").replace(/\/+$/, "");
if (!URL) {
  console.error("LIGHTHOUSE_EMULATOR_URL is not set (e.g. https://localhost:PORT)");
  process.exit(2);
}
if (!process.env.NODE_EXTRA_CA_CERTS) {
  console.error("NODE_EXTRA_CA_CERTS is not set to the emulator's CA certificate");
  process.exit(2);
}

const FABRIKAM = "10000000-0000-0000-0000-000000000002";
const FABRIKAM_PROD = "20000000-0000-0000-0000-000000002001";
const FABRIKAM_DEV = "20000000-0000-0000-0000-000000002002";
const FABRIKAM_CI = { clientId: "40000000-0000-0000-0000-000000002121", secret: "fabrikam-ci-secret",
                      objectId: "30000000-0000-0000-0000-000000002121" };
const AZ_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const ARM_SCOPES = ["https://management.azure.com/.default"];
const POLL = { updateIntervalInMs: 200 };

const identityOptions = { authorityHost: URL, disableInstanceDiscovery: true };
const fabrikamCi = () =>
  new ClientSecretCredential(FABRIKAM, FABRIKAM_CI.clientId, FABRIKAM_CI.secret, identityOptions);
const rgName = (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`;

function claims(jwt) {
  const parts = jwt.split(".");
  assert.equal(parts.length, 3, "access token is not a JWT");
  return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
}

async function collect(iter) {
  const out = [];
  for await (const x of iter) out.push(x);
  return out;
}

test("fabrikam-ci signs in with ClientSecretCredential (msal-node)", async () => {
  const token = await fabrikamCi().getToken(ARM_SCOPES);
  const c = claims(token.token);
  assert.equal(c.tid, FABRIKAM);
  assert.equal(c.oid, FABRIKAM_CI.objectId);
  assert.equal(c.aud.replace(/\/$/, ""), "https://management.azure.com");
  assert.ok(token.expiresOnTimestamp > Date.now());
});

test("wrong client secret is refused with AADSTS7000215", async () => {
  const cred = new ClientSecretCredential(FABRIKAM, FABRIKAM_CI.clientId, "wrong", identityOptions);
  await assert.rejects(cred.getToken(ARM_SCOPES), (e) => {
    assert.match(String(e.message), /AADSTS7000215/);
    return true;
  });
});

test("SubscriptionClient lists fabrikam subscriptions with their tenant id", async () => {
  const sc = new SubscriptionClient(fabrikamCi(), { endpoint: URL, credentialScopes: ARM_SCOPES });
  const subs = await collect(sc.subscriptions.list());
  assert.deepEqual(subs.map((s) => s.subscriptionId).sort(), [FABRIKAM_PROD, FABRIKAM_DEV]);
  for (const s of subs) assert.equal(s.tenantId, FABRIKAM);
  const tenants = await collect(sc.tenants.list());
  assert.deepEqual(tenants.map((t) => t.tenantId), [FABRIKAM]);
});

test("resource group create, get, tag, list, delete with credentialScopes", async () => {
  const rc = new ResourceManagementClient(fabrikamCi(), FABRIKAM_DEV,
                                          { endpoint: URL, credentialScopes: ARM_SCOPES });
  const name = rgName("rg-js");
  const created = await rc.resourceGroups.createOrUpdate(name, { location: "westeurope", tags: { env: "js" } });
  assert.equal(created.name, name);
  assert.equal(created.id, `/subscriptions/${FABRIKAM_DEV}/resourceGroups/${name}`);
  assert.equal(created.properties.provisioningState, "Succeeded");
  assert.equal((await rc.resourceGroups.get(name)).location, "westeurope");
  assert.equal((await rc.resourceGroups.checkExistence(name)).body, true);
  const patched = await rc.resourceGroups.update(name, { tags: { env: "js", by: "node" } });
  assert.deepEqual(patched.tags, { env: "js", by: "node" });
  const names = (await collect(rc.resourceGroups.list())).map((g) => g.name);
  assert.ok(names.includes(name), `${name} not in ${names}`);
  assert.ok(names.includes("rg-dev"), `rg-dev not in ${names}`);
  await rc.resourceGroups.beginDeleteAndWait(name, POLL);
  assert.equal((await rc.resourceGroups.checkExistence(name)).body, false);
});

test("resource group create and list WITHOUT credentialScopes (audience = emulator URL)", async () => {
  const cred = fabrikamCi();
  const token = await cred.getToken(`${URL}/.default`);
  assert.equal(claims(token.token).aud.replace(/\/$/, ""), URL);
  const rc = new ResourceManagementClient(cred, FABRIKAM_DEV, { endpoint: URL });
  const name = rgName("rg-js-noscope");
  await rc.resourceGroups.createOrUpdate(name, { location: "westeurope" });
  const names = (await collect(rc.resourceGroups.list())).map((g) => g.name);
  assert.ok(names.includes(name), `${name} not in ${names}`);
  await rc.resourceGroups.beginDeleteAndWait(name, POLL);
});

test("generic resource by id: create, get, list by resource group, delete", async () => {
  const rc = new ResourceManagementClient(fabrikamCi(), FABRIKAM_DEV,
                                          { endpoint: URL, credentialScopes: ARM_SCOPES });
  const rg = rgName("rg-js-res");
  await rc.resourceGroups.createOrUpdate(rg, { location: "westeurope" });
  try {
    const id = `/subscriptions/${FABRIKAM_DEV}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks/vnet-js`;
    const created = await rc.resources.beginCreateOrUpdateByIdAndWait(id, "2023-09-01", {
      location: "westeurope",
      properties: { addressSpace: { addressPrefixes: ["10.20.0.0/16"] } },
    }, POLL);
    assert.equal(created.id, id);
    assert.equal(created.type, "Microsoft.Network/virtualNetworks");
    const got = await rc.resources.getById(id, "2023-09-01");
    assert.deepEqual(got.properties.addressSpace.addressPrefixes, ["10.20.0.0/16"]);
    const listed = await collect(rc.resources.listByResourceGroup(rg));
    assert.deepEqual(listed.map((r) => r.id), [id]);
    await rc.resources.beginDeleteByIdAndWait(id, "2023-09-01", POLL);
    assert.deepEqual(await collect(rc.resources.listByResourceGroup(rg)), []);
  } finally {
    await rc.resourceGroups.beginDeleteAndWait(rg, POLL);
  }
});

test("reader@fabrikam (msal-node password grant) may read but not write: 403 AuthorizationFailed", async () => {
  const cred = new UsernamePasswordCredential(FABRIKAM, AZ_CLI_CLIENT_ID, "reader@fabrikam.onmicrosoft.com",
                                              "Reader-Pa55!", identityOptions);
  const rc = new ResourceManagementClient(cred, FABRIKAM_PROD, { endpoint: URL, credentialScopes: ARM_SCOPES });
  assert.equal((await rc.resourceGroups.get("rg-web")).name, "rg-web");
  await assert.rejects(rc.resourceGroups.createOrUpdate(rgName("rg-js-reader"), { location: "westeurope" }), (e) => {
    assert.equal(e.statusCode, 403);
    assert.equal(e.code, "AuthorizationFailed");
    return true;
  });
});
