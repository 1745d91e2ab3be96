#!/usr/bin/env bash
# Scheduled query rules the way `az monitor scheduled-query` (an az extension) manages them: create, show,
# update, list (resource group and subscription), delete, at the extension's api-version 2021-08-01. When the
# extension is installed it is used; when it is not (its index is out of this machine's reach) the same
# requests go through `az rest` with the bodies the extension sends, and the script says which path it took.
# Either way the rule then works: it splits failed logins by user (criteria.allOf[].dimensions), fires one
# alert per user over the threshold to a local webhook, and after three clear 5-minute evaluations resolves
# each one with a second, `Resolved`, notification.
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az-scheduled-query.sh
#
# Expects a freshly reset world (scripts/test resets before each tests/cli/az*.sh). Service principals only.
set -Eeuo pipefail

SCRIPT=az-scheduled-query.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

API=2021-08-01

start_webhook
# hook_summary FROM: "<monitorCondition> <user>" of each webhook body from line FROM on, sorted
hook_summary() {
  tail -n "+$1" "$HOOK_LOG" | "$PYTHON" -c '
import json, sys
rows = []
for line in sys.stdin:
    d = json.loads(line)["data"]
    rows.append(d["essentials"]["monitorCondition"] + " " + d["alertContext"]["condition"]["allOf"][0]["dimensions"][0]["value"])
print("\n".join(sorted(rows)))'
}

register_cloud

step "fabrikam-ci: a workspace and an action group with a common-schema webhook"
az_ login --service-principal -u "$FABRIKAM_CI_APP" -p fabrikam-ci-secret --tenant "$FABRIKAM" -o none
az_ account set -s "$FABRIKAM_PROD"
cid="$(az_ monitor log-analytics workspace create -g rg-web -n ws-sq -l westeurope --query customerId -o tsv)"
ws_id="/subscriptions/$FABRIKAM_PROD/resourceGroups/rg-web/providers/Microsoft.OperationalInsights/workspaces/ws-sq"
ag_id="$(az_ monitor action-group create -g rg-web -n sq-hook --short-name sqhook \
  --action webhook automation "$HOOK_URL" usecommonalertschema --query id -o tsv)"
ok

