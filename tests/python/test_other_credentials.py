"""Other ways users configure azure-identity: environment variables, DefaultAzureCredential, and
the async (.aio) credentials, which post straight to /{tenant}/oauth2/v2.0/token without MSAL."""

import asyncio

import pytest

from conftest import ARM_SCOPE, FABRIKAM, FABRIKAM_DEV, jwt_claims, principal, unique_name


@pytest.fixture
def sp_env(monkeypatch, emulator):
    p = principal("fabrikam-ci")
    monkeypatch.setenv("AZURE_TENANT_ID", p.tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", p.login)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", p.secret)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", emulator.url)
    for k in ("AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(k, raising=False)
    return p


def test_environment_credential_with_client_secret(sp_env):
    from azure.identity import EnvironmentCredential

    token = EnvironmentCredential(disable_instance_discovery=True).get_token(ARM_SCOPE)
    assert jwt_claims(token.token)["oid"] == sp_env.object_id


def test_default_azure_credential_with_environment(sp_env, emulator):
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.resource.resources import ResourceManagementClient

    cred = DefaultAzureCredential(disable_instance_discovery=True)
    rc = ResourceManagementClient(cred, FABRIKAM_DEV, base_url=emulator.url)
    assert "rg-dev" in {g.name for g in rc.resource_groups.list()}


def test_async_client_secret_credential_and_async_mgmt_client(emulator):
    """azure-identity .aio + aiohttp: trusts SSL_CERT_FILE (set to the emulator CA by conftest)."""
    from azure.identity.aio import ClientSecretCredential
    from azure.mgmt.resource.resources.aio import ResourceManagementClient

    p = principal("fabrikam-ci")

    async def run():
        async with ClientSecretCredential(p.tenant, p.login, p.secret, authority=emulator.url) as cred:
            token = await cred.get_token(ARM_SCOPE)
            assert jwt_claims(token.token)["tid"] == FABRIKAM
            async with ResourceManagementClient(cred, FABRIKAM_DEV, base_url=emulator.url) as rc:
                name = unique_name("rg-aio")
                created = await rc.resource_groups.create_or_update(name, {"location": "westeurope"})
                assert created.name == name
                names = [g.name async for g in rc.resource_groups.list()]
                assert name in names
                poller = await rc.resource_groups.begin_delete(name, polling_interval=0.2)
                await poller.result()
                assert await rc.resource_groups.check_existence(name) is False

    asyncio.run(run())
