#!/usr/bin/env bash
# The Azure CLI against a sandbox by its URL alone: a sandbox is created on the running emulator
# (POST /_emulator/sandboxes), az registers a cloud at the sandbox's base URL, signs in there and
# writes; the main world never sees it; the sandbox's reset brings back its start; DELETE drops it.
# Needs LIGHTHOUSE_EMULATOR_URL, LIGHTHOUSE_EMULATOR_CA and AZ (see tests/cli/lib.sh).
set -euo pipefail
SCRIPT=az-sandbox
source "$(dirname "$0")/lib.sh"

admin() { # METHOD BASE PATH [BODY]
  curl -sS --noproxy '*' --cacert "$CA" -X "$1" -H 'content-type: application/json' ${4:+-d "$4"} "$2$3"
}
json() { "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)$1)"; }

step "create a sandbox"
created="$(admin POST "$URL" /_emulator/sandboxes '{"ttl": "PT30M"}')"
SB_ID="$(json "['id']" <<<"$created")"
SB_URL="$(json "['url']" <<<"$created")"
[[ $SB_URL =~ ^https://localhost:[0-9]+$ && $SB_URL != "$URL" ]] || { echo "bad sandbox url: $created" >&2; false; }
trap 'admin DELETE "$URL" "/_emulator/sandboxes/$SB_ID" >/dev/null 2>&1 || true; cleanup' EXIT
ok

step "az signs in at the sandbox's URL and writes there"
# as `lighthouse-emulator env --sandbox ID` prints it: the sandbox's port is the proxy too
export HTTPS_PROXY="http://localhost:${SB_URL##*:}" NO_PROXY="localhost:${SB_URL##*:},127.0.0.1:${SB_URL##*:}"
az_ cloud register -n LighthouseSandbox --endpoint-resource-manager "$SB_URL" -o none
az_ cloud set -n LighthouseSandbox -o none
az_ login --service-principal -u "$FABRIKAM_CI_APP" -p fabrikam-ci-secret --tenant "$FABRIKAM" -o none
az_ group create -n rg-az-sandbox -l westeurope --subscription "$FABRIKAM_PROD" -o none
names="$(az_ group list --subscription "$FABRIKAM_PROD" --query '[].name' -o tsv)"
grep -qx rg-az-sandbox <<<"$names" || { echo "rg-az-sandbox not listed: $names" >&2; false; }
ok

step "the main world does not see it"
main_token="$(curl -sS --noproxy '*' --cacert "$CA" -d grant_type=client_credentials -d "client_id=$FABRIKAM_CI_APP" \
  -d client_secret=fabrikam-ci-secret -d scope=https://management.azure.com/.default \
  "$URL/$FABRIKAM/oauth2/v2.0/token" | json "['access_token']")"
main_status="$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $main_token" \
  "$URL/subscriptions/$FABRIKAM_PROD/resourcegroups/rg-az-sandbox?api-version=2024-11-01")"
expect_eq 404 "$main_status" "the main world's answer for the sandbox's group"
ok

step "the sandbox's reset brings back its start"
admin POST "$SB_URL" /_emulator/reset >/dev/null
expect_fail "az group show after the sandbox's reset" "ResourceGroupNotFound" -- \
  group show -n rg-az-sandbox --subscription "$FABRIKAM_PROD"
ok

step "delete the sandbox"
expect_eq "$SB_ID" "$(admin DELETE "$URL" "/_emulator/sandboxes/$SB_ID" | json "['id']")" "the deleted sandbox"
ok

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
