#!/usr/bin/env bash
# Compliance and remediation from the real Azure CLI, unmodified: `az policy state list/summarize/
# trigger-scan` as the customer admin (admin@fabrikam) and as alice through the delegation, and
# `az policy remediation create/show/list/deployments list/delete` for a `modify` assignment whose
# managed identity first lacks its role (the deployment fails with AuthorizationFailed) and then holds
# Contributor (the remediation tags the storage account).
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az-policy-states.sh
set -Eeuo pipefail

SCRIPT=az-policy-states.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUB="/subscriptions/$FABRIKAM_PROD"
STORAGE="$SUB/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata"
CONTRIBUTOR=b24988ac-6180-42a0-ab88-20f7382dd24c

register_cloud
if ! userrealm_on_443; then
  step "az policy state/remediation as admin@fabrikam and alice (az login -u)"
  skip "$NO_443"
  echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
  exit 0
fi

step "admin@fabrikam: an audit assignment, then az policy state list/summarize"
az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
cat >"$WORK/audit.json" <<'JSON'
{"if": {"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
                  {"field": "tags['owner']", "exists": "false"}]}, "then": {"effect": "audit"}}
JSON
az_ policy definition create -n audit-owner --mode Indexed --rules "@$WORK/audit.json" -o none
az_ policy assignment create -n audit-owner --policy audit-owner --scope "$SUB" -o none
expect_line "$STORAGE" "$(az_ policy state list --filter "complianceState eq 'NonCompliant'" --query "[].resourceId" -o tsv)" \
  "non-compliant states of the subscription"
expect_eq audit "$(az_ policy state list --policy-assignment audit-owner --filter "complianceState eq 'NonCompliant'" \
  --query "[0].policyDefinitionAction" -o tsv)" "state list --policy-assignment"
expect_line "$STORAGE" "$(az_ policy state list -g rg-data --filter "complianceState eq 'NonCompliant'" --query "[].resourceId" -o tsv)" \
  "state list -g"
expect_eq 1 "$(az_ policy state list --policy-assignment audit-owner --filter "complianceState eq 'NonCompliant'" \
  --apply "groupby((policyAssignmentId), aggregate(\$count as NumberOfRecords))" --query "[0].NumberOfRecords" -o tsv)" \
  "state list --apply groupby/aggregate"
expect_eq 1 "$(az_ policy state list --resource "$STORAGE" --top 1 --select "resourceId,complianceState" --query "length(@)" -o tsv)" \
  "state list --resource --top --select"
expect_eq 1 "$(az_ policy state summarize --policy-assignment audit-owner --query "results.nonCompliantResources" -o tsv)" \
  "state summarize --policy-assignment"
ok

step "admin@fabrikam: az policy state trigger-scan (long-running)"
az_ policy state trigger-scan -o none
az_ policy state trigger-scan -g rg-data -o none
ok

step "alice (through the delegation): az policy state list/summarize"
az_ login -u alice@contosomsp.onmicrosoft.com -p 'Alice-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
expect_line "$STORAGE" "$(az_ policy state list --filter "complianceState eq 'NonCompliant'" --query "[].resourceId" -o tsv)" \
  "alice's non-compliant states"
expect_eq 1 "$(az_ policy state summarize --policy-assignment audit-owner --query "results.nonCompliantResources" -o tsv)" \
  "alice's summary"
ok

step "admin@fabrikam: a modify assignment; az policy remediation create fails without the identity's role"
az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
cat >"$WORK/modify.json" <<JSON
{"if": {"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
                  {"field": "tags['owner']", "exists": "false"}]},
 "then": {"effect": "modify", "details": {
   "roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/$CONTRIBUTOR"],
   "operations": [{"operation": "addOrReplace", "field": "tags['owner']", "value": "platform"}]}}}
JSON
az_ policy definition create -n owner-tag --mode Indexed --rules "@$WORK/modify.json" -o none
PID="$(az_ policy assignment create -n owner-tag --policy owner-tag --scope "$SUB" --mi-system-assigned \
  --location westeurope --query identity.principalId -o tsv)"
az_ policy remediation create -n first --policy-assignment owner-tag -o none
expect_eq Failed "$(az_ policy remediation show -n first --query provisioningState -o tsv)" "remediation without a role"
expect_eq AuthorizationFailed "$(az_ policy remediation deployment list -n first --query "[0].error.code" -o tsv)" \
  "the deployment's error"
ok

step "admin@fabrikam grants the identity Contributor; the remediation tags the account"
az_ role assignment create --assignee-object-id "$PID" --assignee-principal-type ServicePrincipal \
  --role Contributor --scope "$SUB" -o none
az_ policy remediation create -n second --policy-assignment owner-tag --resource-discovery-mode ReEvaluateCompliance -o none
expect_eq Succeeded "$(az_ policy remediation show -n second --query provisioningState -o tsv)" "remediation with the role"
expect_eq Succeeded "$(az_ policy remediation deployment list -n second --query "[0].status" -o tsv)" "deployment status"
expect_eq platform "$(az_ resource show --ids "$STORAGE" --query tags.owner -o tsv)" "the tag the remediation added"
REMS="$(az_ policy remediation list --query "[].name" -o tsv)"
expect_line first "$REMS" "remediation list"
expect_line second "$REMS" "remediation list"
az_ policy remediation delete -n first -o none
expect_no_line first "$(az_ policy remediation list --query "[].name" -o tsv)" "remediation list after delete"
ok

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
