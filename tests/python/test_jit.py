"""Just-in-time access with the real azure-mgmt-authorization SDK: bob (MSP Readers) is eligible for
Contributor on tailspin-prod through the Lighthouse delegation's eligibleAuthorizations, activates it
with the role-assignment-schedule-request API (2020-10-01, the SDK's profile), writes while it lasts,
and is refused again once the emulator's clock has moved past its end."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import ROLE_CONTRIBUTOR, TAILSPIN_PROD, principal, unique_name

MSP_READERS = "30000000-0000-0000-0000-000000001102"
SCOPE = f"subscriptions/{TAILSPIN_PROD}"  # the SDK puts it after a '/' itself
CONTRIBUTOR_ID = f"/subscriptions/{TAILSPIN_PROD}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_CONTRIBUTOR}"


def activation(duration: str, justification: str | None = "Deploy release 42", linked: str | None = None,
               request_type: str = "SelfActivate"):
    from azure.mgmt.authorization.v2020_10_01.models import (RoleAssignmentScheduleRequest,
                                                             RoleAssignmentScheduleRequestPropertiesScheduleInfo,
                                                             RoleAssignmentScheduleRequestPropertiesScheduleInfoExpiration)

    return RoleAssignmentScheduleRequest(
        principal_id=principal("bob").object_id,
        role_definition_id=CONTRIBUTOR_ID,
        request_type=request_type,
        justification=justification,
        linked_role_eligibility_schedule_id=linked,
        schedule_info=RoleAssignmentScheduleRequestPropertiesScheduleInfo(
            expiration=RoleAssignmentScheduleRequestPropertiesScheduleInfoExpiration(type="AfterDuration",
                                                                                     duration=duration)))


def refused(fn, status: int, code: str) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as e:
        fn()
    assert (e.value.status_code, e.value.error.code) == (status, code), e.value.message
    return e.value


def test_the_sdk_speaks_an_api_version_the_emulator_serves(authorization_client):
    client = authorization_client("bob", TAILSPIN_PROD)
    assert client._get_api_version("role_assignment_schedule_requests") == "2020-10-01"
    assert client._get_api_version("role_eligibility_schedule_instances") == "2020-10-01"


def test_bob_activates_his_eligible_contributor_and_it_expires(emulator, authorization_client, resource_client):
    try:
        # Eligibility alone grants nothing: bob is Reader on tailspin-prod.
        refused(lambda: resource_client("bob", TAILSPIN_PROD).resource_groups.create_or_update(
            unique_name("rg-jit"), {"location": "westeurope"}), 403, "AuthorizationFailed")

        auth = authorization_client("bob", TAILSPIN_PROD)
        eligible = list(auth.role_eligibility_schedule_instances.list_for_scope(SCOPE, filter="asTarget()"))
        assert len(eligible) == 1, eligible
        e = eligible[0]
        assert e.scope == f"/subscriptions/{TAILSPIN_PROD}"
        assert e.role_definition_id.lower().endswith(ROLE_CONTRIBUTOR)
        assert (e.principal_id, e.principal_type, e.member_type) == (MSP_READERS, "Group", "Group")
        assert e.expanded_properties.role_definition.display_name == "Contributor"
        assert e.role_eligibility_schedule_id
        # alice (MSP Operators, standing Contributor) is eligible for nothing
        assert not list(authorization_client("alice", TAILSPIN_PROD)
                        .role_eligibility_schedule_instances.list_for_scope(SCOPE, filter="asTarget()"))

        # The policy: at most PT8H, a justification required.
        err = refused(lambda: auth.role_assignment_schedule_requests.create(SCOPE, str(uuid.uuid4()), activation("PT9H")),
                      400, "RoleAssignmentRequestPolicyValidationFailed")
        assert "ExpirationRule" in err.error.message
        err = refused(lambda: auth.role_assignment_schedule_requests.create(
            SCOPE, str(uuid.uuid4()), activation("PT1H", justification=None)),
            400, "RoleAssignmentRequestPolicyValidationFailed")
        assert "JustificationRule" in err.error.message

        # Self-activate for two hours, linked to the eligibility as the portal does.
        name = str(uuid.uuid4())
        req = auth.role_assignment_schedule_requests.create(
            SCOPE, name, activation("PT2H", linked=e.role_eligibility_schedule_id))
        assert req.name == name
        assert req.status == "Provisioned"
        assert req.request_type == "SelfActivate"
        assert req.principal_id == principal("bob").object_id
        assert req.justification == "Deploy release 42"
        assert req.target_role_assignment_schedule_id
        got = auth.role_assignment_schedule_requests.get(SCOPE, name)
        assert got.status == "Provisioned"

        active = list(auth.role_assignment_schedule_instances.list_for_scope(SCOPE, filter="asTarget()"))
        assert len(active) == 1, active
        assert active[0].assignment_type == "Activated"
        assert active[0].end_date_time - active[0].start_date_time == timedelta(hours=2)

        # While it lasts bob writes in tailspin-prod (a new credential, so a new token).
        rg = unique_name("rg-jit")
        made = resource_client("bob", TAILSPIN_PROD).resource_groups.create_or_update(rg, {"location": "westeurope"})
        assert made.properties.provisioning_state == "Succeeded"

        # Three hours later (emulator clock) a fresh token's write is refused again.
        emulator.advance_clock("PT3H")
        refused(lambda: resource_client("bob", TAILSPIN_PROD).resource_groups.create_or_update(
            unique_name("rg-jit"), {"location": "westeurope"}), 403, "AuthorizationFailed")
        assert not list(authorization_client("bob", TAILSPIN_PROD)
                        .role_assignment_schedule_instances.list_for_scope(SCOPE, filter="asTarget()"))
    finally:
        emulator.reset()


def test_an_activation_ends_early_with_self_deactivate(emulator, authorization_client, resource_client):
    try:
        auth = authorization_client("bob", TAILSPIN_PROD)
        auth.role_assignment_schedule_requests.create(SCOPE, str(uuid.uuid4()), activation("PT1H"))
        assert resource_client("bob", TAILSPIN_PROD).resource_groups.create_or_update(
            unique_name("rg-jit"), {"location": "westeurope"}).name
        off = auth.role_assignment_schedule_requests.create(
            SCOPE, str(uuid.uuid4()), activation("PT1H", justification=None, request_type="SelfDeactivate"))
        assert off.status == "Revoked"
        refused(lambda: resource_client("bob", TAILSPIN_PROD).resource_groups.create_or_update(
            unique_name("rg-jit"), {"location": "westeurope"}), 403, "AuthorizationFailed")
    finally:
        emulator.reset()
