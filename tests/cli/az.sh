#!/usr/bin/env bash
# Runs the real Azure CLI against a running lighthouse-emulator.
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT \
#   LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az.sh
#
# Everything az writes goes to a throw-away AZURE_CONFIG_DIR. scripts/test starts the emulator
# and sets the variables. Exits non-zero at the first failed command, naming it.
set -Eeuo pipefail

SCRIPT=az.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RG="rg-az-$(date +%s)-$$"

step "az cloud register --endpoint-resource-manager $URL (GET /metadata/endpoints)"
az_ cloud register -n LighthouseEmulator --endpoint-resource-manager "$URL" -o none
az_ cloud set -n LighthouseEmulator -o none
got="$(az_ cloud show -n LighthouseEmulator --query endpoints.activeDirectory -o tsv)"
expect_eq "$URL" "${got%/}" "the cloud's activeDirectory endpoint"
ok

step "az login --service-principal as fabrikam-ci"
az_ login --service-principal -u "$FABRIKAM_CI_APP" -p fabrikam-ci-secret --tenant "$FABRIKAM" -o none
subs="$(az_ account list --query "[].id" -o tsv)"
expect_line "$FABRIKAM_PROD" "$subs" "az account list"
expect_line "$FABRIKAM_DEV" "$subs" "az account list"
tenants="$(az_ account list --query "[].tenantId" -o tsv | sort -u)"
expect_eq "$FABRIKAM" "$tenants" "the subscriptions' tenant ids"
ok

step "az rest relative URL goes to the emulator"
got="$(az_ rest --method get --url "/subscriptions?api-version=2022-12-01" --query "length(value)" -o tsv)"
expect_eq 2 "$got" "the number of fabrikam-ci's subscriptions via az rest"
ok

step "az group create/list/show/update in fabrikam-dev"
az_ account set -s "$FABRIKAM_DEV"
got="$(az_ group create -n "$RG" -l westeurope --tags env=az --query properties.provisioningState -o tsv)"
expect_eq Succeeded "$got" "provisioningState of the new group"
groups="$(az_ group list --query "[].name" -o tsv)"
expect_line "$RG" "$groups" "az group list"
expect_line rg-dev "$groups" "az group list"
expect_eq westeurope "$(az_ group show -n "$RG" --query location -o tsv)" "location of $RG"
expect_eq true "$(az_ group exists -n "$RG" -o tsv)" "az group exists"
expect_eq az2 "$(az_ group update -n "$RG" --set tags.env=az2 --query tags.env -o tsv)" "the updated tag"
ok

step "az role assignment list --scope /subscriptions/fabrikam-prod (with Graph principal names)"
ras="$(az_ role assignment list --scope "/subscriptions/$FABRIKAM_PROD" --query "[].principalId" -o tsv)"
expect_line "$FABRIKAM_ADMIN_OID" "$ras" "role assignments on fabrikam-prod"
expect_line "$FABRIKAM_CI_OID" "$ras" "role assignments on fabrikam-prod"
expect_line "$FABRIKAM_READER_OID" "$ras" "role assignments on fabrikam-prod"
got="$(az_ role assignment list --scope "/subscriptions/$FABRIKAM_PROD" \
  --query "[?principalId=='$FABRIKAM_READER_OID' && roleDefinitionName=='Reader'].principalName" -o tsv)"
expect_eq reader@fabrikam.onmicrosoft.com "$got" "principalName of reader@fabrikam's Reader assignment"
ok

step "az role assignment list --all in fabrikam-dev"
az_ account set -s "$FABRIKAM_DEV"
got="$(az_ role assignment list --all --query "[?principalId=='$FABRIKAM_CI_OID'].roleDefinitionName" -o tsv)"
expect_line Contributor "$got" "fabrikam-ci's roles in fabrikam-dev"
ok

step "az resource create/show/tag/delete without --api-version (versions from the provider catalogue)"
az_ account set -s "$FABRIKAM_DEV"
vnet_id="$(az_ resource create -g "$RG" -n vnet-az --resource-type Microsoft.Network/virtualNetworks \
  --properties '{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]}}' -l westeurope --query id -o tsv)"
expect_eq "/subscriptions/$FABRIKAM_DEV/resourceGroups/$RG/providers/Microsoft.Network/virtualNetworks/vnet-az" \
  "$vnet_id" "the new virtual network's id"
expect_eq vnet-az "$(az_ resource show --ids "$vnet_id" --query name -o tsv)" "az resource show --ids"
expect_eq b "$(az_ resource tag --ids "$vnet_id" --tags a=b --query tags.a -o tsv)" "the tag set by az resource tag"
expect_line vnet-az "$(az_ resource list --tag a=b --query "[].name" -o tsv)" "az resource list --tag a=b"
ok

