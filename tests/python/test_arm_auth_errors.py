"""How ARM refuses callers: the exact status, error code and headers real ARM sends."""

import re

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import (ARM_SCOPE, FABRIKAM, FABRIKAM_DEV, FABRIKAM_PROD, MSP_TOOLS, assert_arm_error,
                      jwt_claims, principal, unique_name)


def rg_path(sub, name):
    return f"/subscriptions/{sub}/resourcegroups/{name}?api-version=2025-04-01"


def test_reader_can_read_but_not_write(resource_client):
    rc = resource_client("reader@fabrikam", FABRIKAM_PROD)
    assert "rg-web" in {g.name for g in rc.resource_groups.list()}
    assert rc.resource_groups.get("rg-web").name == "rg-web"
    with pytest.raises(HttpResponseError) as e:
        rc.resource_groups.create_or_update(unique_name("rg-reader"), {"location": "westeurope"})
    assert e.value.status_code == 403
    assert e.value.error.code == "AuthorizationFailed"
    p = principal("reader@fabrikam")
    assert p.object_id in e.value.error.message
    # Action names are case-insensitive (real ARM prints 'resourcegroups' in lower case here).
    assert "microsoft.resources/subscriptions/resourcegroups/write" in e.value.error.message.lower()


def test_reader_cannot_delete_a_resource_group(resource_client):
    rc = resource_client("reader@fabrikam", FABRIKAM_PROD)
    with pytest.raises(HttpResponseError) as e:
        rc.resource_groups.begin_delete("rg-web", polling_interval=0.2).result()
    assert e.value.status_code == 403
    assert e.value.error.code == "AuthorizationFailed"
    assert rc.resource_groups.check_existence("rg-web") is True


def test_principal_without_any_role_cannot_write(emulator, creds):
    """msp-reporting has no role on msp-tools (only msp-automation has)."""
    r = emulator.arm("PUT", rg_path(MSP_TOOLS, unique_name("rg-x")), token=creds.token("msp-reporting"),
                     json={"location": "westeurope"})
    assert_arm_error(r, 403, "AuthorizationFailed")


def test_token_for_storage_audience_is_refused_by_arm(emulator, creds):
    token = creds.client_secret("fabrikam-ci").get_token("https://storage.azure.com/.default").token
    r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups?api-version=2025-04-01",
                     token=token)
    assert_arm_error(r, 401, "InvalidAuthenticationTokenAudience")


@pytest.mark.parametrize("scope", [
    "https://management.azure.com/.default",
    "https://management.core.windows.net//.default",
])
def test_arm_audiences_are_accepted(emulator, creds, scope):
    token = creds.client_secret("fabrikam-ci").get_token(scope).token
    r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups?api-version=2025-04-01",
                     token=token)
    assert r.status_code == 200, r.text


def test_emulator_base_url_is_accepted_as_arm_audience(emulator, creds):
    token = creds.client_secret("fabrikam-ci").get_token(f"{emulator.url}/.default").token
    r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups?api-version=2025-04-01",
                     token=token)
    assert r.status_code == 200, r.text


def test_expired_token_is_refused(emulator, creds):
    token = creds.client_secret("fabrikam-ci").get_token(ARM_SCOPE).token
    path = f"/subscriptions/{FABRIKAM_DEV}/resourcegroups?api-version=2025-04-01"
    assert emulator.arm("GET", path, token=token).status_code == 200
    emulator.advance_clock("PT2H")
    try:
        r = emulator.arm("GET", path, token=token)
        assert_arm_error(r, 401, "ExpiredAuthenticationToken")
        assert "invalid_token" in r.headers.get("WWW-Authenticate", ""), r.headers
        # A token issued now (on the emulator's clock) is good again.
        fresh = creds.client_secret("fabrikam-ci").get_token(ARM_SCOPE).token
        assert jwt_claims(fresh)["exp"] > jwt_claims(token)["exp"]
        assert emulator.arm("GET", path, token=fresh).status_code == 200
    finally:
        emulator.reset()


def test_token_from_another_tenant_is_refused_with_tenant_challenge(emulator, creds):
    """A Contoso MSP token on fabrikam-dev (not delegated): 401 InvalidAuthenticationTokenTenant."""
    token = creds.token("msp-reporting")
    r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups?api-version=2025-04-01",
                     token=token)
    assert_arm_error(r, 401, "InvalidAuthenticationTokenTenant")
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer "), r.headers
    assert FABRIKAM in challenge, challenge
    m = re.search(r'authorization_uri="([^"]+)"', challenge)
    assert m and m.group(1).rstrip("/").endswith(FABRIKAM), challenge


def test_missing_authorization_header_is_401_authentication_failed(emulator):
    r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups?api-version=2025-04-01")
    assert_arm_error(r, 401, "AuthenticationFailed")
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer "), r.headers


def test_garbage_token_is_401_invalid_authentication_token(emulator):
    r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups?api-version=2025-04-01",
                     token="not-a-token")
    assert_arm_error(r, 401, "InvalidAuthenticationToken")


def test_token_with_forged_signature_is_refused(emulator, creds):
    header, payload, sig = creds.token("fabrikam-ci").split(".")
    forged_sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups?api-version=2025-04-01",
                     token=f"{header}.{payload}.{forged_sig}")
    assert_arm_error(r, 401, "InvalidAuthenticationToken")


def test_health_answers_without_token(emulator):
    r = emulator.admin("GET", "/_emulator/health")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    r.json()


def test_ca_certificate_is_served(emulator):
    r = emulator.admin("GET", "/_emulator/ca.pem")
    assert r.status_code == 200
    assert "BEGIN CERTIFICATE" in r.text
    with open(emulator.ca) as f:
        assert r.text.strip() == f.read().strip()
