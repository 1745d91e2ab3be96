"""Run real, unmodified Azure SDK clients against a lighthouse-emulator process.

The session fixture starts the release binary (it builds nothing):
  $LIGHTHOUSE_EMULATOR_BIN, or target/release/lighthouse-emulator from the repo root,
with `serve --port 0 --in-memory --state-dir <tmp>`, reads the port from its first
stdout line and points every client at it through REQUESTS_CA_BUNDLE (this machine
pre-sets REQUESTS_CA_BUNDLE & co. to the system bundle: they are overridden here).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
import requests
from azure.core.credentials import AccessToken

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRST_LINE = re.compile(r"^lighthouse-emulator listening on (https://localhost:(\d+))$")
CA_LINE = re.compile(r"^CA certificate: (.+)$")
STARTUP_TIMEOUT = 60.0

# Public client id of the Azure CLI: the one every user sign-in here uses.
AZ_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
ARM_SCOPE = "https://management.azure.com/.default"

# ---------------------------------------------------------------------------
# The default world (fixtures/default-world.md); ids and secrets are stable by design.
# ---------------------------------------------------------------------------
CONTOSO = "10000000-0000-0000-0000-000000000001"
FABRIKAM = "10000000-0000-0000-0000-000000000002"
NORTHWIND = "10000000-0000-0000-0000-000000000003"
TAILSPIN = "10000000-0000-0000-0000-000000000004"
WOODGROVE = "10000000-0000-0000-0000-000000000005"

MSP_TOOLS = "20000000-0000-0000-0000-000000001001"
FABRIKAM_PROD = "20000000-0000-0000-0000-000000002001"
FABRIKAM_DEV = "20000000-0000-0000-0000-000000002002"
NORTHWIND_MAIN = "20000000-0000-0000-0000-000000003001"
TAILSPIN_PROD = "20000000-0000-0000-0000-000000004001"
TAILSPIN_ANALYTICS = "20000000-0000-0000-0000-000000004002"
WOODGROVE_GOV = "20000000-0000-0000-0000-000000005001"

# Built-in role definition ids (the same in every Azure tenant).
ROLE_OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
ROLE_CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
ROLE_READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str  # "user" or "sp"
    tenant: str
    object_id: str
    secret: str
    login: str  # UPN for users, application (client) id for service principals


PRINCIPALS = {
    p.name: p
    for p in [
        Principal("alice", "user", CONTOSO, "30000000-0000-0000-0000-000000001111",
                  "Alice-Pa55!", "alice@contosomsp.onmicrosoft.com"),
        Principal("bob", "user", CONTOSO, "30000000-0000-0000-0000-000000001112",
                  "Bob-Pa55!", "bob@contosomsp.onmicrosoft.com"),
        Principal("msp-automation", "sp", CONTOSO, "30000000-0000-0000-0000-000000001121",
                  "msp-automation-secret", "40000000-0000-0000-0000-000000001121"),
        Principal("msp-reporting", "sp", CONTOSO, "30000000-0000-0000-0000-000000001122",
                  "msp-reporting-secret", "40000000-0000-0000-0000-000000001122"),
        Principal("admin@fabrikam", "user", FABRIKAM, "30000000-0000-0000-0000-000000002111",
                  "Fabrikam-Pa55!", "admin@fabrikam.onmicrosoft.com"),
        Principal("reader@fabrikam", "user", FABRIKAM, "30000000-0000-0000-0000-000000002112",
                  "Reader-Pa55!", "reader@fabrikam.onmicrosoft.com"),
        Principal("fabrikam-ci", "sp", FABRIKAM, "30000000-0000-0000-0000-000000002121",
                  "fabrikam-ci-secret", "40000000-0000-0000-0000-000000002121"),
        Principal("admin@northwind", "user", NORTHWIND, "30000000-0000-0000-0000-000000003111",
                  "Northwind-Pa55!", "admin@northwind.onmicrosoft.com"),
        Principal("northwind-ci", "sp", NORTHWIND, "30000000-0000-0000-0000-000000003121",
                  "northwind-ci-secret", "40000000-0000-0000-0000-000000003121"),
        Principal("admin@tailspin", "user", TAILSPIN, "30000000-0000-0000-0000-000000004111",
                  "Tailspin-Pa55!", "admin@tailspin.onmicrosoft.com"),
        Principal("tailspin-ci", "sp", TAILSPIN, "30000000-0000-0000-0000-000000004121",
                  "tailspin-ci-secret", "40000000-0000-0000-0000-000000004121"),
        Principal("admin@woodgrove", "user", WOODGROVE, "30000000-0000-0000-0000-000000005111",
                  "Woodgrove-Pa55!", "admin@woodgrove.onmicrosoft.us"),
    ]
}


def principal(name: str) -> Principal:
    """Look a principal up by short name ('admin@fabrikam') or full UPN."""
    if name in PRINCIPALS:
        return PRINCIPALS[name]
    for p in PRINCIPALS.values():
        if p.login.lower() == name.lower():
            return p
    raise KeyError(f"no principal {name!r} in the default world")


def jwt_claims(token: str) -> dict:
    """Decode a JWT's payload without checking it (the test only reads claims)."""
    parts = token.split(".")
    assert len(parts) == 3, f"not a JWT: {token[:40]}..."
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------
# The emulator process
# ---------------------------------------------------------------------------
@dataclass
class Emulator:
    url: str
    port: int
    ca: str
    state_dir: str
    proc: subprocess.Popen
    stderr_path: str

    # -- admin endpoints (no token) --
    def admin(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, self.url + path, verify=self.ca, timeout=30, **kw)

    def reset(self) -> None:
        r = self.admin("POST", "/_emulator/reset")
        assert r.status_code in (200, 204), f"reset failed: {r.status_code} {r.text}"

    def advance_clock(self, duration: str) -> None:
        r = self.admin("POST", "/_emulator/clock", json={"advance": duration})
        assert r.status_code in (200, 204), f"clock advance failed: {r.status_code} {r.text}"

    # -- raw ARM / Entra calls, for what no SDK lets a test shape --
    def arm(self, method: str, path: str, token: Optional[str] = None, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + path, headers=headers, verify=self.ca,
                                timeout=30, **kw)

    def stderr_tail(self, n: int = 40) -> str:
        try:
            return "".join(Path(self.stderr_path).read_text(errors="replace").splitlines(True)[-n:])
        except OSError:
            return ""


