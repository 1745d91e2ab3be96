"""One write-heavy test, run by 16 pytest-xdist workers at once (tests/python/test_sandboxes.py):
each worker creates a sandbox on the emulator at $LHE_MAIN_URL and points the unmodified Python SDK
at the sandbox's base URL alone. Every worker writes the same names; in one shared world they would
collide (a create with If-None-Match: * would fail, lists would hold other workers' tags)."""

import os

import pytest
import requests
from azure.identity import ClientSecretCredential
from azure.mgmt.resource.resources import ResourceManagementClient

MAIN = os.environ["LHE_MAIN_URL"]
CA = os.environ["LHE_CA"]
FABRIKAM = "10000000-0000-0000-0000-000000000002"
FABRIKAM_PROD = "20000000-0000-0000-0000-000000002001"
GROUPS = 20
# admin calls go to the main emulator directly, whatever proxy the worker's SDK clients use
ADMIN = requests.Session()
ADMIN.trust_env = False


@pytest.fixture
def sandbox():
    r = ADMIN.post(f"{MAIN}/_emulator/sandboxes", json={"ttl": "PT10M"}, verify=CA, timeout=30)
    assert r.status_code == 201, r.text
    sb = r.json()
    port = sb["port"]
    # as `lighthouse-emulator env --sandbox ID` prints it (each xdist worker is its own process)
    os.environ.update({
        "REQUESTS_CA_BUNDLE": CA, "SSL_CERT_FILE": CA, "AZURE_AUTHORITY_HOST": sb["url"],
        "HTTPS_PROXY": f"http://localhost:{port}", "NO_PROXY": f"localhost:{port},127.0.0.1:{port}",
    })
    yield sb
    ADMIN.delete(f"{MAIN}/_emulator/sandboxes/{sb['id']}", verify=CA, timeout=30)


@pytest.mark.parametrize("worker", range(16))
def test_write_heavy_in_its_own_sandbox(sandbox, worker):
    url = sandbox["url"]
    cred = ClientSecretCredential(FABRIKAM, "40000000-0000-0000-0000-000000002121", "fabrikam-ci-secret",
                                  authority=url, disable_instance_discovery=True)
    rc = ResourceManagementClient(cred, FABRIKAM_PROD, base_url=url,
                                  credential_scopes=["https://management.azure.com/.default"])
    for i in range(GROUPS):
        # create-only: a group of this name made by another worker in the same world would fail here
        rc.resource_groups.create_or_update(f"rg-xdist-{i}", {"location": "westeurope", "tags": {"worker": str(worker)}},
                                            headers={"If-None-Match": "*"})
    for i in range(0, GROUPS, 2):
        rc.resource_groups.update(f"rg-xdist-{i}", {"tags": {"worker": str(worker), "even": "yes"}})
    for i in range(1, GROUPS, 4):
        rc.resource_groups.begin_delete(f"rg-xdist-{i}").result()
    mine = {g.name: g.tags for g in rc.resource_groups.list() if g.name.startswith("rg-xdist-")}
    expected = {f"rg-xdist-{i}" for i in range(GROUPS) if i % 4 != 1}
    assert set(mine) == expected
    assert all(t["worker"] == str(worker) for t in mine.values()), mine
    assert all((t.get("even") == "yes") == (int(n.rsplit("-", 1)[1]) % 2 == 0) for n, t in mine.items())
    # the sandbox's activity log holds this worker's writes only
    r = requests.get(f"{url}/_emulator/health", verify=CA, timeout=30)
    assert r.status_code == 200
