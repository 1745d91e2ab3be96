"""ARM throttling (`POST /_emulator/throttling`, as `--throttling arm`) seen by real clients: a burst of
reads as one principal gets 429 SubscriptionRequestsThrottled at the documented bucket size (250) with
the x-ms-ratelimit-remaining-* headers counting down, another subscription is unaffected, and the
Python SDK's retry policy recovers by itself once tokens come back."""

import threading
import time

import pytest
from azure.core.pipeline.policies import SansIOHTTPPolicy

from conftest import FABRIKAM_DEV, FABRIKAM_PROD

THROTTLED = 'lighthouse_emulator_throttled_total{code="SubscriptionRequestsThrottled"}'


def throttled_count(emulator) -> int:
    text = emulator.admin("GET", "/_emulator/metrics").text
    for line in text.splitlines():
        if line.startswith(THROTTLED + " "):
            return int(float(line.split()[-1]))
    return 0


class Statuses(SansIOHTTPPolicy):
    """Records the status of every attempt (placed after the retry policy)."""

    def __init__(self):
        self.seen = []

    def on_response(self, request, response):
        self.seen.append(response.http_response.status_code)


@pytest.fixture
def throttling(emulator):
    r = emulator.admin("POST", "/_emulator/throttling", json={"mode": "arm", "refill": False})
    assert r.status_code == 200, r.text
    assert r.json() == {"mode": "arm", "refill": False}
    yield
    emulator.reset()  # back to the command line's mode (off) with full buckets
    assert emulator.admin("GET", "/_emulator/throttling").json()["mode"] == "off"


def test_a_burst_is_throttled_at_the_bucket_size_and_the_sdk_recovers(emulator, creds, throttling):
    from azure.mgmt.resource.resources import ResourceManagementClient

    token = creds.token("fabrikam-ci")
    path = f"/subscriptions/{FABRIKAM_PROD}/resourcegroups?api-version=2024-11-01"
    import requests

    with requests.Session() as s:
        s.verify = emulator.ca
        s.headers["Authorization"] = f"Bearer {token}"
        remaining = []
        for _ in range(250):
            r = s.get(emulator.url + path, timeout=30)
            assert r.status_code == 200, r.text
            remaining.append(int(r.headers["x-ms-ratelimit-remaining-subscription-reads"]))
        assert remaining == list(range(249, -1, -1))
        r = s.get(emulator.url + path, timeout=30)
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "1"
        assert r.json()["error"]["code"] == "SubscriptionRequestsThrottled"
        assert r.json()["error"]["message"].startswith(
            f"Number of 'read' requests for subscription '{FABRIKAM_PROD}' actor '")
        other = s.get(emulator.url + f"/subscriptions/{FABRIKAM_DEV}/resourcegroups?api-version=2024-11-01",
                      timeout=30)
        assert other.status_code == 200
        assert other.headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"

    # The SDK asks while the bucket is empty: 429 + Retry-After. Once the emulator has answered that
    # 429, the refill resumes; the SDK's retry policy waits Retry-After and succeeds by itself.
    statuses = Statuses()
    rc = ResourceManagementClient(creds.for_principal("fabrikam-ci"), FABRIKAM_PROD, base_url=emulator.url,
                                  per_retry_policies=[statuses])
    before = throttled_count(emulator)
    result = {}

    def call():
        try:
            result["group"] = rc.resource_groups.get("rg-web")
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = e

    t = threading.Thread(target=call)
    t.start()
    deadline = time.monotonic() + 60
    while throttled_count(emulator) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert throttled_count(emulator) > before, "the SDK's request was never throttled"
    r = emulator.admin("POST", "/_emulator/throttling", json={"refill": True})
    assert r.json() == {"mode": "arm", "refill": True}
    t.join(60)
    assert "error" not in result, result.get("error")
    assert result["group"].name == "rg-web"
    assert statuses.seen[0] == 429 and statuses.seen[-1] == 200, statuses.seen
