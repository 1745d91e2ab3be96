"""A subscription's lifecycle through azure-mgmt-subscription: cancel (Owner only; never through a
delegation), the read-only Disabled state, enable, rename, and deletion after the 90-day retention on
the emulator clock — taking with it what its resources made as the platform."""

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.subscription.models import SubscriptionName

from conftest import TAILSPIN_PROD


def _rg(emulator, creds, name, rg, method="GET", body=None):
    return emulator.arm(method, f"/subscriptions/{TAILSPIN_PROD}/resourcegroups/{rg}?api-version=2024-11-01",
                        token=creds.token(name), json=body)


def test_cancel_enable_rename_and_retention(emulator, creds, subscription_client):
    owner = subscription_client("admin@tailspin")
    # Contributor lists Microsoft.Subscription/cancel/action among its notActions; Owner is never delegated
    with pytest.raises(HttpResponseError) as e:
        subscription_client("alice").subscription.cancel(TAILSPIN_PROD)
    assert e.value.status_code == 403 and e.value.error.code == "AuthorizationFailed"

    assert owner.subscription.cancel(TAILSPIN_PROD).subscription_id == TAILSPIN_PROD
    assert owner.subscriptions.get(TAILSPIN_PROD).state == "Disabled"
    r = _rg(emulator, creds, "admin@tailspin", "rg-new", "PUT", {"location": "westeurope"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "ReadOnlyDisabledSubscription", r.text
    assert _rg(emulator, creds, "alice", "rg-apps").status_code == 200  # reads still work

    assert owner.subscription.enable(TAILSPIN_PROD).subscription_id == TAILSPIN_PROD
    assert owner.subscriptions.get(TAILSPIN_PROD).state == "Enabled"
    owner.subscription.rename(TAILSPIN_PROD, SubscriptionName(subscription_name="Tailspin Production"))
    assert owner.subscriptions.get(TAILSPIN_PROD).display_name == "Tailspin Production"

    owner.subscription.cancel(TAILSPIN_PROD)
    emulator.advance_clock("P91D")
    owner = subscription_client("admin@tailspin")  # fresh tokens on the moved clock
    assert owner.subscriptions.get(TAILSPIN_PROD).state == "Deleted"
    r = _rg(emulator, creds, "admin@tailspin", "mrg-tailspin-app")
    assert r.status_code == 404, r.text
    r = emulator.arm("GET", f"/subscriptions/{TAILSPIN_PROD}/providers/Microsoft.Authorization/denyAssignments"
                     "?api-version=2022-04-01", token=creds.token("admin@tailspin"))
    assert r.status_code == 200 and r.json()["value"] == [], r.text
    with pytest.raises(HttpResponseError) as e:
        owner.subscription.enable(TAILSPIN_PROD)
    assert e.value.status_code == 409