rule_url="$URL/subscriptions/$FABRIKAM_PROD/resourceGroups/rg-web/providers/Microsoft.Insights/scheduledQueryRules"
# the body `az monitor scheduled-query create` sends (written for this test after the extension's recorded session)
rule_body() { # description severity enabled frequency
  cat <<JSON
{"location": "westeurope", "properties": {"description": "$1", "severity": $2, "enabled": $3,
  "scopes": ["$ws_id"], "evaluationFrequency": "$4", "windowSize": "$4",
  "criteria": {"allOf": [{"query": "Logins_CL | where Result == 'Failed'", "timeAggregation": "Count",
    "dimensions": [{"name": "User", "operator": "Include", "values": ["*"]}], "operator": "GreaterThan",
    "threshold": 1.0, "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1}}]},
  "actions": {"actionGroups": ["$ag_id"], "customProperties": {"team": "msp"}},
  "checkWorkspaceAlertsStorageConfigured": false, "skipQueryValidation": false, "autoMitigate": true}}
JSON
}

if az_ extension show -n scheduled-query -o none 2>/dev/null; then
  echo "path: the scheduled-query extension (az monitor scheduled-query)"
  step "az monitor scheduled-query create / show / update / list"
  az_ monitor scheduled-query create -g rg-web -n failed-by-user --scopes "$ws_id" \
    --condition "count 'Logins' > 1 where User includes *" \
    --condition-query Logins="Logins_CL | where Result == 'Failed'" \
    --evaluation-frequency 5m --window-size 5m --severity 2 --action-groups "$ag_id" \
    --custom-properties team=msp --auto-mitigate true --description "failed logins" -o none
  expect_eq User "$(az_ monitor scheduled-query show -g rg-web -n failed-by-user --query 'criteria.allOf[0].dimensions[0].name' -o tsv)" "the dimension"
  az_ monitor scheduled-query update -g rg-web -n failed-by-user --description "failed logins by user" --severity 1 -o none
  expect_eq 1 "$(az_ monitor scheduled-query show -g rg-web -n failed-by-user --query severity -o tsv)" "the severity after update"
  expect_line failed-by-user "$(az_ monitor scheduled-query list -g rg-web --query '[].name' -o tsv)" "the rules of rg-web"
  expect_line failed-by-user "$(az_ monitor scheduled-query list --query '[].name' -o tsv)" "the rules of the subscription"
  ok
else
  echo "path: az rest at api-version $API (the scheduled-query extension is not installed: its index is out of reach)"
  step "the extension's requests through az rest: create (PUT), show (GET), update (GET + PUT), list"
  skip "az monitor scheduled-query itself (extension not installed)"
  az_ rest --method put --url "$rule_url/failed-by-user?api-version=$API" --body "$(rule_body "failed logins" 2 true PT5M)" -o none
  expect_eq User "$(az_ rest --method get --url "$rule_url/failed-by-user?api-version=$API" --query 'properties.criteria.allOf[0].dimensions[0].name' -o tsv)" "the dimension"
  expect_eq $API "$(az_ rest --method get --url "$rule_url/failed-by-user?api-version=$API" --query 'properties.createdWithApiVersion' -o tsv)" "createdWithApiVersion"
  az_ rest --method put --url "$rule_url/failed-by-user?api-version=$API" --body "$(rule_body "failed logins by user" 1 true PT5M)" -o none
  expect_eq 1 "$(az_ rest --method get --url "$rule_url/failed-by-user?api-version=$API" --query properties.severity -o tsv)" "the severity after update"
  expect_line failed-by-user "$(az_ rest --method get --url "$rule_url?api-version=$API" --query 'value[].name' -o tsv)" "the rules of rg-web"
  expect_line failed-by-user "$(az_ rest --method get --url "$URL/subscriptions/$FABRIKAM_PROD/providers/Microsoft.Insights/scheduledQueryRules?api-version=$API" --query 'value[].name' -o tsv)" "the rules of the subscription"
  ok
fi

step "failed logins of eve (3), mallory (2) and bob (1); the clock passes 5 minutes: eve and mallory alert"
admin_post "/_emulator/logs/$cid/Logins_CL" '[{"User":"eve","Result":"Failed"},{"User":"eve","Result":"Failed"},{"User":"eve","Result":"Failed"},{"User":"mallory","Result":"Failed"},{"User":"mallory","Result":"Failed"},{"User":"bob","Result":"Failed"}]' >/dev/null
admin_post /_emulator/clock '{"advance": "PT5M"}' >/dev/null
wait_hook 2
expect_eq $'Fired eve\nFired mallory' "$(hook_summary 1)" "the fired notifications"
ok

step "three clear evaluations later both resolve, each with a Resolved notification"
admin_post /_emulator/clock '{"advance": "PT10M"}' >/dev/null
sleep 1
expect_eq 2 "$(wc -l <"$HOOK_LOG" | tr -d ' ')" "the notifications after two clear evaluations"
admin_post /_emulator/clock '{"advance": "PT5M"}' >/dev/null
wait_hook 4
expect_eq $'Resolved eve\nResolved mallory' "$(hook_summary 3)" "the resolved notifications"
az_ logout
az_ login --service-principal -u "$FABRIKAM_CI_APP" -p fabrikam-ci-secret --tenant "$FABRIKAM" -o none
az_ account set -s "$FABRIKAM_PROD"
conds="$(az_ rest --method get --url "$URL/subscriptions/$FABRIKAM_PROD/providers/Microsoft.AlertsManagement/alerts?api-version=2019-05-05-preview" \
  --query "value[?name=='failed-by-user'].properties.essentials.monitorCondition" -o tsv | sort -u)"
expect_eq Resolved "$conds" "the alerts' monitorCondition"
ok

step "delete: the rule is gone"
if az_ extension show -n scheduled-query -o none 2>/dev/null; then
  az_ monitor scheduled-query delete -g rg-web -n failed-by-user -y
  expect_fail "show after delete" ResourceNotFound -- monitor scheduled-query show -g rg-web -n failed-by-user
else
  az_ rest --method delete --url "$rule_url/failed-by-user?api-version=$API"
  expect_fail "show after delete" ResourceNotFound -- rest --method get --url "$rule_url/failed-by-user?api-version=$API"
fi
az_ logout
ok

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
