#!/usr/bin/env bash
# The VM workflow with the unmodified Azure CLI (issue 9 item 7), as alice — a Contoso MSP user,
# Contributor in fabrikam-prod through the delegation: az vm create --image Ubuntu2204 (the alias
# document, the image catalogue, the deployment of network objects and VM), az vm list -d,
# get-instance-view, stop/deallocate/start/restart with the power state shown, az vm extension set and
# boot diagnostics — and az role assignment create --role "Virtual Machine Administrator Login" refused.
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az-vm.sh
set -Eeuo pipefail

SCRIPT=az-vm.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALICE_OID=30000000-0000-0000-0000-000000001111
RG="rg-vm-$(date +%s)-$$"
# --generate-ssh-keys writes ~/.ssh: keep it in the throw-away directory
export HOME="$WORK/home"
export AZURE_CORE_DISPLAY_REGION_IDENTIFIED=false  # az vm create's "Selecting uksouth may reduce your costs"
mkdir -p "$HOME"

register_cloud

step "az login -u alice@contosomsp.onmicrosoft.com; az account set -s fabrikam-prod"
if ! userrealm_on_443; then
  skip "$NO_443"
  trap - ERR
  echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
  exit 0
fi
az_ login -u alice@contosomsp.onmicrosoft.com -p 'Alice-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
expect_eq "$FABRIKAM" "$(az_ account show --query homeTenantId -o tsv)" "fabrikam-prod's home tenant"
ok

step "the cloud's vmImageAliasDoc is the emulator's, and az vm image list reads it"
expect_eq "$URL/_emulator/vm-image-aliases.json" "$(az_ cloud show --query endpoints.vmImageAliasDoc -o tsv)" "vmImageAliasDoc"
aliases="$(az_ vm image list --query "[].urnAlias" -o tsv)"
expect_line Ubuntu2204 "$aliases" "az vm image list"
expect_line Win2022Datacenter "$aliases" "az vm image list"
ok

step "az vm image list --all / show: the marketplace catalogue"
skus="$(az_ vm image list-skus -l westeurope -p Canonical -f 0001-com-ubuntu-server-jammy --query "[].name" -o tsv)"
expect_line 22_04-lts-gen2 "$skus" "az vm image list-skus"
got="$(az_ vm image show --urn Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest -l westeurope \
  --query "[hyperVGeneration, osDiskImage.operatingSystem]" -o tsv | tr '\n' ' ')"
expect_eq "V2 Linux " "$got" "az vm image show (generation, OS)"
ok

step "az vm create -g <new group> -n vm1 --image Ubuntu2204 --generate-ssh-keys (a deployment of vnet, NSG, public IP, NIC, VM)"
az_ group create -n "$RG" -l westeurope -o none
out="$(az_ vm create -g "$RG" -n vm1 --image Ubuntu2204 --admin-username azureuser --generate-ssh-keys -o json)"
expect_eq "VM running" "$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["powerState"])' <<<"$out")" "vm create's powerState"
private_ip="$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["privateIpAddress"])' <<<"$out")"
public_ip="$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["publicIpAddress"])' <<<"$out")"
expect_eq 10.0.0.4 "$private_ip" "vm create's privateIpAddress"
[[ -n $public_ip ]] || { echo "no publicIpAddress in: $out" >&2; false; }
types="$(az_ resource list -g "$RG" --query "[].type" -o tsv | sort -u)"
for t in Microsoft.Compute/virtualMachines Microsoft.Compute/disks Microsoft.Network/networkInterfaces Microsoft.Network/networkSecurityGroups \
         Microsoft.Network/publicIPAddresses Microsoft.Network/virtualNetworks; do
  expect_line "$t" "$types" "the group's resources"
done
expect_eq azureuser "$(az_ vm show -g "$RG" -n vm1 --query osProfile.adminUsername -o tsv)" "az vm show"
expect_eq 22_04-lts-gen2 "$(az_ vm show -g "$RG" -n vm1 --query storageProfile.imageReference.sku -o tsv)" "the VM's image"
expect_eq true "$(az_ vm show -g "$RG" -n vm1 --query osProfile.linuxConfiguration.disablePasswordAuthentication -o tsv)" \
  "SSH-only sign-in"