step "az tag list, az tag update --resource-id and az group export"
expect_line a "$(az_ tag list --query "[].tagName" -o tsv)" "az tag list"
got="$(az_ group export -n "$RG" --query "resources[?type=='Microsoft.Network/virtualNetworks'].name" -o tsv)"
expect_eq "[parameters('virtualNetworks_vnet_az_name')]" "$got" "the exported network's name"
expect_eq d "$(az_ tag update --resource-id "$vnet_id" --operation Merge --tags c=d --query properties.tags.c -o tsv)" \
  "az tag update --operation Merge"
expect_eq "b d" "$(az_ resource show --ids "$vnet_id" --query "[tags.a, tags.c]" -o tsv | tr '\t\n' '  ' | xargs)" \
  "the network's tags after the merge"
az_ resource delete --ids "$vnet_id"
ok

step "az storage account check-name / create / keys list (checkNameAvailability, a create answered 200)"
st="st$(date +%s | tail -c 9)$$"
st="${st:0:24}"
expect_eq true "$(az_ storage account check-name -n "$st" --query nameAvailable -o tsv)" "the new name's availability"
expect_eq AccountNameInvalid "$(az_ storage account check-name -n Not-Valid --query reason -o tsv)" "an invalid name's reason"
expect_eq Succeeded "$(az_ storage account create -g "$RG" -n "$st" -l westeurope --sku Standard_LRS \
  --query provisioningState -o tsv)" "the storage account's provisioningState"
expect_eq AlreadyExists "$(az_ storage account check-name -n "$st" --query reason -o tsv)" "a taken name's reason"
expect_eq key1 "$(az_ storage account keys list -g "$RG" -n "$st" --query "[0].keyName" -o tsv)" "az storage account keys list"
ok

step "az group delete (long-running) in fabrikam-dev"
az_ group delete -n "$RG" --yes
expect_eq false "$(az_ group exists -n "$RG" -o tsv)" "az group exists after delete"
expect_no_line "$RG" "$(az_ group list --query "[].name" -o tsv)" "az group list after delete"
ok

step "az logout and az account clear"
az_ logout
az_ account clear
expect_eq 0 "$(az_ account list --query "length(@)" -o tsv)" "the number of accounts after clear"
ok

step "az login -u admin@fabrikam.onmicrosoft.com (password; MSAL needs the user-realm lookup on :443)"
if ! userrealm_on_443; then
  skip "$NO_443"
else
  az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
  subs="$(az_ account list --query "[].id" -o tsv)"
  expect_line "$FABRIKAM_PROD" "$subs" "admin@fabrikam's az account list"
  expect_line "$FABRIKAM_DEV" "$subs" "admin@fabrikam's az account list"
  expect_eq user "$(az_ account show --query user.type -o tsv)" "the signed-in account type"
  expect_eq admin@fabrikam.onmicrosoft.com "$(az_ account show --query user.name -o tsv)" "the signed-in user"
  expect_eq "$FABRIKAM" "$(az_ account show --query tenantId -o tsv)" "the signed-in tenant"
  az_ account set -s "$FABRIKAM_PROD"
  expect_line rg-web "$(az_ group list --query "[].name" -o tsv)" "admin@fabrikam's groups in fabrikam-prod"
  az_ account get-access-token --query accessToken -o tsv >/dev/null
  az_ logout
  ok
fi

step "az login --service-principal as msp-automation: az account list shows the customers' subscriptions"
az_ login --service-principal -u "$MSP_AUTOMATION_APP" -p msp-automation-secret --tenant "$CONTOSO" -o none
subs="$(az_ account list --query "[].id" -o tsv | sort)"
expect_eq "$(printf '%s\n' "$MSP_TOOLS" "$FABRIKAM_PROD" "$NORTHWIND_MAIN" "$TAILSPIN_PROD" | sort)" "$subs" \
  "msp-automation's subscriptions (msp-tools and the three delegated ones, not fabrikam-dev)"
