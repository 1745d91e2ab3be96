"""The data plane with the real SDKs: azure-storage-blob and azure-keyvault-secrets pointed at the
endpoints ARM returns (primaryEndpoints.blob, vaultUri). A managing-tenant token is refused as Azure
refuses it; same-tenant callers are authorized with dataActions; Shared Key is refused."""

from __future__ import annotations

import base64
import uuid

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

from conftest import FABRIKAM, FABRIKAM_PROD, principal

RG_DATA = f"/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data"
ACCOUNT_ID = f"{RG_DATA}/providers/Microsoft.Storage/storageAccounts/fabrikamdata"
VAULT_ID = f"{RG_DATA}/providers/Microsoft.KeyVault/vaults/fabrikam-kv"
Q3 = (b"region,quarter,revenue_eur\nwesteurope,2026-Q3,1284000\nnortheurope,2026-Q3,932500\n"
      b"uksouth,2026-Q3,407250\n")
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


class HomeTenantOnly:
    """A credential that always signs in to its own tenant, ignoring the tenant a challenge names:
    what a managing-tenant principal presents to a customer's data plane."""

    def __init__(self, inner):
        self._inner = inner

    def get_token(self, *scopes, **kwargs):
        kwargs.pop("tenant_id", None)
        kwargs.pop("claims", None)
        kwargs.pop("enable_cae", None)
        return self._inner.get_token(*scopes)

    def close(self):
        pass


@pytest.fixture
def endpoints(resource_client):
    rc = resource_client("admin@fabrikam", FABRIKAM_PROD)
    sa = rc.resources.get_by_id(ACCOUNT_ID, api_version="2023-05-01")
    kv = rc.resources.get_by_id(VAULT_ID, api_version="2023-07-01")
    return sa.properties["primaryEndpoints"]["blob"], kv.properties["vaultUri"]


@pytest.fixture
def blob_client(endpoints, creds):
    from azure.storage.blob import BlobServiceClient

    def make(name: str, home_only: bool = False):
        cred = creds.for_principal(name)
        return BlobServiceClient(endpoints[0], credential=HomeTenantOnly(cred) if home_only else cred)

    return make


@pytest.fixture
def secret_client(endpoints, creds):
    from azure.keyvault.secrets import SecretClient

    def make(name: str, home_only: bool = False):
        cred = creds.for_principal(name)
        return SecretClient(endpoints[1], HomeTenantOnly(cred) if home_only else cred,
                            verify_challenge_resource=False)

    return make


