#!/usr/bin/env bash
# ARM throttling with the Azure CLI, switched on at run time (POST /_emulator/throttling, as
# `--throttling arm` does at start): a burst of 250 reads as fabrikam-ci empties its read bucket on
# fabrikam-prod (the headers count down to 0, the next read is 429 SubscriptionRequestsThrottled with
# Retry-After), az's next read is throttled too and, once tokens come back, az recovers by itself.
# Same variables as tests/cli/az.sh; throttling is switched off at the end (reset does it too).
set -Eeuo pipefail

SCRIPT=az-throttling.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

admin() { # METHOD PATH [JSON]
  curl -sS --fail-with-body --cacert "$CA" -X "$1" -H 'content-type: application/json' \
    ${3:+--data "$3"} "$URL$2"
}
throttled() {
  admin GET /_emulator/metrics | { grep '^lighthouse_emulator_throttled_total{code="SubscriptionRequestsThrottled"}' || echo "x 0"; } | awk '{print $2}'
}
trap 'admin POST /_emulator/throttling "{\"mode\": \"off\", \"refill\": true}" >/dev/null 2>&1 || true; cleanup' EXIT

register_cloud
az_ login --service-principal -u "$FABRIKAM_CI_APP" -p fabrikam-ci-secret --tenant "$FABRIKAM" -o none
az_ account set -s "$FABRIKAM_PROD"
TOKEN="$(az_ account get-access-token --query accessToken -o tsv)"

step "250 reads empty the bucket, the 251st is 429 with Retry-After"
expect_eq '{"mode":"arm","refill":false}' "$(admin POST /_emulator/throttling '{"mode": "arm", "refill": false}')" "the throttling state"
GROUPS_URL="$URL/subscriptions/$FABRIKAM_PROD/resourcegroups?api-version=2024-11-01"
for _ in $(seq 251); do printf 'url = "%s"\noutput = "/dev/null"\n' "$GROUPS_URL"; done >"$WORK/burst.cfg"
statuses="$(curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" -w '%{http_code} %header{x-ms-ratelimit-remaining-subscription-reads}\n' -K "$WORK/burst.cfg")"
expect_eq "200 249" "$(head -1 <<<"$statuses")" "the first read"
expect_eq "200 0" "$(sed -n 250p <<<"$statuses")" "the 250th read"
expect_eq "429 0" "$(sed -n 251p <<<"$statuses")" "the 251st read"
body="$(curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" -D "$WORK/headers" "$GROUPS_URL")"
grep -qi '^retry-after: 1' "$WORK/headers" || { echo "no Retry-After: 1 in $(cat "$WORK/headers")" >&2; false; }
grep -qF '"code":"SubscriptionRequestsThrottled"' <<<"$body" || { echo "unexpected body $body" >&2; false; }
ok

step "az is throttled, waits Retry-After and recovers once tokens come back"
before="$(throttled)"
az_ group show -n rg-web --query name -o tsv --debug >"$WORK/az.out" 2>"$WORK/az.err" &
AZ_PID=$!
for _ in $(seq 600); do [[ "$(throttled)" != "$before" ]] && break; sleep 0.1; done
[[ "$(throttled)" != "$before" ]] || { echo "az was never throttled" >&2; false; }
admin POST /_emulator/throttling '{"refill": true}' >/dev/null
wait "$AZ_PID"
expect_eq rg-web "$(cat "$WORK/az.out")" "az group show after the throttling"
grep -q "Response status: 429" "$WORK/az.err" || { echo "az's debug log shows no 429" >&2; false; }
ok

trap - ERR
echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
