#!/usr/bin/env bash
# Alerts with the real Azure CLI: fabrikam-ci makes a workspace and a subscription diagnostic setting
# (az monitor log-analytics workspace create, az monitor diagnostic-settings subscription create), an
# action group with an e-mail and a webhook to a local HTTP server (az monitor action-group create), an
# activity-log alert (az monitor activity-log alert create) and a scheduled query rule (az monitor
# scheduled-query create — an az extension; when it is not installed, the same rule through
# az resource create); msp-automation, through Contoso's delegation, deletes a resource group and the
# webhook gets the common-schema payload; the clock moves and the scheduled query rule's e-mail is in
# the outbox; the alerts are listed with az rest.
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az-alerts.sh
#
# Expects a freshly reset world (scripts/test resets before each tests/cli/az*.sh). Service principals
# only, so nothing here needs port 443.
set -Eeuo pipefail

SCRIPT=az-alerts.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# the provider's automation: a local HTTP server writing each POSTed body to $HOOK_LOG
start_webhook
outbox() { curl -sS --fail --cacert "$CA" "$URL/_emulator/outbox?kind=$1"; }

register_cloud

step "fabrikam-ci: workspace and subscription diagnostic setting"
az_ login --service-principal -u "$FABRIKAM_CI_APP" -p fabrikam-ci-secret --tenant "$FABRIKAM" -o none
az_ account set -s "$FABRIKAM_PROD"
cid="$(az_ monitor log-analytics workspace create -g rg-web -n ws-alerts -l westeurope --query customerId -o tsv)"
ws_id="/subscriptions/$FABRIKAM_PROD/resourceGroups/rg-web/providers/Microsoft.OperationalInsights/workspaces/ws-alerts"
az_ monitor diagnostic-settings subscription create -n to-ws-alerts -l westeurope --workspace "$ws_id" \
  --logs '[{"category":"Administrative","enabled":true}]' -o none
ok

step "fabrikam-ci: az monitor action-group create (e-mail + webhook with the common alert schema)"
ag_id="$(az_ monitor action-group create -g rg-web -n msp-automation --short-name mspauto \
  --action email ops ops@contosomsp.example \
  --action webhook automation "$HOOK_URL" usecommonalertschema --query id -o tsv)"
expect_eq Enabled "$(az_ monitor action-group show -g rg-web -n msp-automation --query 'emailReceivers[0].status' -o tsv)" "the e-mail receiver's status"
expect_eq true "$(az_ monitor action-group show -g rg-web -n msp-automation --query 'webhookReceivers[0].useCommonAlertSchema' -o tsv)" "useCommonAlertSchema"
ok

step "fabrikam-ci: az monitor activity-log alert create (resource group deleted)"
az_ monitor activity-log alert create -g rg-web -n rg-deleted --scope "/subscriptions/$FABRIKAM_PROD" \
  --condition "category=Administrative and operationName=Microsoft.Resources/subscriptions/resourceGroups/delete and status=Succeeded" \
  --action-group "$ag_id" -o none
expect_eq true "$(az_ monitor activity-log alert show -g rg-web -n rg-deleted --query enabled -o tsv)" "enabled"
ok

step "fabrikam-ci: a scheduled query rule over the workspace (az monitor scheduled-query create)"
if az_ extension show -n scheduled-query -o none 2>/dev/null; then
  az_ monitor scheduled-query create -g rg-web -n app-errors --scopes "$ws_id" \
    --condition "count 'Errors' > 0" --condition-query Errors="AppErrors_CL | where Level == 'Error'" \
    --evaluation-frequency 5m --window-size 5m --severity 2 --action-groups "$ag_id" -o none
  ok
else
  skip "the scheduled-query az extension is not installed (az extension add needs the extension index, which this machine cannot reach); the same rule through az resource create"
  az_ resource create -g rg-web -n app-errors --resource-type Microsoft.Insights/scheduledQueryRules \
    --api-version 2023-12-01 -l westeurope --properties "{\"severity\": 2, \"enabled\": true,
      \"evaluationFrequency\": \"PT5M\", \"windowSize\": \"PT5M\", \"scopes\": [\"$ws_id\"],
      \"criteria\": {\"allOf\": [{\"query\": \"AppErrors_CL | where Level == 'Error'\", \"timeAggregation\": \"Count\",
        \"operator\": \"GreaterThan\", \"threshold\": 0}]}, \"actions\": {\"actionGroups\": [\"$ag_id\"]}}" -o none
fi
az_ logout

step "msp-automation (delegated): az group create + delete in fabrikam-prod → the webhook is called"
az_ login --service-principal -u "$MSP_AUTOMATION_APP" -p msp-automation-secret --tenant "$CONTOSO" -o none
az_ account set -s "$FABRIKAM_PROD"
az_ group create -n rg-alert-cli -l westeurope -o none
az_ group delete -n rg-alert-cli --yes
wait_hook 1
payload="$(head -1 "$HOOK_LOG")"
check() { "$PYTHON" -c "import json,sys; p=json.loads(sys.argv[1]); print($2)" "$payload"; }
expect_eq azureMonitorCommonAlertSchema "$(check x 'p["schemaId"]')" "the schema"
expect_eq rg-deleted "$(check x 'p["data"]["essentials"]["alertRule"]')" "the rule"
expect_eq "/subscriptions/$FABRIKAM_PROD/resourcegroups/rg-alert-cli" "$(check x 'p["data"]["essentials"]["alertTargetIDs"][0]')" "the target"
expect_eq "$MSP_AUTOMATION_APP" "$(check x 'p["data"]["alertContext"]["caller"]')" "the caller (an application: its app id)"
ok

step "msp-automation: the alert through the delegation (az rest)"
n="$(az_ rest --method get --url "$URL/subscriptions/$FABRIKAM_PROD/providers/Microsoft.AlertsManagement/alerts?api-version=2019-05-05-preview" \
  --query "length(value[?name=='rg-deleted'])" -o tsv)"
expect_eq 1 "$n" "the alerts of rg-deleted"
az_ logout
ok

step "the clock passes the rule's frequency: its e-mail is in the outbox"
admin_post "/_emulator/logs/$cid/AppErrors_CL" '[{"Level": "Error", "Message": "disk full"}]' >/dev/null
admin_post /_emulator/clock '{"advance": "PT6M"}' >/dev/null
rules="$(outbox email | "$PYTHON" -c 'import json,sys; print("\n".join(m["alertRule"] for m in json.load(sys.stdin)["value"]))')"
expect_line app-errors "$rules" "the e-mails' rules"
expect_line rg-deleted "$rules" "the e-mails' rules"
ok

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
