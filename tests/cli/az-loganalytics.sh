#!/usr/bin/env bash
# Log Analytics with the real Azure CLI: admin@fabrikam makes a workspace (az monitor log-analytics
# workspace create/show/list) and a subscription diagnostic setting to it (az monitor diagnostic-settings
# subscription create); alice, through Contoso's delegation, writes in fabrikam-prod and then queries
# the workspace with az rest (a token for https://api.loganalytics.io); shared keys are refused; delete.
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az-loganalytics.sh
#
# Expects a freshly reset world (scripts/test resets before each tests/cli/az*.sh).
set -Eeuo pipefail

SCRIPT=az-loganalytics.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

register_cloud
if ! userrealm_on_443; then
  step "az login -u (admin@fabrikam, alice)"
  skip "$NO_443"
  echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
  exit 0
fi

step "admin@fabrikam: az monitor log-analytics workspace create/show/list"
az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
cid="$(az_ monitor log-analytics workspace create -g rg-web -n ws-cli -l westeurope --query customerId -o tsv)"
[[ "$cid" =~ ^[0-9a-f-]{36}$ ]] || { echo "expected a customerId GUID, got [$cid]" >&2; false; }
expect_eq 30 "$(az_ monitor log-analytics workspace show -g rg-web -n ws-cli --query retentionInDays -o tsv)" "retentionInDays"
expect_eq "$cid" "$(az_ monitor log-analytics workspace show -g rg-web -n ws-cli --query customerId -o tsv)" "customerId kept"
expect_line ws-cli "$(az_ monitor log-analytics workspace list --query "[].name" -o tsv)" "the workspaces"
ok

step "admin@fabrikam: az monitor log-analytics workspace get-shared-keys → refused (Entra only)"
expect_fail "get-shared-keys" "Key based authentication is not permitted" -- \
  monitor log-analytics workspace get-shared-keys -g rg-web -n ws-cli -o none
ok

step "admin@fabrikam: az monitor diagnostic-settings subscription create (activity log → workspace)"
ws_id="/subscriptions/$FABRIKAM_PROD/resourceGroups/rg-web/providers/Microsoft.OperationalInsights/workspaces/ws-cli"
expect_eq to-ws "$(az_ monitor diagnostic-settings subscription create -n to-ws -l westeurope --workspace "$ws_id" \
  --logs '[{"category":"Administrative","enabled":true},{"category":"Policy","enabled":true},{"category":"Security","enabled":true}]' \
  --query name -o tsv)" "the subscription diagnostic setting"
expect_line to-ws "$(az_ monitor diagnostic-settings subscription list --query "value[].name" -o tsv)" "subscription settings"
az_ logout
ok

step "alice (delegated): az group create in fabrikam-prod, then az rest query of AzureActivity"
az_ login -u alice@contosomsp.onmicrosoft.com -p 'Alice-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
az_ group create -n rg-la-cli -l westeurope -o none
body='{"query":"AzureActivity | where ResourceGroup == \"RG-LA-CLI\" | summarize n = count() by Caller"}'
out="$(az_ rest --method post --url "$URL/v1/workspaces/$cid/query" --resource https://api.loganalytics.io \
  --body "$body" --query "tables[0].rows" -o tsv)"
expect_eq "alice@contosomsp.onmicrosoft.com	2" "$out" "alice's two events (Begin, End)"
az_ logout
ok

step "admin@fabrikam: az monitor log-analytics workspace delete"
az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
az_ monitor log-analytics workspace delete -g rg-web -n ws-cli --yes -o none
expect_no_line ws-cli "$(az_ monitor log-analytics workspace list --query "[].name" -o tsv)" "the workspaces after delete"
az_ logout
ok

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
