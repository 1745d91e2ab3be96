#!/usr/bin/env bash
# Microsoft Graph and the data plane from the real Azure CLI, each command unmodified, as the
# identity named: `az ad …` (the cloud's microsoftGraphResourceId is the emulator), `az role
# assignment create --assignee UPN` (Graph lookup, then ARM), `az storage blob list --auth-mode login`
# and `az keyvault secret show` (host-style names through HTTPS_PROXY, as `lighthouse-emulator env`
# prints it).
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az-graph-data.sh
set -Eeuo pipefail

SCRIPT=az-graph-data.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${URL##*:}"
KV="/subscriptions/$FABRIKAM_PROD/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/fabrikam-kv"
KV2_NAME="fabrikam-kv2-$RANDOM"
KV2="/subscriptions/$FABRIKAM_PROD/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/$KV2_NAME"

login_user() { # upn password
  az_ logout >/dev/null 2>&1 || true
  az_ login -u "$1" -p "$2" --allow-no-subscriptions -o none
}

step "setup as the README says: HTTPS_PROXY/NO_PROXY from lighthouse-emulator env, az cloud register"
# as `lighthouse-emulator env --port $PORT` prints them (scripts/test exports its output already)
export HTTPS_PROXY="${HTTPS_PROXY:-http://localhost:$PORT}" NO_PROXY="${NO_PROXY:-localhost:$PORT,127.0.0.1:$PORT}"
expect_eq "http://localhost:$PORT" "$HTTPS_PROXY" "HTTPS_PROXY"
register_cloud
expect_eq "core.windows.net" "$(az_ cloud show --query suffixes.storageEndpoint -o tsv)" "the storage suffix"
expect_eq ".vault.azure.net" "$(az_ cloud show --query suffixes.keyvaultDns -o tsv)" "the Key Vault suffix"
expect_eq "$URL/" "$(az_ cloud show --query endpoints.microsoftGraphResourceId -o tsv)" "Graph's resource id"
ok

step "alice: az ad signed-in-user show"
login_user alice@contosomsp.onmicrosoft.com 'Alice-Pa55!'
got="$(az_ ad signed-in-user show --query "[userPrincipalName, id]" -o tsv)"
expect_eq "alice@contosomsp.onmicrosoft.com"$'\n'"30000000-0000-0000-0000-000000001111" "$got" "az ad signed-in-user show"
ok

step "alice: az ad group list/show/member list, az ad sp list/show (Contoso's directory)"
groups="$(az_ ad group list --query "[].displayName" -o tsv)"
expect_line "MSP Operators" "$groups" "az ad group list"
expect_line "MSP Readers" "$groups" "az ad group list"
expect_eq "$MSP_OPERATORS_OID" "$(az_ ad group show -g "MSP Operators" --query id -o tsv)" "az ad group show -g 'MSP Operators'"
members="$(az_ ad group member list -g "$MSP_OPERATORS_OID" --query "[].id" -o tsv)"
expect_line "30000000-0000-0000-0000-000000001111" "$members" "members of MSP Operators"
expect_line "30000000-0000-0000-0000-000000001121" "$members" "members of MSP Operators"
sps="$(az_ ad sp list --display-name msp- --query "[].appId" -o tsv)"
expect_line "$MSP_AUTOMATION_APP" "$sps" "az ad sp list --display-name msp-"
expect_no_line "$FABRIKAM_CI_APP" "$sps" "az ad sp list --display-name msp-"
expect_eq msp-automation "$(az_ ad sp show --id "$MSP_AUTOMATION_APP" --query displayName -o tsv)" "az ad sp show --id <appId>"
ok

step "admin@fabrikam: az ad user list sees Fabrikam's users only; az ad user show; az ad sp list"
login_user admin@fabrikam.onmicrosoft.com 'Fabrikam-Pa55!'
users="$(az_ ad user list --query "[].userPrincipalName" -o tsv | sort)"
expect_eq $'admin@fabrikam.onmicrosoft.com\nreader@fabrikam.onmicrosoft.com' "$users" "az ad user list as admin@fabrikam"
expect_eq "$FABRIKAM_READER_OID" "$(az_ ad user show --id reader@fabrikam.onmicrosoft.com --query id -o tsv)" "az ad user show --id reader@…"
if out="$("$AZ" ad user show --id alice@contosomsp.onmicrosoft.com 2>&1)"; then
  echo "expected az ad user show of another tenant's user to fail, got: $out" >&2; false
fi
grep -q "does not exist" <<<"$out" || { echo "expected Graph's not-found message, got: $out" >&2; false; }
sps="$(az_ ad sp list --all --query "[].appId" -o tsv)"
expect_eq "$FABRIKAM_CI_APP" "$sps" "az ad sp list --all as admin@fabrikam"
expect_eq "$FABRIKAM" "$(az_ ad sp show --id "$FABRIKAM_CI_APP" --query appOwnerOrganizationId -o tsv)" "fabrikam-ci's owner tenant"
ok

step "admin@fabrikam: az role assignment create --assignee reader@fabrikam.onmicrosoft.com --role Reader --scope rg-dev"
got="$(az_ role assignment create --assignee reader@fabrikam.onmicrosoft.com --role Reader \
        --scope "/subscriptions/$FABRIKAM_DEV/resourceGroups/rg-dev" --query "[principalId, principalType]" -o tsv)"
expect_eq "$FABRIKAM_READER_OID"$'\n'"User" "$got" "the new assignment's principal"
got="$(az_ role assignment create --assignee "$FABRIKAM_CI_APP" --role Reader \
        --scope "/subscriptions/$FABRIKAM_DEV/resourceGroups/rg-dev" --query "[principalId, principalType]" -o tsv)"
expect_eq "$FABRIKAM_CI_OID"$'\n'"ServicePrincipal" "$got" "an assignment to an app id"
ok

step "admin@fabrikam with Key Vault Secrets User: az keyvault secret show --vault-name fabrikam-kv -n db-password, and --id"
az_ role assignment create --assignee admin@fabrikam.onmicrosoft.com --role "Key Vault Secrets User" --scope "$KV" -o none
value="$(az_ keyvault secret show --vault-name fabrikam-kv -n db-password --query value -o tsv)"
id="$(az_ keyvault secret show --vault-name fabrikam-kv -n db-password --query id -o tsv)"
expect_eq 'Fabrikam-Db-Pa55!' "$value" "db-password by --vault-name"
[[ $id == https://fabrikam-kv.vault.azure.net/secrets/db-password/* ]] || { echo "unexpected secret id $id" >&2; false; }
expect_eq 'Fabrikam-Db-Pa55!' "$(az_ keyvault secret show --id "$id" --query value -o tsv)" "db-password by --id (versioned)"
expect_eq 'Fabrikam-Db-Pa55!' "$(az_ keyvault secret show --id https://fabrikam-kv.vault.azure.net/secrets/db-password --query value -o tsv)" "db-password by --id (latest)"
ok

step "several vaults: a second vault's secret ids work beside fabrikam-kv's"
az_ rest --method put --url "$KV2?api-version=2023-07-01" -o none --body \
  "{\"location\":\"westeurope\",\"properties\":{\"tenantId\":\"$FABRIKAM\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"},\"enableRbacAuthorization\":true}}"
az_ role assignment create --assignee admin@fabrikam.onmicrosoft.com --role "Key Vault Secrets Officer" --scope "$KV2" -o none
id2="$(az_ keyvault secret set --vault-name "$KV2_NAME" -n db-password --value other-vault --query id -o tsv)"
[[ $id2 == "https://$KV2_NAME.vault.azure.net/secrets/db-password/"* ]] || { echo "unexpected secret id $id2" >&2; false; }
expect_eq other-vault "$(az_ keyvault secret show --id "$id2" --query value -o tsv)" "the second vault's secret by --id"
expect_eq 'Fabrikam-Db-Pa55!' "$(az_ keyvault secret show --id "$id" --query value -o tsv)" "fabrikam-kv's secret by --id"
ok

step "reader@fabrikam: az storage blob list --account-name fabrikamdata -c reports --auth-mode login lists q3.csv"
login_user reader@fabrikam.onmicrosoft.com 'Reader-Pa55!'
blobs="$(az_ storage blob list --account-name fabrikamdata -c reports --auth-mode login --query "[].name" -o tsv)"
expect_eq q3.csv "$blobs" "az storage blob list"
az_ storage blob download --account-name fabrikamdata -c reports -n q3.csv --auth-mode login -f "$WORK/q3.csv" -o none
expect_eq "region,quarter,revenue_eur" "$(head -n1 "$WORK/q3.csv")" "the downloaded q3.csv"
ok

step "alice (Contributor on fabrikam-prod through the delegation) cannot list the blobs: data access is never delegated"
login_user alice@contosomsp.onmicrosoft.com 'Alice-Pa55!'
if out="$("$AZ" storage blob list --account-name fabrikamdata -c reports --auth-mode login 2>&1)"; then
  echo "expected alice's blob list to be refused, got: $out" >&2; false
fi
grep -qi "issuer\|InvalidAuthenticationInfo\|authoriz" <<<"$out" || { echo "unexpected refusal: $out" >&2; false; }
ok

az_ logout >/dev/null 2>&1 || true
echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
