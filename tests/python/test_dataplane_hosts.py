"""The data plane at its real host names with the unmodified SDKs: HTTPS_PROXY (set by conftest as
`lighthouse-emulator env` prints it) sends https://fabrikamdata.blob.core.windows.net and
https://fabrikam-kv.vault.azure.net through the emulator's CONNECT proxy; Key Vault's challenge-resource
check passes without the opt-out and secret ids name the vault's own host."""

from __future__ import annotations

import os
import re
import subprocess
import uuid

import requests

from conftest import FABRIKAM_PROD, _binary, principal

VAULT_ID = (f"/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.KeyVault/"
            "vaults/fabrikam-kv")
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


def test_the_proxy_settings_are_the_ones_env_prints(emulator):
    out = subprocess.run([str(_binary()), "env", "--port", str(emulator.port), "--state-dir",
                          emulator.state_dir], capture_output=True, text=True, check=True).stdout
    printed = dict(re.findall(r"^export (HTTPS_PROXY|NO_PROXY)='([^']*)'$", out, re.M))
    assert printed == {"HTTPS_PROXY": f"http://localhost:{emulator.port}",
                       "NO_PROXY": f"localhost:{emulator.port},127.0.0.1:{emulator.port}"}, out
    assert {k: os.environ[k] for k in printed} == printed


def test_reader_downloads_q3_from_the_accounts_host_name(creds):
    from azure.storage.blob import BlobServiceClient

    svc = BlobServiceClient("https://fabrikamdata.blob.core.windows.net",
                            credential=creds.for_principal("reader@fabrikam"))
    names = [b.name for b in svc.get_container_client("reports").list_blobs()]
    assert names == ["q3.csv"]
    data = svc.get_blob_client("reports", "q3.csv").download_blob().readall()
    assert data.startswith(b"region,quarter,revenue_eur\n")


def test_secret_by_vault_host_name_without_the_challenge_opt_out(emulator, creds):
    from azure.keyvault.secrets import SecretClient

    admin = principal("admin@fabrikam")
    r = emulator.arm(
        "PUT",
        f"{VAULT_ID}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?api-version=2022-04-01",
        token=creds.token("admin@fabrikam"),
        json={"properties": {
            "roleDefinitionId": f"/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/"
                                f"roleDefinitions/{SECRETS_USER}",
            "principalId": admin.object_id, "principalType": "User"}})
    assert r.status_code == 201, r.text
    kv = SecretClient("https://fabrikam-kv.vault.azure.net", creds.for_principal("admin@fabrikam"))
    s = kv.get_secret("db-password")
    assert s.value == "Fabrikam-Db-Pa55!"
    assert s.id.startswith("https://fabrikam-kv.vault.azure.net/secrets/db-password/")
    assert s.properties.vault_url == "https://fabrikam-kv.vault.azure.net"


def test_hosts_the_world_does_not_have_are_refused_at_the_proxy(emulator):
    try:
        requests.get("https://nosuchaccount.blob.core.windows.net/", verify=emulator.ca, timeout=30)
    except requests.exceptions.ProxyError as e:
        assert "404" in str(e) and "nosuchaccount" in str(e), e
    else:
        raise AssertionError("expected a ProxyError")
