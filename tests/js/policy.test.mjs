// Azure Policy with the unmodified Azure SDK for JavaScript (@azure/arm-policy): Fabrikam's admin
// authors a definition and assigns it to a resource group of fabrikam-prod; the list filters the SDK
// sends (atScope(), atExactScope(), policyType eq) as the admin and as alice through the delegation;
// the assignment's deny refuses alice's write (@azure/arm-resources) with RequestDisallowedByPolicy,
// and alice (Contributor) may not assign a policy herself.
//
//   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT NODE_EXTRA_CA_CERTS=<state-dir>/ca.pem \
//     node --test tests/js/policy.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { UsernamePasswordCredential } from "@azure/identity";
import { PolicyClient } from "@azure/arm-policy";
import { ResourceManagementClient } from "@azure/arm-resources";

const URL_ = (process.env.LIGHTHOUSE_EMULATOR_URL || "").replace(/\/+$/, "");
if (!URL_ || !process.env.NODE_EXTRA_CA_CERTS) {
  console.error("set LIGHTHOUSE_EMULATOR_URL and NODE_EXTRA_CA_CERTS (see lighthouse-emulator env)");
  process.exit(2);
}
const CONTOSO = "10000000-0000-0000-0000-000000000001";
const FABRIKAM = "10000000-0000-0000-0000-000000000002";
const FABRIKAM_PROD = "20000000-0000-0000-0000-000000002001";
const AZ_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
// names of this file only: other test files run beside it against the same emulator
const RG = "rg-js-policy";
const DEF = "js-allowed-locations";
const ASSIGNMENT = "js-eu-only";

const user = (tenant, upn, password) =>
  new UsernamePasswordCredential(tenant, AZ_CLI_CLIENT_ID, upn, password, {
    authorityHost: URL_,
    disableInstanceDiscovery: true,
  });
const admin = () => user(FABRIKAM, "admin@fabrikam.onmicrosoft.com", "Fabrikam-Pa55!");
const alice = () => user(CONTOSO, "alice@contosomsp.onmicrosoft.com", "Alice-Pa55!");
const policy = (cred) => new PolicyClient(cred, FABRIKAM_PROD, { endpoint: URL_ });
const resources = (cred) => new ResourceManagementClient(cred, FABRIKAM_PROD, { endpoint: URL_ });

const names = async (it) => {
  const out = [];
  for await (const x of it) out.push(x.name);
  return out;
};

const vnet = (location) => ({
  location,
  properties: { addressSpace: { addressPrefixes: ["10.42.0.0/16"] } },
});

test("a deny assigned by the customer's admin is seen and enforced through the delegation", async (t) => {
  const rgScope = `/subscriptions/${FABRIKAM_PROD}/resourceGroups/${RG}`;
  await resources(admin()).resourceGroups.createOrUpdate(RG, { location: "westeurope" });
  t.after(async () => {
    await policy(admin()).policyAssignments.delete(rgScope, ASSIGNMENT);
    await policy(admin()).policyDefinitions.delete(DEF);
    await resources(admin()).resourceGroups.beginDeleteAndWait(RG);
  });

  const def = await policy(admin()).policyDefinitions.createOrUpdate(DEF, {
    displayName: "EU locations only (JS test)",
    mode: "Indexed",
    parameters: { allowed: { type: "Array", defaultValue: ["westeurope", "northeurope"] } },
    policyRule: {
      if: { field: "location", notIn: "[parameters('allowed')]" },
      then: { effect: "deny" },
    },
  });
  assert.equal(def.policyType, "Custom");
  const a = await policy(admin()).policyAssignments.create(rgScope, ASSIGNMENT, {
    displayName: "EU only",
    policyDefinitionId: def.id,
    nonComplianceMessages: [{ message: "Fabrikam keeps its resources in the EU." }],
  });
  assert.equal(a.scope.toLowerCase(), rgScope.toLowerCase());
  assert.equal(a.enforcementMode, "Default");

  // the filters the SDK sends, as the admin and as alice (MSP Operators → Contributor)
  for (const who of [admin, alice]) {
    const c = policy(who());
    assert.ok((await names(c.policyDefinitions.list({ filter: "policyType eq 'Custom'" }))).includes(DEF));
    assert.ok((await names(c.policyAssignments.listForResourceGroup(RG, { filter: "atScope()" }))).includes(ASSIGNMENT));
    assert.ok((await names(c.policyAssignments.listForResourceGroup(RG, { filter: "atExactScope()" }))).includes(ASSIGNMENT));
    // an assignment at a resource group is below the subscription: atScope() of the subscription
    // lists what applies to it (at it or above), so not this one
    assert.ok(!(await names(c.policyAssignments.list({ filter: "atScope()" }))).includes(ASSIGNMENT));
    assert.ok((await names(c.policyAssignments.list())).includes(ASSIGNMENT));
    const got = await c.policyAssignments.get(rgScope, ASSIGNMENT);
    assert.equal(got.policyDefinitionId.toLowerCase(), def.id.toLowerCase());
  }

  // the deny refuses alice's write outside the EU, with Azure's code and the assignment named
  await assert.rejects(
    resources(alice()).resources.beginCreateOrUpdateAndWait(
      RG, "Microsoft.Network", "", "virtualNetworks", "vnet-js-us", "2023-09-01", vnet("eastus")),
    (e) => {
      assert.equal(e.statusCode, 403, String(e));
      assert.equal(e.code, "RequestDisallowedByPolicy");
      // the assignment's non-compliance message is the reason; the PolicyViolation names it
      assert.match(e.message, /Reasons: 'Fabrikam keeps its resources in the EU\.'/);
      const v = e.details.error.additionalInfo.find((i) => i.type === "PolicyViolation");
      assert.equal(v.info.policyAssignmentName, ASSIGNMENT);
      assert.equal(v.info.policyDefinitionName, DEF);
      return true;
    },
  );
  // and lets it through in the EU
  const ok = await resources(alice()).resources.beginCreateOrUpdateAndWait(
    RG, "Microsoft.Network", "", "virtualNetworks", "vnet-js-eu", "2023-09-01", vnet("westeurope"));
  assert.equal(ok.location, "westeurope");

  // alice is Contributor through the delegation: she may not assign policies herself
  await assert.rejects(
    policy(alice()).policyAssignments.create(rgScope, "alice-js", { policyDefinitionId: def.id }),
    (e) => {
      assert.equal(e.statusCode, 403, String(e));
      assert.equal(e.code, "AuthorizationFailed");
      return true;
    },
  );
});
