"""The VM workflow with the real SDKs (azure-mgmt-compute, azure-mgmt-network): alice, delegated
Contributor in fabrikam-prod, finds an image in the marketplace catalogue, builds the network objects and
a VM, reads its instance view and powers it off, deallocates and starts it through the SDK pollers, sets a
custom script extension — and cannot assign "Virtual Machine Administrator Login" (it carries data
actions), which POST /_emulator/explain explains."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

from conftest import FABRIKAM_PROD, principal, unique_name

VM_ADMIN_LOGIN = "1c0163c0-47e6-4577-8991-ea5c82e286e4"
JAMMY = ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2")


@pytest.fixture
def compute(emulator, creds):
    from azure.mgmt.compute import ComputeManagementClient

    return lambda who: ComputeManagementClient(creds.for_principal(who), FABRIKAM_PROD, base_url=emulator.url)


@pytest.fixture
def network(emulator, creds):
    from azure.mgmt.network import NetworkManagementClient

    return lambda who: NetworkManagementClient(creds.for_principal(who), FABRIKAM_PROD, base_url=emulator.url)


def power_state(view) -> str:
    return [s.code for s in view.statuses if s.code.startswith("PowerState/")][0]


def test_the_marketplace_catalogue_resolves_latest(compute):
    c = compute("alice")
    publishers = [p.name for p in c.virtual_machine_images.list_publishers("westeurope")]
    assert "Canonical" in publishers and "MicrosoftWindowsServer" in publishers
    skus = [s.name for s in c.virtual_machine_images.list_skus("westeurope", JAMMY[0], JAMMY[1])]
    assert JAMMY[2] in skus
    newest = c.virtual_machine_images.list("westeurope", *JAMMY, top=1, orderby="name desc")
    assert len(newest) == 1
    image = c.virtual_machine_images.get("westeurope", *JAMMY, newest[0].name)
    assert (image.hyper_v_generation, image.os_disk_image.operating_system) == ("V2", "Linux")
    with pytest.raises(HttpResponseError) as e:
        c.virtual_machine_images.get("westeurope", *JAMMY, "0.0.1")
    assert (e.value.status_code, e.value.error.code) == (404, "NotFound")


def test_a_delegated_contributor_runs_a_vm_and_its_power_states(resource_client, compute, network):
    rg = unique_name("rg-vm")
    resource_client("alice", FABRIKAM_PROD).resource_groups.create_or_update(rg, {"location": "westeurope"})
    net = network("alice")
    # the management SDKs send a dict as it is: the REST shape, properties and all
    vnet = net.virtual_networks.begin_create_or_update(rg, "vnet1", {
        "location": "westeurope", "properties": {
            "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
            "subnets": [{"name": "default", "properties": {"addressPrefix": "10.9.0.0/24"}}]}}).result()
    subnet_id = vnet.subnets[0].id
    assert subnet_id.endswith("/virtualNetworks/vnet1/subnets/default")
    pip = net.public_ip_addresses.begin_create_or_update(rg, "pip1", {
        "location": "westeurope", "sku": {"name": "Standard"},
        "properties": {"publicIPAllocationMethod": "Static"}}).result()
    assert pip.ip_address
    nic = net.network_interfaces.begin_create_or_update(rg, "nic1", {
        "location": "westeurope", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
            "subnet": {"id": subnet_id}, "publicIPAddress": {"id": pip.id}}}]}}).result()
    assert nic.ip_configurations[0].private_ip_address == "10.9.0.4"
    assert nic.mac_address

    c = compute("alice")
    vm = c.virtual_machines.begin_create_or_update(rg, "vm1", {"location": "westeurope", "properties": {
        "hardwareProfile": {"vmSize": "Standard_B2s"},
        "storageProfile": {"imageReference": {"publisher": JAMMY[0], "offer": JAMMY[1], "sku": JAMMY[2],
                                              "version": "latest"},
                           "osDisk": {"createOption": "FromImage"}},
        "osProfile": {"computerName": "vm1", "adminUsername": "azureuser", "adminPassword": "Pa55-word-123!"},
        "networkProfile": {"networkInterfaces": [{"id": nic.id}]}}}).result()
    assert vm.provisioning_state == "Succeeded"
    assert vm.vm_id and vm.os_profile.admin_password is None
    assert vm.storage_profile.os_disk.name.startswith("vm1_OsDisk_1_")

    full = c.virtual_machines.get(rg, "vm1", expand="instanceView")
    assert power_state(full.instance_view) == "PowerState/running"
    for begin, state in ((c.virtual_machines.begin_power_off, "PowerState/stopped"),
                         (c.virtual_machines.begin_deallocate, "PowerState/deallocated"),
                         (c.virtual_machines.begin_start, "PowerState/running"),
                         (c.virtual_machines.begin_restart, "PowerState/running")):
        begin(rg, "vm1").result()
        assert power_state(c.virtual_machines.instance_view(rg, "vm1")) == state, begin.__name__

    ext = c.virtual_machine_extensions.begin_create_or_update(rg, "vm1", "CustomScript", {
        "location": "westeurope", "properties": {
            "publisher": "Microsoft.Azure.Extensions", "type": "CustomScript", "typeHandlerVersion": "2.1",
            "settings": {"commandToExecute": "echo hello"},
            "protectedSettings": {"fileUris": ["https://example.invalid/s.sh?sig=secret"]}}}).result()
    assert ext.provisioning_state == "Succeeded" and ext.protected_settings is None
    view = c.virtual_machines.instance_view(rg, "vm1")
    assert [e.type for e in view.extensions] == ["Microsoft.Azure.Extensions.CustomScript"]

    # a delegated Reader (bob) reads the instance view but may not power the VM off
    bob = compute("bob")
    assert power_state(bob.virtual_machines.instance_view(rg, "vm1")) == "PowerState/running"
    with pytest.raises(HttpResponseError) as e:
        bob.virtual_machines.begin_power_off(rg, "vm1").result()
    assert (e.value.status_code, e.value.error.code) == (403, "AuthorizationFailed")


def test_a_delegated_caller_cannot_assign_vm_login_roles(emulator, authorization_client):
    vm = (f"/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Compute/"
          f"virtualMachines/vm-web-01")
    role = f"/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{VM_ADMIN_LOGIN}"
    alice = principal("alice")
    name = str(uuid.uuid4())
    params = RoleAssignmentCreateParameters(role_definition_id=role, principal_id=alice.object_id,
                                            principal_type="User")
    with pytest.raises(HttpResponseError) as e:
        authorization_client("alice", FABRIKAM_PROD).role_assignments.create(vm, name, params)
    assert (e.value.status_code, e.value.error.code) == (403, "AuthorizationFailed")
    assert "Microsoft.Authorization/roleAssignments/write" in e.value.error.message

    url = f"{vm}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"
    r = emulator.admin("POST", "/_emulator/explain", json={
        "principal": alice.login, "method": "PUT", "url": url,
        "body": {"properties": {"roleDefinitionId": role, "principalId": alice.object_id}}})
    assert r.status_code == 200, r.text
    x = r.json()
    assert x["decision"] == "denied"
    why = [r for r in x["reasons"] if r["kind"] == "dataActionRole"]
    assert why and why[0]["role"] == "Virtual Machine Administrator Login"
    assert "Microsoft.Compute/virtualMachines/login/action" in why[0]["dataActions"]
    assert "never delegated" in why[0]["message"]
