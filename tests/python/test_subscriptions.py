"""Subscriptions and tenants through azure-mgmt-subscription (and raw 2022-12-01 where the SDK's
2016-06-01 model does not carry tenantId)."""

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import (CONTOSO, FABRIKAM, FABRIKAM_DEV, FABRIKAM_PROD, MSP_TOOLS, NORTHWIND,
                      NORTHWIND_MAIN, TAILSPIN, TAILSPIN_ANALYTICS, TAILSPIN_PROD)


def _subs_2022(emulator, creds, name):
    r = emulator.arm("GET", "/subscriptions?api-version=2022-12-01", token=creds.token(name))
    assert r.status_code == 200, r.text
    return {s["subscriptionId"]: s for s in r.json()["value"]}


def test_fabrikam_ci_lists_fabrikam_subscriptions(subscription_client):
    subs = {s.subscription_id: s for s in subscription_client("fabrikam-ci").subscriptions.list()}
    assert set(subs) == {FABRIKAM_PROD, FABRIKAM_DEV}
    assert subs[FABRIKAM_PROD].display_name == "fabrikam-prod"
    assert subs[FABRIKAM_DEV].display_name == "fabrikam-dev"
    assert subs[FABRIKAM_PROD].id == f"/subscriptions/{FABRIKAM_PROD}"
    assert subs[FABRIKAM_PROD].state == "Enabled"


def test_fabrikam_subscriptions_carry_the_fabrikam_tenant_id(emulator, creds):
    subs = _subs_2022(emulator, creds, "fabrikam-ci")
    assert set(subs) == {FABRIKAM_PROD, FABRIKAM_DEV}
    for s in subs.values():
        assert s["tenantId"] == FABRIKAM
        assert s["id"] == f"/subscriptions/{s['subscriptionId']}"


@pytest.mark.parametrize("name,expected", [
    ("admin@fabrikam", {FABRIKAM_PROD, FABRIKAM_DEV}),
    ("northwind-ci", {NORTHWIND_MAIN}),
    ("tailspin-ci", {TAILSPIN_PROD, TAILSPIN_ANALYTICS}),
])
def test_customer_principals_list_their_own_subscriptions(subscription_client, name, expected):
    subs = {s.subscription_id for s in subscription_client(name).subscriptions.list()}
    assert subs == expected


def test_reader_at_fabrikam_sees_fabrikam_prod_only(subscription_client):
    """reader@fabrikam has roles on fabrikam-prod only; ARM lists subscriptions with any access."""
    subs = {s.subscription_id for s in subscription_client("reader@fabrikam").subscriptions.list()}
    assert subs == {FABRIKAM_PROD}


def test_msp_automation_sees_msp_tools(emulator, creds, subscription_client):
    subs = {s.subscription_id: s for s in subscription_client("msp-automation").subscriptions.list()}
    assert MSP_TOOLS in subs
    assert subs[MSP_TOOLS].display_name == "msp-tools"
    assert _subs_2022(emulator, creds, "msp-automation")[MSP_TOOLS]["tenantId"] == CONTOSO


def test_get_subscription(subscription_client):
    s = subscription_client("fabrikam-ci").subscriptions.get(FABRIKAM_DEV)
    assert s.subscription_id == FABRIKAM_DEV
    assert s.display_name == "fabrikam-dev"
    assert s.state == "Enabled"


def test_get_subscription_of_another_tenant_is_refused(subscription_client):
    with pytest.raises(HttpResponseError) as e:
        subscription_client("fabrikam-ci").subscriptions.get(NORTHWIND_MAIN)
    assert e.value.status_code == 401
    assert e.value.error.code == "InvalidAuthenticationTokenTenant"


def test_tenants_list_returns_the_home_tenant(subscription_client):
    tenants = list(subscription_client("fabrikam-ci").tenants.list())
    assert [t.tenant_id for t in tenants] == [FABRIKAM]
    assert tenants[0].id == f"/tenants/{FABRIKAM}"


def test_tenants_2022_carry_display_name_and_domain(emulator, creds):
    r = emulator.arm("GET", "/tenants?api-version=2022-12-01", token=creds.token("admin@northwind"))
    assert r.status_code == 200, r.text
    tenants = r.json()["value"]
    assert [t["tenantId"] for t in tenants] == [NORTHWIND]
    t = tenants[0]
    assert t["displayName"] == "Northwind Traders"
    assert t["defaultDomain"] == "northwind.onmicrosoft.com"
    assert "northwind.onmicrosoft.com" in t["domains"]
    assert t["tenantCategory"] == "Home"


def test_tenants_for_msp_principal_include_contoso(subscription_client):
    tenants = {t.tenant_id for t in subscription_client("msp-automation").tenants.list()}
    assert CONTOSO in tenants