# az keeps the token's tenant in tenantId and the subscription's own tenant in homeTenantId.
expect_eq "$FABRIKAM" "$(az_ account list --query "[?id=='$FABRIKAM_PROD'].homeTenantId" -o tsv)" "fabrikam-prod's home tenant"
expect_eq "$NORTHWIND" "$(az_ account list --query "[?id=='$NORTHWIND_MAIN'].homeTenantId" -o tsv)" "northwind-main's home tenant"
expect_eq "$TAILSPIN" "$(az_ account list --query "[?id=='$TAILSPIN_PROD'].homeTenantId" -o tsv)" "tailspin-prod's home tenant"
expect_eq "$CONTOSO" "$(az_ account list --query "[?id=='$TAILSPIN_PROD'].tenantId" -o tsv)" "the tenant az signs in to for tailspin-prod"
expect_eq "$CONTOSO" "$(az_ account list --query "[?id=='$FABRIKAM_PROD'].managedByTenants[].tenantId" -o tsv)" \
  "fabrikam-prod's managedByTenants"
expect_eq "" "$(az_ account list --query "[?id=='$MSP_TOOLS'].managedByTenants[]" -o tsv)" "msp-tools' managedByTenants"
ok

step "a resource-group delegation from az: group and resource lists show rg-managed only, az resource reads versions"
az_ account set -s "$NORTHWIND_MAIN"
expect_eq rg-managed "$(az_ group list --query "[].name" -o tsv)" "az group list in northwind-main (rg-private is not delegated)"
expect_eq vm-app-01 "$(az_ resource list -g rg-managed --query "[].name" -o tsv)" "az resource list -g rg-managed"
expect_eq vm-app-01 "$(az_ resource show -g rg-managed -n vm-app-01 --resource-type Microsoft.Compute/virtualMachines \
  --query name -o tsv)" "az resource show without --api-version"
if az_ resource list -g rg-private -o none 2>"$WORK/err"; then
  echo "expected az resource list -g rg-private to be refused" >&2; false
fi
grep -q AuthorizationFailed "$WORK/err"
ok

MSP_RG="rg-az-msp-$(date +%s)-$$"
step "az group create in fabrikam-prod through the delegation, then az monitor activity-log list --offset 1h"
az_ account set -s "$FABRIKAM_PROD"
expect_eq Succeeded "$(az_ group create -n "$MSP_RG" -l westeurope --query properties.provisioningState -o tsv)" \
  "provisioningState of msp-automation's group in fabrikam-prod"
got="$(az_ monitor activity-log list --subscription "$FABRIKAM_PROD" --offset 1h \
  --query "[?resourceGroupName=='$MSP_RG'].status.value" -o tsv)"
expect_line Succeeded "$got" "the statuses of $MSP_RG's events in fabrikam-prod's activity log"
expect_line Started "$got" "the statuses of $MSP_RG's events in fabrikam-prod's activity log"
got="$(az_ monitor activity-log list --subscription "$FABRIKAM_PROD" --offset 1h -g "$MSP_RG" \
  --query "[?status.value=='Succeeded'].[operationName.value, claims.\"http://schemas.microsoft.com/identity/claims/tenantid\"]" -o tsv)"
expect_eq "Microsoft.Resources/subscriptions/resourceGroups/write"$'\t'"$CONTOSO" "$got" \
  "the write's operation and the caller's home tenant (-g filter)"
az_ group delete -n "$MSP_RG" --yes
az_ logout
ok

DEF_ID="$("$PYTHON" -c 'import uuid; print(uuid.uuid4())')"
ASSIGN_ID="$("$PYTHON" -c 'import uuid; print(uuid.uuid4())')"
step "az managedservices definition create / assignment create, list, delete as admin@fabrikam (onboards fabrikam-dev)"
if ! userrealm_on_443; then
  skip "$NO_443"
