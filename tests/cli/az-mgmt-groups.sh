#!/usr/bin/env bash
# The Azure CLI on management groups: az account management-group create/show/list/update/delete and
# subscription add/remove/show-sub-under-mg, as admin@fabrikam (Owner of Fabrikam's root group), then a
# role assigned at the group letting reader@fabrikam read a subscription below it until it moves out.
# Same variables as tests/cli/az.sh.
set -Eeuo pipefail

SCRIPT=az-mgmt-groups.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GROUP="mg-az-$(date +%s)-$$"

step "az login -u admin@fabrikam (HTTPS_PROXY/NO_PROXY as lighthouse-emulator env prints them)"
PORT="${URL##*:}"
# the user-realm lookup of a password sign-in goes through the emulator's proxy, as the README says
export HTTPS_PROXY="${HTTPS_PROXY:-http://localhost:$PORT}" NO_PROXY="${NO_PROXY:-localhost:$PORT,127.0.0.1:$PORT}"
register_cloud
az_ login -u admin@fabrikam.onmicrosoft.com -p 'Fabrikam-Pa55!' -o none
az_ account set -s "$FABRIKAM_DEV"
ok

step "az account management-group show: the tenant root group with its subscriptions"
root="$(az_ account management-group show -n "$FABRIKAM" -e --query "[properties.displayName || displayName, name]" -o tsv)"
expect_line "Tenant Root Group" "$root" "the root's display name"
kids="$(az_ account management-group show -n "$FABRIKAM" -e --query "(properties.children || children)[].name" -o tsv)"
expect_line "$FABRIKAM_DEV" "$kids" "the root's children"
expect_line "$FABRIKAM_PROD" "$kids" "the root's children"
ok

step "az account management-group create (long-running), list, update"
az_ account management-group create -n "$GROUP" -d "Platform" -o none
expect_line "$GROUP" "$(az_ account management-group list --query "[].name" -o tsv)" "the groups"
shown="$(az_ account management-group show -n "$GROUP" --query "properties.displayName || displayName" -o tsv)"
expect_eq Platform "$shown" "the new group's display name"
az_ account management-group update -n "$GROUP" -d "Platform team" -o none
shown="$(az_ account management-group show -n "$GROUP" --query "properties.displayName || displayName" -o tsv)"
expect_eq "Platform team" "$shown" "the renamed group"
ok

step "az account management-group subscription add/show-sub-under-mg/remove, RBAC inherited"
az_ account management-group subscription add -n "$GROUP" -s "$FABRIKAM_DEV" -o none
under="$(az_ account management-group subscription show-sub-under-mg -n "$GROUP" --query "[].name" -o tsv)"
expect_eq "$FABRIKAM_DEV" "$under" "the subscriptions under the group"
# a role at the group: reader@fabrikam reads fabrikam-dev's groups through it
az_ role assignment create --assignee-object-id "$FABRIKAM_READER_OID" --assignee-principal-type User \
  --role Reader --scope "/providers/Microsoft.Management/managementGroups/$GROUP" -o none
tok="$("$PYTHON" - "$URL" "$CA" <<'PYEOF'
import json, ssl, sys, urllib.parse, urllib.request
url, ca = sys.argv[1], sys.argv[2]
data = urllib.parse.urlencode({"grant_type": "password", "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
  "username": "reader@fabrikam.onmicrosoft.com", "password": "Reader-Pa55!",
  "scope": "https://management.azure.com/.default"}).encode()
ctx = ssl.create_default_context(cafile=ca)
r = urllib.request.urlopen(f"{url}/10000000-0000-0000-0000-000000000002/oauth2/v2.0/token", data, context=ctx)
print(json.load(r)["access_token"])
PYEOF
)"
read_rg() {
  az_ rest --method get --url "$URL/subscriptions/$FABRIKAM_DEV/resourceGroups/rg-dev?api-version=2024-11-01" \
    --skip-authorization-header --headers "Authorization=Bearer $tok" --query name -o tsv
}
expect_eq rg-dev "$(read_rg)" "rg-dev read by reader@fabrikam through the group"
az_ account management-group subscription remove -n "$GROUP" -s "$FABRIKAM_DEV" -o none
if out="$(read_rg 2>&1)"; then
  echo "expected reader@fabrikam to be refused once fabrikam-dev left the group, got: $out" >&2
  false
fi
grep -q AuthorizationFailed <<<"$out"
ok

step "az account management-group delete"
az_ role assignment delete --scope "/providers/Microsoft.Management/managementGroups/$GROUP" --role Reader \
  --assignee "$FABRIKAM_READER_OID" -o none
az_ account management-group delete -n "$GROUP" -o none
expect_no_line "$GROUP" "$(az_ account management-group list --query "[].name" -o tsv)" "the groups after delete"
ok

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