def _binary() -> Path:
    env = os.environ.get("LIGHTHOUSE_EMULATOR_BIN")
    return Path(env) if env else REPO_ROOT / "target" / "release" / "lighthouse-emulator"


def _start_emulator(state_dir: str) -> Emulator:
    binary = _binary()
    if not binary.is_file():
        pytest.exit(f"emulator binary not found at {binary}; run `cargo build --release` "
                    f"or set LIGHTHOUSE_EMULATOR_BIN", returncode=2)
    stderr_path = os.path.join(state_dir, "emulator.stderr.log")
    stderr_file = open(stderr_path, "wb")
    proc = subprocess.Popen(
        [str(binary), "serve", "--port", "0", "--in-memory", "--state-dir", state_dir],
        stdout=subprocess.PIPE, stderr=stderr_file, stdin=subprocess.DEVNULL,
        text=True, bufsize=1,
    )
    lines: list[str] = []
    got_two = threading.Event()

    def pump() -> None:  # keep draining stdout so the emulator never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if len(lines) >= 2:
                got_two.set()
        got_two.set()

    threading.Thread(target=pump, name="emulator-stdout", daemon=True).start()
    got_two.wait(STARTUP_TIMEOUT)

    def die(msg: str):
        proc.kill()
        tail = Path(stderr_path).read_text(errors="replace")[-4000:]
        pytest.exit(f"{msg}\nstdout: {lines!r}\nstderr tail:\n{tail}", returncode=3)

    if not lines:
        die(f"emulator printed nothing on stdout within {STARTUP_TIMEOUT}s (exit code {proc.poll()})")
    m = FIRST_LINE.match(lines[0])
    if not m:
        die(f"emulator's first stdout line is not 'lighthouse-emulator listening on https://localhost:PORT': {lines[0]!r}")
    url, port = m.group(1), int(m.group(2))
    ca = os.path.join(state_dir, "ca.pem")
    if len(lines) > 1 and (cm := CA_LINE.match(lines[1])):
        ca = cm.group(1)
    if not os.path.isfile(ca):
        die(f"CA certificate {ca} does not exist")
    emu = Emulator(url=url, port=port, ca=ca, state_dir=state_dir, proc=proc, stderr_path=stderr_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            if emu.admin("GET", "/_emulator/health").status_code == 200:
                return emu
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            die("emulator did not answer GET /_emulator/health with 200")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def emulator():
    state_dir = tempfile.mkdtemp(prefix="lighthouse-emulator-pytest-")
    saved = {k: os.environ.get(k) for k in
             ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "AZURE_AUTHORITY_HOST",
              "HTTPS_PROXY", "NO_PROXY", "https_proxy", "no_proxy")}
    emu = _start_emulator(state_dir)
    # requests (hence azure-core, MSAL, azure-identity) reads these per request.
    os.environ["REQUESTS_CA_BUNDLE"] = emu.ca
    os.environ["CURL_CA_BUNDLE"] = emu.ca
    os.environ["SSL_CERT_FILE"] = emu.ca
    os.environ["AZURE_AUTHORITY_HOST"] = emu.url
    # as `lighthouse-emulator env` prints them: host-style data-plane names through the emulator
    # as an HTTPS proxy, its own port direct (requests reads both per request)
    for k in ("https_proxy", "no_proxy"):
        os.environ.pop(k, None)
    os.environ["HTTPS_PROXY"] = f"http://localhost:{emu.port}"
    os.environ["NO_PROXY"] = f"localhost:{emu.port},127.0.0.1:{emu.port}"
    try:
        yield emu
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        emu.proc.terminate()
        try:
            emu.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emu.proc.kill()
            emu.proc.wait(timeout=10)
        if os.environ.get("KEEP_EMULATOR_STATE"):
            print(f"\nemulator state kept in {state_dir}")
        else:
            shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def fresh_world(emulator):
    """Every test module starts from the initial world (POST /_emulator/reset)."""
    emulator.reset()
    yield


