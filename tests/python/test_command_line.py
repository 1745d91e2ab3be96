"""The binary's own commands as a new user runs them: `token` asks the running server (its key, its clock)
and never makes a key of its own; `env` exports what `token` needs and `env --as` gives a principal its own
az config dir, signed in once."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from conftest import FABRIKAM_PROD, _binary, jwt_claims


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    for k in ("LIGHTHOUSE_EMULATOR_STATE_DIR", "LIGHTHOUSE_EMULATOR_PORT", "LIGHTHOUSE_EMULATOR_ADMIN_KEY"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([str(_binary()), *args], capture_output=True, text=True, env=e, timeout=60)


def token(emulator, who: str, *extra: str) -> subprocess.CompletedProcess:
    return run("token", "--state-dir", emulator.state_dir, "--port", str(emulator.port), *extra, who)


def test_token_comes_from_the_running_server_and_its_clock(emulator):
    p = token(emulator, "admin@fabrikam.onmicrosoft.com")
    assert p.returncode == 0, p.stderr
    r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_PROD}?api-version=2022-12-01", p.stdout.strip())
    assert r.status_code == 200, r.text
    # after the clock moves, a token from `token` is dated by the server's clock, so it works there
    emulator.advance_clock("PT5H")
    try:
        old = p.stdout.strip()
        r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_PROD}?api-version=2022-12-01", old)
        assert r.status_code == 401 and r.json()["error"]["code"] == "ExpiredAuthenticationToken", r.text
        fresh = token(emulator, "admin@fabrikam.onmicrosoft.com")
        assert fresh.returncode == 0, fresh.stderr
        assert jwt_claims(fresh.stdout.strip())["iat"] >= jwt_claims(old)["iat"] + 5 * 3600 - 60
        r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_PROD}?api-version=2022-12-01", fresh.stdout.strip())
        assert r.status_code == 200, r.text
    finally:
        emulator.admin("POST", "/_emulator/clock", json={"reset": True})


def test_token_audience_is_honoured(emulator):
    p = token(emulator, "reader@fabrikam.onmicrosoft.com", "--audience", "https://storage.azure.com/")
    assert p.returncode == 0, p.stderr
    assert jwt_claims(p.stdout.strip())["aud"] == "https://storage.azure.com/"


def test_token_with_another_state_dir_refuses_instead_of_making_a_key(emulator):
    other = tempfile.mkdtemp(prefix="lighthouse-other-")
    try:
        # an empty state dir: nothing to trust, no key to sign with: refuse, and write nothing there
        p = run("token", "--state-dir", other, "--port", str(emulator.port), "admin@fabrikam.onmicrosoft.com")
        assert p.returncode == 1 and p.stdout == ""
        assert "holds no signing key" in p.stderr, p.stderr
        assert os.listdir(other) == []
        # another emulator's state dir (another CA): the server is found, and the mismatch is named
        shutil.copy(os.path.join(emulator.state_dir, "ca.pem"), os.path.join(other, "ca.pem"))
        second = subprocess.Popen([str(_binary()), "serve", "--port", "0", "--in-memory", "--userrealm-port", "0",
                                   "--state-dir", tempfile.mkdtemp(prefix="lighthouse-second-")],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            port = second.stdout.readline().strip().rsplit(":", 1)[1]
            p = run("token", "--state-dir", other, "--port", port, "admin@fabrikam.onmicrosoft.com")
            assert p.returncode == 1 and p.stdout == ""
            assert "was not started with --state-dir" in p.stderr, p.stderr
        finally:
            second.terminate()
            second.wait(timeout=10)
    finally:
        shutil.rmtree(other, ignore_errors=True)


def test_token_via_the_environment_env_prints(emulator):
    out = run("env", "--state-dir", emulator.state_dir, "--port", str(emulator.port)).stdout
    exported = dict(line[len("export "):].split("=", 1) for line in out.splitlines() if line.startswith("export "))
    exported = {k: v.strip("'") for k, v in exported.items()}
    assert exported["LIGHTHOUSE_EMULATOR_STATE_DIR"] == emulator.state_dir
    assert exported["LIGHTHOUSE_EMULATOR_PORT"] == str(emulator.port)
    p = run("token", "msp-automation", env=exported)
    assert p.returncode == 0, p.stderr
    assert jwt_claims(p.stdout.strip())["appid"] == "40000000-0000-0000-0000-000000001121"


def test_env_as_gives_each_principal_its_own_az_config_dir(emulator):
    # tests/cli/az-env.sh signs in with these lines; here, what they are
    outs = {}
    for who in ("msp-automation", "fabrikam-ci"):
        p = run("env", "--state-dir", emulator.state_dir, "--port", str(emulator.port), "--as", who)
        assert p.returncode == 0, p.stderr
        outs[who] = p.stdout
    dirs = {w: [l for l in o.splitlines() if l.startswith("export AZURE_CONFIG_DIR=")][0] for w, o in outs.items()}
    assert dirs["msp-automation"] != dirs["fabrikam-ci"]
    assert "az login --service-principal -u 40000000-0000-0000-0000-000000001121" in outs["msp-automation"]
    assert run("env", "--as", "nobody@nowhere").returncode == 1