else
  az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
  az_ account set -s "$FABRIKAM_DEV"
  got="$(az_ managedservices definition create --name "Contoso MSP - az" --description "made by az.sh" \
    --tenant-id "$CONTOSO" --principal-id "$MSP_OPERATORS_OID" --role-definition-id "$READER_ROLE" \
    --definition-id "$DEF_ID" --query "[name, properties.provisioningState, properties.managedByTenantId]" -o tsv | paste -sd ' ')"
  # (az speaks 2019-06-01, whose model has no manageeTenantId: az drops it)
  expect_eq "$DEF_ID Succeeded $CONTOSO" "$got" \
    "the new registration definition's name, provisioningState and managedByTenantId"
  DEF="/subscriptions/$FABRIKAM_DEV/providers/Microsoft.ManagedServices/registrationDefinitions/$DEF_ID"
  expect_line "$DEF_ID" "$(az_ managedservices definition list --query "[].name" -o tsv)" "az managedservices definition list"
  expect_eq Succeeded "$(az_ managedservices assignment create --definition "$DEF" --assignment-id "$ASSIGN_ID" \
    --query properties.provisioningState -o tsv)" "the new registration assignment's provisioningState"
  expect_line "$ASSIGN_ID" "$(az_ managedservices assignment list --query "[].name" -o tsv)" "az managedservices assignment list"
  expect_eq "$CONTOSO" "$(az_ managedservices assignment list --include-definition true \
    --query "[?name=='$ASSIGN_ID'].properties.registrationDefinition.properties.managedByTenantId" -o tsv)" \
    "the managing tenant of the new assignment (--include-definition)"
  az_ logout

  # From the managing tenant the new customer subscription is there.
  az_ login --service-principal -u "$MSP_AUTOMATION_APP" -p msp-automation-secret --tenant "$CONTOSO" -o none
  expect_eq "$FABRIKAM" "$(az_ account list --query "[?id=='$FABRIKAM_DEV'].homeTenantId" -o tsv)" \
    "fabrikam-dev's home tenant as msp-automation sees it after onboarding"
  expect_line rg-dev "$(az_ group list --subscription "$FABRIKAM_DEV" --query "[].name" -o tsv)" \
    "msp-automation's groups in fabrikam-dev"
  az_ logout

  az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
  az_ account set -s "$FABRIKAM_DEV"
  az_ managedservices assignment delete --assignment "$ASSIGN_ID" --yes
  expect_no_line "$ASSIGN_ID" "$(az_ managedservices assignment list --query "[].name" -o tsv)" \
    "az managedservices assignment list after delete"
  az_ managedservices definition delete --definition "$DEF_ID" --yes
  expect_no_line "$DEF_ID" "$(az_ managedservices definition list --query "[].name" -o tsv)" \
    "az managedservices definition list after delete"
  az_ logout

  # Revoked: the managing tenant no longer sees fabrikam-dev.
  az_ login --service-principal -u "$MSP_AUTOMATION_APP" -p msp-automation-secret --tenant "$CONTOSO" -o none
  expect_no_line "$FABRIKAM_DEV" "$(az_ account list --query "[].id" -o tsv)" \
    "msp-automation's subscriptions after the assignment is deleted"
  az_ logout
  ok
fi

DEP_NAME="az-onboard-$(date +%s)-$$"
SUB_TEMPLATE=tests/templates/lighthouse/templates/delegated-resource-management/subscription/subscription.json
step "az deployment sub create: the subscription onboarding sample, unmodified, as admin@fabrikam into fabrikam-dev"
if ! userrealm_on_443; then
  skip "$NO_443"
else
  # The sample parameter file, filled with the default world's ids (Contoso MSP, MSP Operators).
  "$PYTHON" - "${SUB_TEMPLATE%.json}.parameters.json" "$WORK/onboard.parameters.json" "$CONTOSO" "$MSP_OPERATORS_OID" <<'EOF'
import json, sys
src, dst, tenant, group = sys.argv[1:]
p = json.load(open(src))
p["parameters"]["managedByTenantId"]["value"] = tenant
for a in p["parameters"]["authorizations"]["value"]:
    a["principalId"] = group
json.dump(p, open(dst, "w"), indent=2)
EOF
  az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
  az_ account set -s "$FABRIKAM_DEV"
  expect_eq Succeeded "$(az_ deployment sub create --name "$DEP_NAME" --location westeurope \
    --template-file "$SUB_TEMPLATE" --parameters "@$WORK/onboard.parameters.json" \
    --query properties.provisioningState -o tsv)" "the deployment's properties.provisioningState"
  expect_line "$DEP_NAME" "$(az_ deployment sub list --query "[].name" -o tsv)" "az deployment sub list"
  expect_eq "Managed by Relecloud Managed Services" \
    "$(az_ deployment sub show --name "$DEP_NAME" --query properties.outputs.mspOfferName.value -o tsv)" \
    "the deployment's mspOfferName output"
  az_ logout
  # the managing tenant reaches fabrikam-dev through the deployed delegation
  az_ login --service-principal -u "$MSP_AUTOMATION_APP" -p msp-automation-secret --tenant "$CONTOSO" -o none
  expect_line rg-dev "$(az_ group list --subscription "$FABRIKAM_DEV" --query "[].name" -o tsv)" \
    "msp-automation's groups in fabrikam-dev after the deployment"
  az_ logout
  # and the customer revokes it again, so a re-run starts from fabrikam-dev undelegated
  az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
  az_ account set -s "$FABRIKAM_DEV"
  for a in $(az_ managedservices assignment list --query "[].name" -o tsv); do
    az_ managedservices assignment delete --assignment "$a" --yes
  done
  az_ logout
  ok
fi

trap - ERR
echo "az: $PASSED passed, 0 failed, $SKIPPED skipped"
