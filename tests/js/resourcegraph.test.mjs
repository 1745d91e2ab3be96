// Azure Resource Graph with the unmodified Azure SDK for JavaScript (@azure/arm-resourcegraph): one query
// across every subscription the caller may read, each row with its owner's tenantId.
//
//   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT NODE_EXTRA_CA_CERTS=<state-dir>/ca.pem \
//     node --test tests/js/resourcegraph.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClientSecretCredential } from "@azure/identity";
import { ResourceGraphClient } from "@azure/arm-resourcegraph";

const URL_ = (process.env.LIGHTHOUSE_EMULATOR_URL || "").replace(/\/+$/, "");
if (!URL_ || !process.env.NODE_EXTRA_CA_CERTS) {
  console.error("set LIGHTHOUSE_EMULATOR_URL and NODE_EXTRA_CA_CERTS (see lighthouse-emulator env)");
  process.exit(2);
}
const CONTOSO = "10000000-0000-0000-0000-000000000001";
const FABRIKAM = "10000000-0000-0000-0000-000000000002";
const NORTHWIND = "10000000-0000-0000-0000-000000000003";
const TAILSPIN = "10000000-0000-0000-0000-000000000004";

const client = (tenant, appId, secret) =>
  new ResourceGraphClient(
    new ClientSecretCredential(tenant, appId, secret, { authorityHost: URL_, disableInstanceDiscovery: true }),
    { endpoint: URL_ },
  );
const msp = () => client(CONTOSO, "40000000-0000-0000-0000-000000001121", "msp-automation-secret");
const fabrikamCi = () => client(FABRIKAM, "40000000-0000-0000-0000-000000002121", "fabrikam-ci-secret");

const perTenant = (r) => Object.fromEntries(r.data.map((row) => [row.tenantId, row.count_]));

test("msp-automation counts resources per tenant: its own and each delegated customer's", async () => {
  const r = await msp().resources({ query: "Resources | summarize count() by tenantId" });
  assert.deepEqual(Object.keys(perTenant(r)).sort(), [CONTOSO, FABRIKAM, NORTHWIND, TAILSPIN]);
  assert.equal(perTenant(r)[NORTHWIND], 1); // rg-managed's vm-app-01 only
});

test("a customer sees itself alone, in the table format too", async () => {
  const r = await fabrikamCi().resources({ query: "Resources | summarize count() by tenantId" });
  assert.deepEqual(Object.keys(perTenant(r)), [FABRIKAM]);
  const t = await fabrikamCi().resources({
    query: "Resources | project name, type | order by name asc",
    options: { resultFormat: "table" },
  });
  assert.deepEqual(t.data.columns.map((c) => c.name), ["name", "type"]);
  assert.equal(t.resultTruncated, "false");
});

test("a parse error comes back with ARG's envelope and the parser's line", async () => {
  await assert.rejects(fabrikamCi().resources({ query: "Resources\n| where name =! 'x'" }), (e) => {
    assert.equal(e.statusCode, 400);
    assert.equal(e.code, "BadRequest");
    // the SDK deserializes ARG's error: the parser's position lands in additionalProperties
    const details = e.details.error.details;
    assert.equal(details[0].code, "InvalidQuery");
    assert.equal(details[1].code, "ParserFailure");
    assert.equal(details[1].additionalProperties.line, 2);
    assert.equal(details[1].additionalProperties.token, "=");
    return true;
  });
});
