"""Sandboxes and snapshots with real clients: 16 pytest-xdist workers, each in its own sandbox, run the
same write-heavy test against one emulator with no interference; a sandbox's reset leaves the others
untouched; `lighthouse-emulator env --sandbox` names the sandbox's port; `lighthouse-emulator snapshot
diff` names exactly the one resource a PUT made."""

import os
import subprocess
import sys
from pathlib import Path

import requests
import xdist  # noqa: F401  (pytest-xdist must be installed: tests/python/requirements.txt)
from azure.identity import ClientSecretCredential
from azure.mgmt.resource.resources import ResourceManagementClient

from conftest import FABRIKAM, FABRIKAM_PROD, _binary

HERE = Path(__file__).resolve().parent
CI_APP, CI_SECRET = "40000000-0000-0000-0000-000000002121", "fabrikam-ci-secret"


def _rc(url: str) -> ResourceManagementClient:
    cred = ClientSecretCredential(FABRIKAM, CI_APP, CI_SECRET, authority=url, disable_instance_discovery=True)
    return ResourceManagementClient(cred, FABRIKAM_PROD, base_url=url,
                                    credential_scopes=["https://management.azure.com/.default"])


def _create(emulator, **body) -> dict:
    r = emulator.admin("POST", "/_emulator/sandboxes", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_sixteen_xdist_workers_each_in_its_own_sandbox_do_not_interfere(emulator):
    env = dict(os.environ, LHE_MAIN_URL=emulator.url, LHE_CA=emulator.ca)
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "16", "sandboxed_writes.py"],
        cwd=HERE / "sandboxed", env=env, capture_output=True, text=True, timeout=900,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "16 passed" in r.stdout, r.stdout[-2000:]
    # the main world saw none of it, and every worker dropped its sandbox
    assert not [g.name for g in _rc(emulator.url).resource_groups.list() if g.name.startswith("rg-xdist-")]
    assert emulator.admin("GET", "/_emulator/sandboxes").json()["value"] == []


def test_a_sandbox_reset_leaves_the_others_untouched(emulator):
    a, b = _create(emulator), _create(emulator)
    try:
        for sb in (a, b):
            _rc(sb["url"]).resource_groups.create_or_update("rg-kept", {"location": "westeurope"})
        r = requests.post(a["url"] + "/_emulator/reset", verify=emulator.ca, timeout=30)
        assert r.status_code == 200, r.text
        assert "rg-kept" not in [g.name for g in _rc(a["url"]).resource_groups.list()]
        assert "rg-kept" in [g.name for g in _rc(b["url"]).resource_groups.list()]
        assert "rg-kept" not in [g.name for g in _rc(emulator.url).resource_groups.list()]
    finally:
        for sb in (a, b):
            emulator.admin("DELETE", f"/_emulator/sandboxes/{sb['id']}")


def test_env_sandbox_prints_the_client_setup_for_it(emulator):
    sb = _create(emulator)
    try:
        out = subprocess.run(
            [str(_binary()), "env", "--sandbox", sb["id"], "--port", str(emulator.port),
             "--state-dir", emulator.state_dir],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
        port = sb["port"]
        assert f"export AZURE_AUTHORITY_HOST='https://localhost:{port}'" in out, out
        assert f"export LIGHTHOUSE_EMULATOR_PORT='{port}'" in out, out
        assert f"export HTTPS_PROXY='http://localhost:{port}'" in out, out
        assert f"sandbox-{sb['id']}" in out, out
        bad = subprocess.run(
            [str(_binary()), "env", "--sandbox", "sb-nope", "--port", str(emulator.port),
             "--state-dir", emulator.state_dir],
            capture_output=True, text=True, timeout=60,
        )
        assert bad.returncode != 0 and "sb-nope" in bad.stderr, bad.stderr
    finally:
        emulator.admin("DELETE", f"/_emulator/sandboxes/{sb['id']}")


def test_snapshot_diff_names_the_one_resource_a_put_made(emulator):
    assert emulator.admin("POST", "/_emulator/snapshots", json={"name": "py-before"}).status_code == 201
    _rc(emulator.url).resource_groups.create_or_update("rg-py-diff", {"location": "westeurope"})
    assert emulator.admin("POST", "/_emulator/snapshots", json={"name": "py-after"}).status_code == 201
    r = subprocess.run(
        [str(_binary()), "snapshot", "diff", "py-before", "py-after", "--port", str(emulator.port),
         "--state-dir", emulator.state_dir],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == [f"+ resource /subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-py-diff"], r.stdout
    same = subprocess.run(
        [str(_binary()), "snapshot", "diff", "py-after", "py-after", "--port", str(emulator.port),
         "--state-dir", emulator.state_dir],
        capture_output=True, text=True, timeout=60,
    )
    assert (same.returncode, same.stdout) == (0, "")
    r = emulator.admin("POST", "/_emulator/snapshots/py-before/restore")
    assert r.status_code == 200, r.text
    assert "rg-py-diff" not in [g.name for g in _rc(emulator.url).resource_groups.list()]
