// The data plane at its real host names with the unmodified Azure SDK for JavaScript:
// https://fabrikamdata.blob.core.windows.net reached through the emulator's HTTPS proxy, as
// `lighthouse-emulator env` sets HTTPS_PROXY (core-rest-pipeline honours it).
//
//   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT NODE_EXTRA_CA_CERTS=<state-dir>/ca.pem \
//     node --test tests/js/dataplane-hosts.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { UsernamePasswordCredential } from "@azure/identity";
import { BlobServiceClient } from "@azure/storage-blob";

const URL_ = (process.env.LIGHTHOUSE_EMULATOR_URL || "").replace(/\/+$/, "");
if (!URL_ || !process.env.NODE_EXTRA_CA_CERTS) {
  console.error("set LIGHTHOUSE_EMULATOR_URL and NODE_EXTRA_CA_CERTS (see lighthouse-emulator env)");
  process.exit(2);
}
const PORT = new URL(URL_).port;
// what `lighthouse-emulator env` prints (scripts/test exports it already)
process.env.HTTPS_PROXY ??= `http://localhost:${PORT}`;
process.env.NO_PROXY ??= `localhost:${PORT},127.0.0.1:${PORT}`;

const FABRIKAM = "10000000-0000-0000-0000-000000000002";
const AZ_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const reader = () => new UsernamePasswordCredential(FABRIKAM, AZ_CLI_CLIENT_ID,
  "reader@fabrikam.onmicrosoft.com", "Reader-Pa55!", { authorityHost: URL_, disableInstanceDiscovery: true });

test("reader@fabrikam lists and downloads q3.csv at https://fabrikamdata.blob.core.windows.net", async () => {
  assert.equal(process.env.HTTPS_PROXY, `http://localhost:${PORT}`);
  const svc = new BlobServiceClient("https://fabrikamdata.blob.core.windows.net", reader());
  const names = [];
  for await (const b of svc.getContainerClient("reports").listBlobsFlat()) names.push(b.name);
  assert.deepEqual(names, ["q3.csv"]);
  const buf = await svc.getContainerClient("reports").getBlobClient("q3.csv").downloadToBuffer();
  assert.ok(buf.toString().startsWith("region,quarter,revenue_eur\n"));
});

test("an account the world does not have is refused at the proxy", async () => {
  const svc = new BlobServiceClient("https://nosuchaccount.blob.core.windows.net", reader(),
                                    { retryOptions: { maxTries: 1 } });
  await assert.rejects(svc.getContainerClient("reports").getProperties(), (e) => {
    assert.match(String(e.message), /no storage account named 'nosuchaccount'/, String(e));
    return true;
  });
});
