"""Sign-in with azure-identity (MSAL Python underneath) against the emulator's token service."""

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError

from conftest import ARM_SCOPE, FABRIKAM, CONTOSO, jwt_claims, principal

SERVICE_PRINCIPALS = ["msp-automation", "msp-reporting", "fabrikam-ci", "northwind-ci", "tailspin-ci"]
USERS = ["admin@fabrikam", "reader@fabrikam", "alice", "bob", "admin@northwind"]


def _assert_arm_token(token, p, *, user: bool):
    claims = jwt_claims(token.token)
    assert claims["tid"] == p.tenant
    assert claims["oid"] == p.object_id
    assert claims["aud"].rstrip("/") == "https://management.azure.com"
    assert claims["exp"] > claims["iat"]
    if user:
        assert claims.get("upn", claims.get("unique_name", "")).lower() == p.login.lower()
    else:
        assert claims["appid"] == p.login
    assert token.expires_on > 0


@pytest.mark.parametrize("name", SERVICE_PRINCIPALS)
def test_service_principal_signs_in_with_client_secret(creds, name):
    p = principal(name)
    token = creds.client_secret(name).get_token(ARM_SCOPE)
    _assert_arm_token(token, p, user=False)


@pytest.mark.parametrize("name", USERS)
def test_user_signs_in_with_password(creds, name):
    p = principal(name)
    token = creds.username_password(name).get_token(ARM_SCOPE)
    _assert_arm_token(token, p, user=True)


def test_user_gets_second_scope_through_refresh_token(creds):
    """UsernamePasswordCredential gets a second audience with grant_type=refresh_token."""
    cred = creds.username_password("admin@fabrikam")
    arm = cred.get_token(ARM_SCOPE)
    legacy = cred.get_token("https://management.core.windows.net//.default")
    assert jwt_claims(arm.token)["oid"] == jwt_claims(legacy.token)["oid"]
    assert jwt_claims(legacy.token)["aud"] == "https://management.core.windows.net/"


def test_service_principal_token_for_tenant_by_domain_name(creds):
    token = creds.client_secret("fabrikam-ci", tenant="fabrikam.onmicrosoft.com").get_token(ARM_SCOPE)
    assert jwt_claims(token.token)["tid"] == FABRIKAM


def test_wrong_client_secret_is_refused_with_aadsts7000215(creds):
    with pytest.raises(ClientAuthenticationError) as e:
        creds.client_secret("fabrikam-ci", secret="not-the-secret").get_token(ARM_SCOPE)
    assert "AADSTS7000215" in str(e.value)


def test_service_principal_of_another_tenant_is_unknown(creds):
    """msp-automation lives in Contoso; asking Fabrikam's token endpoint for it fails."""
    with pytest.raises(ClientAuthenticationError) as e:
        creds.client_secret("msp-automation", tenant=FABRIKAM).get_token(ARM_SCOPE)
    assert "AADSTS700016" in str(e.value)


def test_wrong_password_is_refused_with_aadsts50126(creds):
    with pytest.raises(ClientAuthenticationError) as e:
        creds.username_password("reader@fabrikam", password="wrong-password").get_token(ARM_SCOPE)
    assert "AADSTS50126" in str(e.value)


def test_raw_wrong_password_is_invalid_grant(emulator):
    p = principal("reader@fabrikam")
    r = requests.post(f"{emulator.url}/{p.tenant}/oauth2/v2.0/token",
                      data={"client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "grant_type": "password",
                            "username": p.login, "password": "nope", "scope": ARM_SCOPE},
                      verify=emulator.ca, timeout=30)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_grant"
    assert 50126 in body["error_codes"]


def test_openid_configuration_has_what_msal_needs(emulator):
    r = requests.get(f"{emulator.url}/{CONTOSO}/v2.0/.well-known/openid-configuration",
                     verify=emulator.ca, timeout=30)
    assert r.status_code == 200, r.text
    doc = r.json()
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        assert key in doc, key
    assert doc["token_endpoint"] == f"{emulator.url}/{CONTOSO}/oauth2/v2.0/token"
    keys = requests.get(doc["jwks_uri"], verify=emulator.ca, timeout=30)
    assert keys.status_code == 200
    assert keys.json()["keys"], "JWKS has no keys"


def test_token_for_storage_audience_is_issued(creds):
    token = creds.client_secret("fabrikam-ci").get_token("https://storage.azure.com/.default")
    assert jwt_claims(token.token)["aud"].rstrip("/") == "https://storage.azure.com"
