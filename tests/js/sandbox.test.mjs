// Sandboxes with the real Azure SDK for JavaScript, unmodified: a sandbox is created on the running
// emulator (POST /_emulator/sandboxes) and the SDK is pointed at its base URL alone — authority,
// ARM endpoint and the data plane. What it writes there the main world never sees; the sandbox's
// reset brings back its start; deleting it closes its port.
//
//   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT NODE_EXTRA_CA_CERTS=<state-dir>/ca.pem \
//     node --test tests/js/sandbox.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClientSecretCredential } from "@azure/identity";
import { ResourceManagementClient } from "@azure/arm-resources";
import { BlobServiceClient } from "@azure/storage-blob";
import { UsernamePasswordCredential } from "@azure/identity";

const URL = (process.env.LIGHTHOUSE_EMULATOR_URL || "").replace(/\/+$/, "");
if (!URL || !process.env.NODE_EXTRA_CA_CERTS) {
  console.error("set LIGHTHOUSE_EMULATOR_URL and NODE_EXTRA_CA_CERTS (see lighthouse-emulator env)");
  process.exit(2);
}

const FABRIKAM = "10000000-0000-0000-0000-000000000002";
const FABRIKAM_PROD = "20000000-0000-0000-0000-000000002001";
const ARM_SCOPES = ["https://management.azure.com/.default"];

async function admin(method, base, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

const ci = (base) =>
  new ClientSecretCredential(FABRIKAM, "40000000-0000-0000-0000-000000002121", "fabrikam-ci-secret",
                             { authorityHost: base, disableInstanceDiscovery: true });

async function groupNames(base) {
  const rc = new ResourceManagementClient(ci(base), FABRIKAM_PROD, { endpoint: base, credentialScopes: ARM_SCOPES });
  const names = [];
  for await (const g of rc.resourceGroups.list()) names.push(g.name);
  return names;
}

test("the JS SDK works against a sandbox by its URL alone, isolated from the main world", async () => {
  const created = await admin("POST", URL, "/_emulator/sandboxes", {});
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const sandbox = created.body.url;
  assert.notEqual(sandbox, URL);
  try {
    const rc = new ResourceManagementClient(ci(sandbox), FABRIKAM_PROD, { endpoint: sandbox, credentialScopes: ARM_SCOPES });
    const g = await rc.resourceGroups.createOrUpdate("rg-js-sandbox", { location: "westeurope", tags: { by: "js" } });
    assert.equal(g.name, "rg-js-sandbox");
    assert.ok((await groupNames(sandbox)).includes("rg-js-sandbox"));
    assert.ok(!(await groupNames(URL)).includes("rg-js-sandbox"), "the main world does not see it");
    // the data plane at the sandbox's URL (path-style): reader@fabrikam downloads q3.csv
    const reader = new UsernamePasswordCredential(FABRIKAM, "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
      "reader@fabrikam.onmicrosoft.com", "Reader-Pa55!", { authorityHost: sandbox, disableInstanceDiscovery: true });
    const blobs = new BlobServiceClient(`${sandbox}/fabrikamdata`, reader);
    const text = (await blobs.getContainerClient("reports").getBlobClient("q3.csv").downloadToBuffer()).toString();
    assert.ok(text.startsWith("region,quarter"), text);
    // its own reset
    assert.equal((await admin("POST", sandbox, "/_emulator/reset")).status, 200);
    assert.ok(!(await groupNames(sandbox)).includes("rg-js-sandbox"), "reset brings back the start");
  } finally {
    const gone = await admin("DELETE", URL, `/_emulator/sandboxes/${created.body.id}`);
    assert.equal(gone.status, 200);
  }
  // a new connection is refused; one still open from before gets 404 SandboxNotFound and is closed
  const after = await fetch(`${sandbox}/_emulator/health`).catch(() => null);
  assert.ok(after === null || after.status === 404, `a deleted sandbox answered ${after?.status}`);
});