ok

step "az vm list -d and az vm get-instance-view"
expect_eq "VM running" "$(az_ vm list -d -g "$RG" --query "[?name=='vm1'].powerState" -o tsv)" "az vm list -d powerState"
expect_eq "$public_ip" "$(az_ vm list -d -g "$RG" --query "[?name=='vm1'].publicIps" -o tsv)" "az vm list -d publicIps"
codes="$(az_ vm get-instance-view -g "$RG" -n vm1 --query "instanceView.statuses[].code" -o tsv)"
expect_line ProvisioningState/succeeded "$codes" "the instance view's statuses"
expect_line PowerState/running "$codes" "the instance view's statuses"
ok

step "az vm stop / deallocate / start / restart: the power state follows"
power() { az_ vm show -d -g "$RG" -n vm1 --query powerState -o tsv; }
az_ vm stop -g "$RG" -n vm1 -o none
expect_eq "VM stopped" "$(power)" "power state after az vm stop"
az_ vm deallocate -g "$RG" -n vm1 -o none
expect_eq "VM deallocated" "$(power)" "power state after az vm deallocate"
err="$(az_ vm restart -g "$RG" -n vm1 -o none 2>&1)" && { echo "restart of a deallocated VM succeeded" >&2; false; }
[[ $err == *OperationNotAllowed* ]] || { echo "expected OperationNotAllowed, got: $err" >&2; false; }
az_ vm start -g "$RG" -n vm1 -o none
expect_eq "VM running" "$(power)" "power state after az vm start"
az_ vm restart -g "$RG" -n vm1 -o none
expect_eq "VM running" "$(power)" "power state after az vm restart"
ok

step "az vm extension set (custom script) and az vm boot-diagnostics enable: allowed for alice"
got="$(az_ vm extension set -g "$RG" --vm-name vm1 --name CustomScript --publisher Microsoft.Azure.Extensions \
  --settings '{"commandToExecute":"echo hello"}' --protected-settings '{"fileUris":["https://example.invalid/s.sh"]}' \
  --query "[provisioningState, typeHandlerVersion]" -o tsv | tr '\n' ' ')"
expect_eq "Succeeded 2.1 " "$got" "the extension (state, version resolved from the extension images)"
expect_line CustomScript "$(az_ vm extension list -g "$RG" --vm-name vm1 --query "[].name" -o tsv)" "az vm extension list"
expect_eq "" "$(az_ vm extension show -g "$RG" --vm-name vm1 -n CustomScript --query protectedSettings -o tsv)" \
  "protectedSettings (never returned)"
az_ vm boot-diagnostics enable -g "$RG" -n vm1
expect_eq true "$(az_ vm show -g "$RG" -n vm1 --query diagnosticsProfile.bootDiagnostics.enabled -o tsv)" "boot diagnostics"
ok

step "az role assignment create --role \"Virtual Machine Administrator Login\": refused for the delegated caller"
vm_id="$(az_ vm show -g "$RG" -n vm1 --query id -o tsv)"
err="$(az_ role assignment create --role "Virtual Machine Administrator Login" --assignee-object-id "$ALICE_OID" \
  --assignee-principal-type User --scope "$vm_id" 2>&1)" && { echo "the assignment was created" >&2; false; }
[[ $err == *"(AuthorizationFailed)"* && $err == *"Microsoft.Authorization/roleAssignments/write"* ]] \
  || { echo "expected AuthorizationFailed on roleAssignments/write, got: $err" >&2; false; }
ok

step "az vm delete and az group delete"
az_ vm delete -g "$RG" -n vm1 --yes
expect_no_line vm1 "$(az_ vm list -g "$RG" --query "[].name" -o tsv)" "az vm list after delete"
az_ group delete -n "$RG" --yes
az_ logout
ok

trap - ERR
echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