def grant(authorization_client, scope: str, role: str, who: str) -> None:
    ac = authorization_client("admin@fabrikam", FABRIKAM_PROD)
    ac.role_assignments.create(scope, str(uuid.uuid4()), RoleAssignmentCreateParameters(
        role_definition_id=f"/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        principal_id=principal(who).object_id))


def test_arm_returns_the_local_endpoints(emulator, endpoints):
    assert endpoints == (f"{emulator.url}/fabrikamdata/", f"{emulator.url}/fabrikam-kv/")


def test_reader_downloads_q3_whole_and_by_range(blob_client):
    bsc = blob_client("reader@fabrikam")
    assert bsc.account_name == "fabrikamdata"
    blob = bsc.get_blob_client("reports", "q3.csv")
    assert blob.download_blob().readall() == Q3
    assert blob.download_blob(offset=7, length=7).readall() == b"quarter"
    props = blob.get_blob_properties()
    assert props.size == len(Q3)
    assert props.content_settings.content_type == "text/csv"
    assert props.blob_type == "BlockBlob"
    assert [b.name for b in bsc.get_container_client("reports").list_blobs(name_starts_with="q3")] == ["q3.csv"]
    assert "reports" in [c.name for c in bsc.list_containers()]


def test_alice_cannot_read_q3_issuer_refused(blob_client):
    # alice is Contributor on fabrikam-prod through Azure Lighthouse: no help on the data plane
    with pytest.raises(ClientAuthenticationError) as e:
        blob_client("alice", home_only=True).get_blob_client("reports", "q3.csv").download_blob().readall()
    assert e.value.status_code == 401
    assert e.value.error_code == "InvalidAuthenticationInfo"
    assert "Issuer validation failed. Issuer did not match." in e.value.response.text()


def test_admin_at_fabrikam_owner_without_data_role_cannot_read_q3(blob_client):
    with pytest.raises(HttpResponseError) as e:
        blob_client("admin@fabrikam").get_blob_client("reports", "q3.csv").download_blob().readall()
    assert e.value.status_code == 403
    assert e.value.error_code == "AuthorizationPermissionMismatch"


def test_shared_key_is_refused(endpoints):
    from azure.storage.blob import BlobServiceClient

    bsc = BlobServiceClient(endpoints[0], credential={
        "account_name": "fabrikamdata", "account_key": base64.b64encode(b"k" * 64).decode()})
    with pytest.raises(HttpResponseError) as e:
        bsc.get_blob_client("reports", "q3.csv").download_blob().readall()
    assert e.value.status_code == 403
    assert e.value.error_code == "KeyBasedAuthenticationNotPermitted"


def test_blob_data_contributor_container_and_blob_lifecycle(blob_client, authorization_client):
    grant(authorization_client, ACCOUNT_ID, BLOB_DATA_CONTRIBUTOR, "fabrikam-ci")
    bsc = blob_client("fabrikam-ci")
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    cc = bsc.create_container(name, metadata={"owner": "ci"})
    assert cc.get_container_properties().metadata == {"owner": "ci"}
    cc.upload_blob("dir/hello.txt", b"hello world")
    cc.upload_blob("big.bin", b"x" * 5000)
    with pytest.raises(HttpResponseError) as e:
        cc.upload_blob("dir/hello.txt", b"again")  # overwrite=False sends If-None-Match: *
    assert e.value.error_code == "BlobAlreadyExists"
    cc.upload_blob("dir/hello.txt", b"hello again", overwrite=True)
    assert sorted(b.name for b in cc.list_blobs()) == ["big.bin", "dir/hello.txt"]
    assert [b.name for b in cc.list_blobs(name_starts_with="dir/")] == ["dir/hello.txt"]
    assert cc.download_blob("dir/hello.txt").readall() == b"hello again"
    assert cc.get_blob_client("big.bin").download_blob(offset=4990).readall() == b"x" * 10
    cc.delete_blob("dir/hello.txt")
    with pytest.raises(ResourceNotFoundError) as e:
        cc.download_blob("dir/hello.txt").readall()
    assert e.value.error_code == "BlobNotFound"
    cc.delete_container()
    assert name not in [c.name for c in bsc.list_containers()]


def test_key_vault_refuses_a_delegated_principal_with_akv10032(secret_client):
    with pytest.raises(ClientAuthenticationError) as e:
        secret_client("alice", home_only=True).get_secret("db-password")
    assert e.value.status_code == 401
    assert "AKV10032: Invalid issuer." in str(e.value)
    assert f"https://sts.windows.net/{FABRIKAM}/" in str(e.value)


def test_key_vault_reader_without_role_is_forbidden_by_rbac(secret_client):
    with pytest.raises(HttpResponseError) as e:
        secret_client("reader@fabrikam").get_secret("db-password")
    assert e.value.status_code == 403
    assert e.value.response.json()["error"]["innererror"]["code"] == "ForbiddenByRbac"


def test_admin_grants_itself_secrets_user_then_reads(secret_client, authorization_client):
    sc = secret_client("admin@fabrikam")
    with pytest.raises(HttpResponseError) as e:
        sc.get_secret("db-password")
    assert e.value.status_code == 403
    grant(authorization_client, VAULT_ID, SECRETS_USER, "admin@fabrikam")
    s = sc.get_secret("db-password")
    assert s.value == "Fabrikam-Db-Pa55!"
    assert s.properties.content_type == "text/plain"
    assert s.properties.tags == {"environment": "prod"}
    assert s.properties.enabled is True
    assert len(s.properties.version) == 32
    assert "db-password" in [p.name for p in sc.list_properties_of_secrets()]
    with pytest.raises(HttpResponseError) as e:
        sc.set_secret("not-allowed", "x")
    assert e.value.status_code == 403


def test_secrets_officer_sets_lists_versions_and_deletes(secret_client, authorization_client):
    grant(authorization_client, VAULT_ID, SECRETS_OFFICER, "fabrikam-ci")
    sc = secret_client("fabrikam-ci")
    name = f"api-key-{uuid.uuid4().hex[:6]}"
    first = sc.set_secret(name, "one")
    second = sc.set_secret(name, "two", content_type="text/plain", tags={"a": "b"})
    assert first.properties.version != second.properties.version
    assert sc.get_secret(name).value == "two"
    assert sc.get_secret(name, first.properties.version).value == "one"
    assert len(list(sc.list_properties_of_secret_versions(name))) == 2
    deleted = sc.begin_delete_secret(name).result()
    assert deleted.name == name
    assert deleted.recovery_id.endswith(f"/deletedsecrets/{name}")
    assert deleted.scheduled_purge_date > deleted.deleted_date
    with pytest.raises(ResourceNotFoundError):
        sc.get_secret(name)
    assert sc.get_deleted_secret(name).name == name
    sc.purge_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        sc.get_deleted_secret(name)
