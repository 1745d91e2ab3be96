#!/usr/bin/env bash
# Azure Policy effects from the real Azure CLI, unmodified: admin@fabrikam creates a deny definition and
# `az policy assignment create`s it on fabrikam-prod; `az storage account create --https-only false`
# is then refused with RequestDisallowedByPolicy — for the customer, and for alice@contosomsp writing
# through the delegation (the provider's write refused by the customer's policy) — while an
# https-only account goes through. The Lighthouse sample policy-enforce-https-storage is also deployed
# unmodified with `az deployment sub create` on fabrikam-dev and refuses there.
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az-policy-effects.sh
set -Eeuo pipefail

SCRIPT=az-policy-effects.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUB="/subscriptions/$FABRIKAM_PROD"
SAMPLE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../templates/lighthouse/templates" && pwd)/policy-enforce-https-storage/enforceHttpsStorage.json"

register_cloud
if ! userrealm_on_443; then
  step "az policy assignment create + az storage account create as admin@fabrikam and alice (az login -u)"
  skip "$NO_443"
  echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
  exit 0
fi

step "admin@fabrikam: az policy definition create + az policy assignment create (deny http storage)"
az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
cat >"$WORK/rule.json" <<'JSON'
{"if": {"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
                  {"field": "Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly", "notEquals": "true"}]},
 "then": {"effect": "deny"}}
JSON
az_ policy definition create -n https-only --display-name "Storage must be https only" --mode All \
  --rules "@$WORK/rule.json" -o none
expect_eq https-only-a "$(az_ policy assignment create -n https-only-a --policy https-only --scope "$SUB" \
  --query name -o tsv)" "the assignment's name"
ok

step "admin@fabrikam: az storage account create --https-only false is refused"
expect_fail "an http storage account" RequestDisallowedByPolicy -- \
  storage account create -n httpadmin1 -g rg-data -l westeurope --sku Standard_LRS --https-only false -o none
expect_fail "an http storage account (message)" "was disallowed by policy" -- \
  storage account create -n httpadmin2 -g rg-data -l westeurope --sku Standard_LRS --https-only false -o none
expect_eq true "$(az_ storage account create -n httpsadmin1 -g rg-data -l westeurope --sku Standard_LRS \
  --https-only true --query enableHttpsTrafficOnly -o tsv)" "an https-only account"
ok

step "alice (through the delegation): the customer's policy refuses the provider's write"
az_ login -u alice@contosomsp.onmicrosoft.com -p 'Alice-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
expect_fail "alice's http storage account" RequestDisallowedByPolicy -- \
  storage account create -n httpalice1 -g rg-data -l westeurope --sku Standard_LRS --https-only false -o none
expect_eq true "$(az_ storage account create -n httpsalice1 -g rg-data -l westeurope --sku Standard_LRS \
  --https-only true --query enableHttpsTrafficOnly -o tsv)" "alice's https-only account"
ok

step "admin@fabrikam: the sample policy-enforce-https-storage with az deployment sub create"
az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
az_ account set -s "$FABRIKAM_DEV"
expect_eq Succeeded "$(az_ deployment sub create -n https -l westeurope --template-file "$SAMPLE" \
  --query properties.provisioningState -o tsv)" "the sample's deployment"
expect_fail "an http storage account in fabrikam-dev" RequestDisallowedByPolicy -- \
  storage account create -n httpdev1 -g rg-dev -l westeurope --sku Standard_LRS --https-only false -o none
ok

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