@pytest.fixture(scope="session")
def port443(emulator) -> Optional[str]:
    """None when the emulator answers the MSAL user-realm lookup on :443, else why not.

    MSAL Python sends GET https://localhost/common/userrealm/<upn> to port 443 whatever
    port the authority names (CLIENTS.md section 6, pitfall 2); the emulator binds :443 when
    it may. The check uses this emulator's CA, so another process on :443 does not count.
    """
    try:
        with socket.create_connection(("localhost", 443), timeout=2):
            pass
    except OSError as e:
        return f"nothing answers on localhost:443 ({e}); the emulator could not bind it (not root?)"
    try:
        r = requests.get("https://localhost/common/userrealm/admin@fabrikam.onmicrosoft.com",
                         params={"api-version": "1.0"}, verify=emulator.ca, timeout=5)
    except requests.exceptions.SSLError as e:
        return f"localhost:443 is not this emulator (its certificate is not signed by our CA: {e})"
    except requests.RequestException as e:
        return f"localhost:443 did not answer the user-realm lookup: {e}"
    if r.status_code not in (200, 404):
        return f"localhost:443 answered the user-realm lookup with {r.status_code}"
    return None


@pytest.fixture
def needs_port443(port443):
    if port443:
        pytest.skip(f"password sign-in through MSAL Python needs :443 — {port443}")


