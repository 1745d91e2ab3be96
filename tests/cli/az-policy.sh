#!/usr/bin/env bash
# Azure Policy resources from the real Azure CLI, unmodified: `az policy definition|set-definition|
# assignment|exemption create/show/list/delete` as a customer admin (admin@fabrikam, Owner of
# fabrikam-prod), and as alice@contosomsp through the delegation (Contributor: she reads the customer's
# policy but may not assign it, as Contributor's notActions say).
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az-policy.sh
set -Eeuo pipefail

SCRIPT=az-policy.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# expect_fail WHAT NEEDLE -- AZ-ARGS: the command fails and its output names NEEDLE
expect_fail() {
  local what=$1 needle=$2
  shift 3
  local out
  if out="$(az_ "$@" 2>&1)"; then
    echo "expected $what to fail, it succeeded:"$'\n'"$out" >&2
    return 1
  fi
  if ! grep -qF -- "$needle" <<<"$out"; then
    echo "expected $what to fail with [$needle], got:"$'\n'"$out" >&2
    return 1
  fi
}

SUB="/subscriptions/$FABRIKAM_PROD"
ALLOWED_LOCATIONS=e56962a6-4747-49cd-b67b-bf8b01975c4c

register_cloud
if ! userrealm_on_443; then
  step "az policy … as admin@fabrikam and alice (az login -u)"
  skip "$NO_443"
  echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
  exit 0
fi

step "admin@fabrikam: az policy definition create/show/list"
az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
cat >"$WORK/rule.json" <<'JSON'
{"if": {"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": "false"}, "then": {"effect": "audit"}}
JSON
cat >"$WORK/params.json" <<'JSON'
{"tagName": {"type": "String", "metadata": {"displayName": "Tag name"}}}
JSON
expect_eq Custom "$(az_ policy definition create -n require-tag --display-name "Require a tag" --mode Indexed \
  --rules "@$WORK/rule.json" --params "@$WORK/params.json" --query policyType -o tsv)" "policyType"
DEF_ID="$(az_ policy definition show -n require-tag --query id -o tsv)"
expect_eq "$SUB/providers/Microsoft.Authorization/policyDefinitions/require-tag" "$DEF_ID" "the definition's id"
expect_line require-tag "$(az_ policy definition list --query "[].name" -o tsv)" "definition list"
expect_line "$ALLOWED_LOCATIONS" "$(az_ policy definition list --query "[].name" -o tsv)" "built-ins beside customs"
ok

step "admin@fabrikam: az policy set-definition create/show"
cat >"$WORK/refs.json" <<JSON
[{"policyDefinitionId": "$DEF_ID", "policyDefinitionReferenceId": "env", "parameters": {"tagName": {"value": "env"}}}]
JSON
az_ policy set-definition create -n tagging --display-name Tagging --definitions "@$WORK/refs.json" -o none
expect_eq env "$(az_ policy set-definition show -n tagging --query "policyDefinitions[0].policyDefinitionReferenceId" -o tsv)" "reference id"
ok

step "admin@fabrikam: az policy assignment create (custom, built-in with a managed identity, initiative), list, show"
az_ policy assignment create -n tags-sub --policy require-tag -p '{"tagName": {"value": "env"}}' --scope "$SUB" -o none
az_ policy assignment create -n tags-rg --policy require-tag -p '{"tagName": {"value": "owner"}}' -g rg-web -o none
expect_fail "az policy assignment create without its parameter" "MissingPolicyParameter" -- \
  policy assignment create -n nope --policy require-tag --scope "$SUB" -o none
PID="$(az_ policy assignment create -n eu-only --policy "$ALLOWED_LOCATIONS" --scope "$SUB" \
  -p '{"listOfAllowedLocations": {"value": ["westeurope"]}}' --mi-system-assigned --location westeurope \
  --query identity.principalId -o tsv)"
[[ $PID =~ ^[0-9a-f-]{36}$ ]] || { echo "no principalId: $PID" >&2; false; }
az_ policy assignment create -n tagging --policy-set-definition tagging --scope "$SUB" -o none
SUB_LIST="$(az_ policy assignment list --query "[].name" -o tsv)"
for n in tags-sub eu-only tagging; do expect_line "$n" "$SUB_LIST" "assignment list"; done
expect_no_line tags-rg "$SUB_LIST" "assignment list at the subscription (atExactScope)"
RG_LIST="$(az_ policy assignment list -g rg-web --query "[].name" -o tsv)"
expect_line tags-rg "$RG_LIST" "assignment list -g rg-web"
expect_line tags-rg "$(az_ policy assignment list --disable-scope-strict-match --query "[].name" -o tsv)" "assignment list --disable-scope-strict-match"
expect_eq "$DEF_ID" "$(az_ policy assignment show -n tags-sub --query policyDefinitionId -o tsv)" "assignment show"
ok

step "admin@fabrikam: az policy exemption create/show/list"
TAGGING_ID="$(az_ policy assignment show -n tagging --query id -o tsv)"
az_ policy exemption create -n demo -g rg-web --policy-assignment "$TAGGING_ID" --exemption-category Waiver \
  --policy-definition-reference-ids env -o none
expect_eq Waiver "$(az_ policy exemption show -n demo -g rg-web --query exemptionCategory -o tsv)" "exemption category"
expect_line demo "$(az_ policy exemption list -g rg-web --query "[].name" -o tsv)" "exemption list"
ok

step "alice (Contributor through the delegation): reads the customer's policy, may not assign it"
az_ login -u alice@contosomsp.onmicrosoft.com -p 'Alice-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
expect_line tags-sub "$(az_ policy assignment list --query "[].name" -o tsv)" "alice's assignment list"
expect_line require-tag "$(az_ policy definition list --query "[].name" -o tsv)" "alice's definition list"
expect_fail "alice: az policy assignment create" "Microsoft.Authorization/policyAssignments/write" -- \
  policy assignment create -n alice --policy require-tag -p '{"tagName": {"value": "env"}}' --scope "$SUB" -o none
ok

step "admin@fabrikam: az policy exemption|assignment|set-definition|definition delete"
az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
az_ account set -s "$FABRIKAM_PROD"
az_ policy exemption delete -n demo -g rg-web
for n in tags-sub eu-only tagging; do az_ policy assignment delete -n "$n" --scope "$SUB"; done
az_ policy assignment delete -n tags-rg -g rg-web
az_ policy set-definition delete -n tagging
az_ policy definition delete -n require-tag
expect_no_line require-tag "$(az_ policy definition list --query "[].name" -o tsv)" "definition list after delete"
ok

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
