#!/usr/bin/env bash
# Issue 9 items 1–5 with the real Azure CLI, each command unmodified as the identity it names:
# global names, a managed application's deny assignment going with its group, locations and name
# rules, create statuses the CLI accepts, and subnets / NSG rules seen both ways.
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az-resources.sh
#
# Expects a freshly reset world (scripts/test resets before each tests/cli/az*.sh).
set -Eeuo pipefail

SCRIPT=az-resources.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

register_cloud
if ! userrealm_on_443; then
  step "az login -u (alice, admin@tailspin, admin@fabrikam)"
  skip "$NO_443"
  echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
  exit 0
fi

step "alice: az storage account create -n fabrikamdata in her own group of fabrikam-prod → StorageAccountAlreadyTaken"
az_ login -u alice@contosomsp.onmicrosoft.com -p 'Alice-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
az_ group create -n rg-alice -l westeurope -o none
expect_fail "az storage account create -n fabrikamdata" "The storage account named fabrikamdata is already taken." -- \
  storage account create -n fabrikamdata -g rg-alice -l westeurope --sku Standard_LRS -o none
expect_eq AlreadyExists "$(az_ storage account check-name -n fabrikamdata --query reason -o tsv)" "check-name fabrikamdata"
ok

step "alice: az keyvault create -n fabrikam-kv → the vault name is already in use"
expect_fail "az keyvault create -n fabrikam-kv" "already in use" -- \
  keyvault create -n fabrikam-kv -g rg-alice -l westeurope -o none
ok

step "alice: az storage account create -n Bad_Name → AccountNameInvalid, as check-name says"
expect_eq AccountNameInvalid "$(az_ storage account check-name -n Bad_Name --query reason -o tsv)" "check-name Bad_Name"
expect_fail "az storage account create -n Bad_Name" "Bad_Name is not a valid storage account name" -- \
  storage account create -n Bad_Name -g rg-alice -l westeurope --sku Standard_LRS -o none
ok

step "alice: az group create -l marsnorth → LocationNotAvailableForResourceGroup"
expect_fail "az group create -l marsnorth" "The provided location 'marsnorth' is not available for resource group" -- \
  group create -n rg-mars -l marsnorth -o none
expect_eq false "$(az_ group exists -n rg-mars -o tsv)" "az group exists rg-mars"
ok

step "alice: az network vnet create with a subnet; az network vnet subnet list/show/create/delete"
az_ network vnet create -g rg-alice -n vnet1 --address-prefixes 10.7.0.0/16 \
  --subnet-name default --subnet-prefixes 10.7.0.0/24 -o none
expect_eq default "$(az_ network vnet subnet list -g rg-alice --vnet-name vnet1 --query "[].name" -o tsv)" "subnet list"
expect_eq 10.7.0.0/24 "$(az_ network vnet subnet show -g rg-alice --vnet-name vnet1 -n default --query addressPrefix -o tsv)" "subnet show"
az_ network vnet subnet create -g rg-alice --vnet-name vnet1 -n apps --address-prefixes 10.7.1.0/24 -o none
names="$(az_ network vnet show -g rg-alice -n vnet1 --query "subnets[].name" -o tsv)"
expect_line apps "$names" "the vnet's subnets"
expect_line default "$names" "the vnet's subnets"
az_ network vnet subnet delete -g rg-alice --vnet-name vnet1 -n default -o none
expect_eq apps "$(az_ network vnet show -g rg-alice -n vnet1 --query "subnets[].name" -o tsv)" "the vnet's subnets after the delete"
ok

step "alice: az network nsg create; az network nsg rule create/list; the rule in the group's body"
az_ network nsg create -g rg-alice -n nsg1 -o none
az_ network nsg rule create -g rg-alice --nsg-name nsg1 -n ssh --priority 100 --destination-port-ranges 22 \
  --access Allow --protocol Tcp -o none
expect_eq ssh "$(az_ network nsg rule list -g rg-alice --nsg-name nsg1 --query "[].name" -o tsv)" "nsg rule list"
expect_eq ssh "$(az_ network nsg show -g rg-alice -n nsg1 --query "securityRules[].name" -o tsv)" "the group's rules"
ok

step "alice: az group delete -n rg-apps in tailspin-prod takes the application's deny assignment"
az_ account set -s "$TAILSPIN_PROD"
az_ group delete -n rg-apps --yes
az_ logout
az_ login -u admin@tailspin.onmicrosoft.com -p 'Tailspin-Pa55!' -o none
az_ account set -s "$TAILSPIN_PROD"
expect_eq false "$(az_ group exists -n mrg-tailspin-app -o tsv)" "the managed resource group after the delete"
expect_eq 0 "$(az_ rest --method get --url "/subscriptions/$TAILSPIN_PROD/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01" --query "length(value)" -o tsv)" "deny assignments left"
az_ group create -n mrg-tailspin-app -l westeurope -o none
expect_eq Succeeded "$(az_ network vnet create -g mrg-tailspin-app -n v1 --query newVNet.provisioningState -o tsv)" "admin@tailspin's vnet in mrg-tailspin-app"
az_ logout
ok

step "admin@fabrikam: az security pricing create, az monitor metrics alert create, az monitor diagnostic-settings create"
az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
expect_eq VirtualMachines "$(az_ security pricing create -n VirtualMachines --tier standard --query name -o tsv)" "the pricing"
vm="/subscriptions/$FABRIKAM_PROD/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-01"
expect_eq cpu-high "$(az_ monitor metrics alert create -n cpu-high -g rg-web --scopes "$vm" \
  --condition "avg Percentage CPU > 90" --query name -o tsv)" "the metric alert"
vnet="/subscriptions/$FABRIKAM_PROD/resourceGroups/rg-web/providers/Microsoft.Network/virtualNetworks/vnet-web"
sa="/subscriptions/$FABRIKAM_PROD/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata"
expect_eq diag "$(az_ monitor diagnostic-settings create -n diag --resource "$vnet" --storage-account "$sa" \
  --metrics '[{"category":"AllMetrics","enabled":true}]' --query name -o tsv)" "the diagnostic setting"
az_ logout
ok

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