# ---------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------
class RawPasswordCredential:
    """A TokenCredential that posts the password grant itself.

    Used only where a test is about ARM, not sign-in, and MSAL Python cannot sign users in
    because :443 is not served; sign-in tests always use azure-identity.
    """

    def __init__(self, emu: Emulator, p: Principal):
        self._emu, self._p = emu, p

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        r = requests.post(
            f"{self._emu.url}/{self._p.tenant}/oauth2/v2.0/token",
            data={"client_id": AZ_CLI_CLIENT_ID, "grant_type": "password",
                  "username": self._p.login, "password": self._p.secret,
                  "scope": " ".join(scopes) + " offline_access openid profile"},
            verify=self._emu.ca, timeout=30)
        assert r.status_code == 200, f"password grant for {self._p.login}: {r.status_code} {r.text}"
        body = r.json()
        return AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))

    def close(self) -> None:
        pass


class Credentials:
    def __init__(self, emu: Emulator, port443_problem: Optional[str]):
        self.emu = emu
        self.port443_problem = port443_problem

    def client_secret(self, name: str, secret: Optional[str] = None, tenant: Optional[str] = None):
        from azure.identity import ClientSecretCredential

        p = principal(name)
        assert p.kind == "sp", f"{name} is not a service principal"
        return ClientSecretCredential(tenant or p.tenant, p.login, secret or p.secret,
                                      authority=self.emu.url, disable_instance_discovery=True)

    def username_password(self, name: str, password: Optional[str] = None,
                          tenant: Optional[str] = None):
        from azure.identity import UsernamePasswordCredential

        if self.port443_problem:
            pytest.skip(f"password sign-in through MSAL Python needs :443 — {self.port443_problem}")
        p = principal(name)
        assert p.kind == "user", f"{name} is not a user"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return UsernamePasswordCredential(AZ_CLI_CLIENT_ID, p.login, password or p.secret,
                                              tenant_id=tenant or p.tenant, authority=self.emu.url,
                                              disable_instance_discovery=True)

    def for_principal(self, name: str):
        """The natural credential for a principal: client secret for SPs, password for users.

        For users, falls back to RawPasswordCredential when :443 is not served (see above).
        """
        p = principal(name)
        if p.kind == "sp":
            return self.client_secret(name)
        if self.port443_problem:
            return RawPasswordCredential(self.emu, p)
        return self.username_password(name)

    def token(self, name: str, scope: str = ARM_SCOPE) -> str:
        return self.for_principal(name).get_token(scope).token


@pytest.fixture
def creds(emulator, port443) -> Credentials:
    return Credentials(emulator, port443)


# ---------------------------------------------------------------------------
# SDK clients
# ---------------------------------------------------------------------------
@pytest.fixture
def resource_client(emulator, creds):
    from azure.mgmt.resource.resources import ResourceManagementClient

    def make(name: str, subscription: str):
        return ResourceManagementClient(creds.for_principal(name), subscription, base_url=emulator.url)

    return make


@pytest.fixture
def subscription_client(emulator, creds):
    from azure.mgmt.subscription import SubscriptionClient

    def make(name: str):
        return SubscriptionClient(creds.for_principal(name), base_url=emulator.url)

    return make


@pytest.fixture
def authorization_client(emulator, creds):
    from azure.mgmt.authorization import AuthorizationManagementClient

    def make(name: str, subscription: str):
        return AuthorizationManagementClient(creds.for_principal(name), subscription,
                                             base_url=emulator.url)

    return make


def assert_arm_error(resp: requests.Response, status: int, code: str) -> dict:
    """Assert an ARM error envelope {"error":{"code","message"}} with exact status and code."""
    assert resp.status_code == status, f"expected {status} {code}, got {resp.status_code}: {resp.text}"
    body = resp.json()
    assert "error" in body, f"no ARM error envelope: {body}"
    assert body["error"]["code"] == code, f"expected code {code}: {body}"
    assert isinstance(body["error"].get("message"), str) and body["error"]["message"], body
    return body["error"]
