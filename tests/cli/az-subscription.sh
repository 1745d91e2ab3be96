#!/usr/bin/env bash
# The Azure CLI on a subscription's lifecycle (Microsoft.Subscription cancel/enable/rename through
# `az rest`, as the `account` extension sends them): a Contributor may not cancel; the Owner cancels,
# writes are then refused with ReadOnlyDisabledSubscription, enable restores them. Same variables as
# tests/cli/az.sh.
set -Eeuo pipefail

SCRIPT=az-subscription.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

API=api-version=2021-10-01
SUB_URL="/subscriptions/$TAILSPIN_PROD"

step "az rest POST …/Microsoft.Subscription/cancel as tailspin-ci (Contributor): refused"
register_cloud
az_ login --service-principal -u 40000000-0000-0000-0000-000000004121 -p tailspin-ci-secret --tenant "$TAILSPIN" -o none
expect_fail "a Contributor's cancel" "Microsoft.Subscription/cancel/action" -- \
  rest --method post --url "$SUB_URL/providers/Microsoft.Subscription/cancel?$API"
az_ logout
ok

step "admin@tailspin (Owner) cancels; az group create is refused; enable; rename"
if ! userrealm_on_443; then
  skip "$NO_443"
else
  az_ login -u admin@tailspin.onmicrosoft.com -p 'Tailspin-Pa55!' -o none
  az_ account set -s "$TAILSPIN_PROD"
  expect_eq "$TAILSPIN_PROD" "$(az_ rest --method post --url "$SUB_URL/providers/Microsoft.Subscription/cancel?$API" --query subscriptionId -o tsv)" "the cancelled subscription id"
  expect_eq Disabled "$(az_ rest --url "$SUB_URL?api-version=2022-12-01" --query state -o tsv)" "the state after cancel"
  expect_fail "az group create in a cancelled subscription" "ReadOnlyDisabledSubscription" -- \
    group create -n rg-after-cancel -l westeurope
  expect_line rg-apps "$(az_ group list --query "[].name" -o tsv)" "reads in a cancelled subscription"
  az_ rest --method post --url "$SUB_URL/providers/Microsoft.Subscription/enable?$API" -o none
  expect_eq Enabled "$(az_ rest --url "$SUB_URL?api-version=2022-12-01" --query state -o tsv)" "the state after enable"
  az_ group create -n rg-after-enable -l westeurope -o none
  az_ rest --method post --url "$SUB_URL/providers/Microsoft.Subscription/rename?$API" --body '{"subscriptionName":"Tailspin Production"}' -o none
  expect_eq "Tailspin Production" "$(az_ rest --url "$SUB_URL?api-version=2022-12-01" --query displayName -o tsv)" "the renamed subscription"
  az_ logout
  ok
fi

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
