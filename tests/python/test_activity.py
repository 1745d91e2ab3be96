"""The customer's activity log with the real azure-mgmt-monitor SDK (Insights 2015-04-01): what the
service provider did in fabrikam-prod is read by the customer (with the provider's home tenant in the
claims) and by the provider's delegated readers; refused writes are there as Failed; the $filter
grammar's correlation-id clause and $select."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import CONTOSO, FABRIKAM, FABRIKAM_DEV, FABRIKAM_PROD, principal, unique_name

TENANT_CLAIM = "http://schemas.microsoft.com/identity/claims/tenantid"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
RG_WRITE = "Microsoft.Resources/subscriptions/resourceGroups/write"


@pytest.fixture
def monitor_client(emulator, creds):
    from azure.mgmt.monitor import MonitorManagementClient

    def make(name: str, subscription: str = FABRIKAM_PROD):
        return MonitorManagementClient(creds.for_principal(name), subscription, base_url=emulator.url)

    return make


def window(hours: int = 1) -> str:
    """The last hour to the next (the emulator's clock is real time after a reset)."""
    now = datetime.now(timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (f"eventTimestamp ge '{(now - timedelta(hours=hours)).strftime(fmt)}' "
            f"and eventTimestamp le '{(now + timedelta(hours=hours)).strftime(fmt)}'")


def events(client, filter: str, select: str | None = None) -> list:
    return list(client.activity_logs.list(filter=filter, select=select))


def test_admin_sees_alices_resource_group_with_her_home_tenant(resource_client, monitor_client):
    rg, corr = unique_name("rg-alice"), str(uuid.uuid4())
    resource_client("alice", FABRIKAM_PROD).resource_groups.create_or_update(
        rg, {"location": "westeurope"}, headers={"x-ms-correlation-request-id": corr})

    log = monitor_client("admin@fabrikam")
    mine = events(log, f"{window()} and resourceGroupName eq '{rg}'")
    assert [e.event_name.value for e in mine] == ["EndRequest", "BeginRequest"], mine
    end = mine[0]
    assert end.caller == "alice@contosomsp.onmicrosoft.com"
    assert end.claims[TENANT_CLAIM] == CONTOSO, "her home tenant, not the customer's"
    assert end.claims[OID_CLAIM] == principal("alice").object_id
    assert end.tenant_id == FABRIKAM
    assert end.subscription_id == FABRIKAM_PROD
    assert end.correlation_id == corr
    assert end.operation_name.value == RG_WRITE
    assert end.resource_id == f"/subscriptions/{FABRIKAM_PROD}/resourceGroups/{rg}"
    assert end.resource_group_name == rg
    assert end.status.value == "Succeeded"
    assert end.category.value == "Administrative"
    assert end.http_request.method == "PUT"
    assert end.authorization.action == RG_WRITE
    assert end.authorization.scope == end.resource_id
    assert end.event_timestamp.tzinfo is not None
    assert mine[1].status.value == "Started"
    assert mine[0].operation_id == mine[1].operation_id


def test_bob_a_delegated_reader_reads_the_same_log(resource_client, monitor_client):
    rg = unique_name("rg-bob-sees")
    resource_client("alice", FABRIKAM_PROD).resource_groups.create_or_update(rg, {"location": "westeurope"})
    seen = events(monitor_client("bob"), f"{window()} and resourceGroupName eq '{rg}'")
    assert len(seen) == 2
    assert {e.caller for e in seen} == {"alice@contosomsp.onmicrosoft.com"}
    assert {e.claims[TENANT_CLAIM] for e in seen} == {CONTOSO}
    # fabrikam-dev is not delegated: bob's token is from the wrong tenant there
    with pytest.raises(HttpResponseError) as e:
        events(monitor_client("bob", FABRIKAM_DEV), window())
    assert (e.value.status_code, e.value.error.code) == (401, "InvalidAuthenticationTokenTenant")


def test_a_refused_write_is_logged_as_failed(resource_client, monitor_client):
    rg, corr = unique_name("rg-nope"), str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as e:
        resource_client("bob", FABRIKAM_PROD).resource_groups.create_or_update(
            rg, {"location": "westeurope"}, headers={"x-ms-correlation-request-id": corr})
    assert (e.value.status_code, e.value.error.code) == (403, "AuthorizationFailed")

    for reader in ("admin@fabrikam", "bob"):
        got = events(monitor_client(reader), f"{window()} and correlationId eq '{corr}'")
        assert [x.status.value for x in got] == ["Failed", "Started"], (reader, got)
        end = got[0]
        assert end.caller == "bob@contosomsp.onmicrosoft.com"
        assert end.claims[TENANT_CLAIM] == CONTOSO
        assert end.level == "Error"
        assert end.sub_status.value == "Forbidden"
        assert end.properties["statusCode"] == "Forbidden"
        assert "AuthorizationFailed" in end.properties["statusMessage"]
        assert end.authorization.action == RG_WRITE
    errors = events(monitor_client("admin@fabrikam"), f"{window()} and levels eq 'Error'")
    assert corr in {x.correlation_id for x in errors}


def test_correlation_filter_and_select(resource_client, monitor_client):
    alice = resource_client("alice", FABRIKAM_PROD)
    corrs = [str(uuid.uuid4()), str(uuid.uuid4())]
    for c in corrs:
        alice.resource_groups.create_or_update(unique_name("rg-corr"), {"location": "westeurope"},
                                               headers={"x-ms-correlation-request-id": c})
    log = monitor_client("admin@fabrikam")
    one = events(log, f"{window()} and correlationId eq '{corrs[1]}'")
    assert len(one) == 2 and {e.correlation_id for e in one} == {corrs[1]}
    # GUIDs compare without case
    assert len(events(log, f"{window()} and correlationId eq '{corrs[0].upper()}'")) == 2
    # $select keeps the named fields only; the SDK leaves the others None
    sel = events(log, f"{window()} and correlationId eq '{corrs[0]}'", select="caller,status,correlationId")
    assert len(sel) == 2
    for e in sel:
        assert e.caller == "alice@contosomsp.onmicrosoft.com"
        assert e.correlation_id == corrs[0]
        assert e.status.value in ("Started", "Succeeded")
        assert e.claims is None and e.operation_name is None and e.resource_id is None
    # A window in the past holds nothing
    past = datetime.now(timezone.utc) - timedelta(days=2)
    old = (f"eventTimestamp ge '{past.strftime('%Y-%m-%dT%H:%M:%SZ')}' and eventTimestamp le "
           f"'{(past + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}'")
    assert events(log, f"{old} and correlationId eq '{corrs[0]}'") == []


def test_a_filter_without_a_window_is_refused(monitor_client):
    with pytest.raises(HttpResponseError) as e:
        events(monitor_client("admin@fabrikam"), "resourceGroupName eq 'rg-web'")
    assert (e.value.status_code, e.value.error.code) == (400, "BadRequest")
    assert "start time" in e.value.error.message
