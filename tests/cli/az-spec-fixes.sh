#!/usr/bin/env bash
# The Azure CLI on what the spec examples' replay added: region metadata (az account list-locations),
# a template spec deployed by id (az ts create, az deployment group create --template-spec), rollback
# on error (--rollback-on-error) and a resource group exported as Bicep (az group export
# --export-format bicep). Same variables as tests/cli/az.sh.
set -Eeuo pipefail

SCRIPT=az-spec-fixes.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RG="rg-az-spec-$(date +%s)-$$"

step "az login --service-principal as fabrikam-ci"
register_cloud
az_ login --service-principal -u "$FABRIKAM_CI_APP" -p fabrikam-ci-secret --tenant "$FABRIKAM" -o none
az_ account set -s "$FABRIKAM_DEV"
ok

step "az account list-locations: geography, paired region and zone mappings"
paired="$(az_ account list-locations --query "[?name=='eastus'].metadata.pairedRegion[0].name" -o tsv)"
expect_eq westus "$paired" "eastus's paired region"
zones="$(az_ account list-locations --query "[?name=='eastus'] | [0].availabilityZoneMappings | length(@)" -o tsv)"
expect_eq 3 "$zones" "eastus's zone mappings"
ok

step "az ts create, then az deployment group create --template-spec"
az_ group create -n "$RG" -l westeurope -o none
cat >"$WORK/storage.json" <<'EOF'
{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {"account": {"type": "string"}},
  "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01",
                 "name": "[parameters('account')]", "location": "westeurope",
                 "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}]
}
EOF
spec_id="$(az_ ts create -n storage -g "$RG" -v v1 -l westeurope -f "$WORK/storage.json" --yes --query id -o tsv)"
expect_eq "/subscriptions/$FABRIKAM_DEV/resourceGroups/$RG/providers/Microsoft.Resources/templateSpecs/storage/versions/v1" \
  "$spec_id" "the template spec version id"
state="$(az_ deployment group create -g "$RG" -n from-spec --template-spec "$spec_id" \
  --parameters account=azspecsa1 --query properties.provisioningState -o tsv)"
expect_eq Succeeded "$state" "the template spec deployment"
az_ resource show -g "$RG" -n azspecsa1 --resource-type Microsoft.Storage/storageAccounts -o none
ok

step "az deployment group create --rollback-on-error redeploys the last successful deployment"
cat >"$WORK/failing.json" <<'EOF'
{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [{"type": "Microsoft.Storage/storageAccounts/blobServices/containers",
                 "apiVersion": "2023-05-01", "name": "nosuchaccount/default/c"}]
}
EOF
if az_ deployment group create -g "$RG" -n failing --template-file "$WORK/failing.json" \
  --rollback-on-error -o none 2>"$WORK/err"; then
  echo "the failing deployment succeeded" >&2
  false
fi
rolled="$(az_ deployment group show -g "$RG" -n failing --query properties.onErrorDeployment.deploymentName -o tsv)"
expect_eq from-spec "$rolled" "the deployment rolled back to"
ok

step "az group export --export-format bicep"
bicep="$(az_ group export -g "$RG" --export-format bicep -o json | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin))')"
expect_line "param storageAccounts_azspecsa1_name string = 'azspecsa1'" "$bicep" "the Bicep export"
expect_line "resource templateSpecs_storage_name_v1 'Microsoft.Resources/templateSpecs/versions@2022-02-01' = {" \
  "$bicep" "the Bicep export"
if grep -q "Microsoft.Resources/deployments" <<<"$bicep"; then
  echo "the Bicep export lists deployments or their operations (history, not resources):"$'\n'"$bicep" >&2
  false
fi
ok

az_ group delete -n "$RG" --yes --no-wait -o none || true
echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
