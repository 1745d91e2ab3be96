#!/usr/bin/env bash
# Fault injection with the Azure CLI (rules added over POST /_emulator/faults): az shows an injected
# ARM error as it shows Azure's, rides out an injected 503 and a dropped connection with its retry
# policy, and a long-running delete stuck InProgress and then Failed ends with the injected error.
# Same variables as tests/cli/az.sh; the rules are removed at the end (reset clears them too).
set -Eeuo pipefail

SCRIPT=az-faults.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

admin() { # METHOD PATH [JSON]
  curl -sS --fail-with-body --cacert "$CA" -X "$1" -H 'content-type: application/json' \
    ${3:+--data "$3"} "$URL$2"
}
trap 'admin DELETE /_emulator/faults >/dev/null 2>&1 || true; cleanup' EXIT

register_cloud
az_ login --service-principal -u "$FABRIKAM_CI_APP" -p fabrikam-ci-secret --tenant "$FABRIKAM" -o none
az_ account set -s "$FABRIKAM_PROD"

step "an injected ARM error is what az shows"
admin POST /_emulator/faults '{"match": {"method": "GET", "path": "*/resourcegroups/rg-web", "principal": "'"$FABRIKAM_CI_APP"'"},
  "effect": {"kind": "error", "status": 409, "code": "ScopeLocked", "message": "Injected: the scope is locked."}}' >/dev/null
expect_fail "az group show with an injected 409" "Injected: the scope is locked." -- group show -n rg-web
out="$(az_ group show -n rg-web 2>&1 || true)"
grep -qF "ScopeLocked" <<<"$out" || { echo "expected the code ScopeLocked in: $out" >&2; false; }
admin DELETE /_emulator/faults >/dev/null
expect_eq rg-web "$(az_ group show -n rg-web --query name -o tsv)" "rg-web once the rule is gone"
ok

step "az retries an injected 503 and a dropped connection"
admin POST /_emulator/faults '{"match": {"path": "*/resourcegroups/rg-data"}, "effect": {"kind": "error", "status": 503, "code": "ServiceUnavailable", "message": "Injected outage."}, "count": 1}' >/dev/null
admin POST /_emulator/faults '{"match": {"path": "*/resourcegroups/rg-data"}, "effect": {"kind": "drop"}, "count": 1}' >/dev/null
expect_eq rg-data "$(az_ group show -n rg-data --query name -o tsv)" "rg-data after a 503 and a drop"
hits="$(admin GET /_emulator/faults | "$PYTHON" -c 'import json,sys; print(sum(r["hits"] for r in json.load(sys.stdin)["value"]))')"
expect_eq 2 "$hits" "faults injected"
admin DELETE /_emulator/faults >/dev/null
ok

step "a delete stuck InProgress, then Failed: az shows the injected error"
az_ group create -n rg-az-stuck -l westeurope -o none
admin POST /_emulator/faults '{"match": {"method": "DELETE", "path": "*/resourcegroups/rg-az-stuck"},
  "effect": {"kind": "lro", "polls": 2, "result": "Failed", "code": "ResourceGroupDeletionBlocked", "message": "Injected: deletion blocked."}}' >/dev/null
expect_fail "az group delete with an injected failed operation" "Injected: deletion blocked." -- group delete -n rg-az-stuck --yes
polls="$(admin GET /_emulator/faults | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["value"][0]["hits"])')"
expect_eq 1 "$polls" "requests the rule took"
admin DELETE /_emulator/faults >/dev/null
expect_eq true "$(az_ group exists -n rg-az-stuck)" "rg-az-stuck, never deleted"
az_ group delete -n rg-az-stuck --yes
ok

trap - ERR
echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
