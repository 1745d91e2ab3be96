"""Issue 9 items 1 and 5 through the management SDKs: globally unique names (azure-mgmt-storage,
azure-mgmt-keyvault) and child resources seen both in the parent and on their own (azure-mgmt-network)."""

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from conftest import FABRIKAM, FABRIKAM_PROD, NORTHWIND_MAIN, unique_name


@pytest.fixture
def clients(emulator, creds):
    def make(kind, who, sub):
        cred = creds.for_principal(who)
        if kind == "storage":
            from azure.mgmt.storage import StorageManagementClient as C
        elif kind == "keyvault":
            from azure.mgmt.keyvault import KeyVaultManagementClient as C
        elif kind == "network":
            from azure.mgmt.network import NetworkManagementClient as C
        else:
            from azure.mgmt.resource.resources import ResourceManagementClient as C
        return C(cred, sub, base_url=emulator.url)

    return make


@pytest.fixture
def alice_rg(clients):
    """A group of alice's own in fabrikam-prod (she is Contributor there through the delegation)."""
    rc = clients("resources", "alice", FABRIKAM_PROD)
    name = unique_name("rg-alice")
    rc.resource_groups.create_or_update(name, {"location": "westeurope"})
    yield name
    rc.resource_groups.begin_delete(name, polling_interval=0.2).result()


SA = {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}


def test_a_taken_storage_account_name_is_refused_in_every_tenant(clients, alice_rg):
    for who, sub, rg in (("alice", FABRIKAM_PROD, alice_rg), ("northwind-ci", NORTHWIND_MAIN, "rg-private")):
        sc = clients("storage", who, sub)
        with pytest.raises(HttpResponseError) as e:
            sc.storage_accounts.begin_create(rg, "fabrikamdata", SA, polling_interval=0.1).result()
        assert e.value.status_code == 409
        assert e.value.error.code == "StorageAccountAlreadyTaken"
        assert e.value.error.message == "The storage account named fabrikamdata is already taken."
        check = sc.storage_accounts.check_name_availability(
            {"name": "fabrikamdata", "type": "Microsoft.Storage/storageAccounts"})
        assert (check.name_available, check.reason) == (False, "AlreadyExists")
    # reader@fabrikam's data is still there: the account is fabrikam's
    admin = clients("storage", "admin@fabrikam", FABRIKAM_PROD)
    assert admin.storage_accounts.get_properties("rg-data", "fabrikamdata").name == "fabrikamdata"


def test_check_name_agrees_with_create_on_invalid_and_free_names(clients, alice_rg):
    sc = clients("storage", "alice", FABRIKAM_PROD)
    check = sc.storage_accounts.check_name_availability(
        {"name": "Bad_Name", "type": "Microsoft.Storage/storageAccounts"})
    assert (check.name_available, check.reason) == (False, "AccountNameInvalid")
    with pytest.raises(HttpResponseError) as e:
        sc.storage_accounts.begin_create(alice_rg, "Bad_Name", SA, polling_interval=0.1).result()
    assert (e.value.status_code, e.value.error.code) == (400, "AccountNameInvalid")
    free = unique_name("sa").replace("-", "")[:24].lower()
    assert sc.storage_accounts.check_name_availability(
        {"name": free, "type": "Microsoft.Storage/storageAccounts"}).name_available
    made = sc.storage_accounts.begin_create(alice_rg, free, SA, polling_interval=0.1).result()
    assert made.name == free
    # now taken for another tenant
    nw = clients("storage", "northwind-ci", NORTHWIND_MAIN)
    assert not nw.storage_accounts.check_name_availability(
        {"name": free, "type": "Microsoft.Storage/storageAccounts"}).name_available


def test_a_taken_vault_name_is_refused(clients, alice_rg):
    kv = clients("keyvault", "alice", FABRIKAM_PROD)
    check = kv.vaults.check_name_availability({"name": "fabrikam-kv", "type": "Microsoft.KeyVault/vaults"})
    assert (check.name_available, check.reason) == (False, "AlreadyExists")
    with pytest.raises(HttpResponseError) as e:
        kv.vaults.begin_create_or_update(
            alice_rg, "fabrikam-kv",
            {"location": "westeurope",
             "properties": {"tenantId": FABRIKAM, "sku": {"family": "A", "name": "standard"}}},
            polling_interval=0.1).result()
    assert (e.value.status_code, e.value.error.code) == (409, "VaultAlreadyExists")


def test_subnets_created_in_the_vnet_body_are_listed_and_shown(clients, alice_rg):
    nc = clients("network", "alice", FABRIKAM_PROD)
    # bodies as JSON (this SDK sends a dict as it is)
    vnet = nc.virtual_networks.begin_create_or_update(alice_rg, "vnet1", {
        "location": "westeurope",
        "properties": {"addressSpace": {"addressPrefixes": ["10.8.0.0/16"]},
                       "subnets": [{"name": "default", "properties": {"addressPrefix": "10.8.0.0/24"}}]},
    }, polling_interval=0.1).result()
    assert vnet.subnets[0].id.endswith("/virtualNetworks/vnet1/subnets/default")
    assert [s.name for s in nc.subnets.list(alice_rg, "vnet1")] == ["default"]
    default = nc.subnets.get(alice_rg, "vnet1", "default")
    assert (default.address_prefix, default.provisioning_state) == ("10.8.0.0/24", "Succeeded")
    # a subnet made on its own shows in the vnet; deleting it takes it out
    nc.subnets.begin_create_or_update(alice_rg, "vnet1", "apps", {"properties": {"addressPrefix": "10.8.1.0/24"}},
                                      polling_interval=0.1).result()
    assert sorted(s.name for s in nc.virtual_networks.get(alice_rg, "vnet1").subnets) == ["apps", "default"]
    nc.subnets.begin_delete(alice_rg, "vnet1", "default", polling_interval=0.1).result()
    assert [s.name for s in nc.virtual_networks.get(alice_rg, "vnet1").subnets] == ["apps"]
    with pytest.raises(ResourceNotFoundError):
        nc.subnets.get(alice_rg, "vnet1", "default")


def test_security_rules_are_one_object_with_their_group(clients, alice_rg):
    nc = clients("network", "alice", FABRIKAM_PROD)
    def rule(priority, port):
        return {"priority": priority, "access": "Allow", "direction": "Inbound", "protocol": "Tcp",
                "sourceAddressPrefix": "*", "sourcePortRange": "*",
                "destinationAddressPrefix": "*", "destinationPortRange": port}

    nc.network_security_groups.begin_create_or_update(alice_rg, "nsg1", {
        "location": "westeurope",
        "properties": {"securityRules": [{"name": "ssh", "properties": rule(100, "22")}]},
    }, polling_interval=0.1).result()
    assert nc.security_rules.get(alice_rg, "nsg1", "ssh").destination_port_range == "22"
    nc.security_rules.begin_create_or_update(alice_rg, "nsg1", "https", {"properties": rule(110, "443")},
                                             polling_interval=0.1).result()
    rules = nc.network_security_groups.get(alice_rg, "nsg1").security_rules
    assert sorted(r.name for r in rules) == ["https", "ssh"]
    assert sorted(r.name for r in nc.security_rules.list(alice_rg, "nsg1")) == ["https", "ssh"]
