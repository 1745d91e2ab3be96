#!/usr/bin/env bash
# `lighthouse-emulator env --as PRINCIPAL` with the real Azure CLI: each principal gets its own
# AZURE_CONFIG_DIR, signed in once by the printed lines, so a trainer switches identities by evaluating
# `env --as` again, without logging out. Same variables as tests/cli/az.sh; LIGHTHOUSE_EMULATOR_BIN
# (default target/release/lighthouse-emulator) is the binary whose `env` is used.
set -Eeuo pipefail

SCRIPT=az-env.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${LIGHTHOUSE_EMULATOR_BIN:-$ROOT/target/release/lighthouse-emulator}"
STATE="$(dirname "$CA")"
PORT="${URL##*:}"
# the printed lines call `az`: put this AZ first on PATH
if [[ $AZ == */* ]]; then PATH="$(dirname "$AZ"):$PATH"; fi
# env --as keeps its config dirs under the state dir; start from none
rm -rf "$STATE/azure-cli"

as() { # principal: evaluate `env --as` in this shell
  LAST_AZ="eval \$(lighthouse-emulator env --as $1)"
  eval "$("$BIN" env --state-dir "$STATE" --port "$PORT" --as "$1")"
}

step "env --as msp-automation signs in once, in its own config dir"
as msp-automation
expect_eq "$STATE/azure-cli/$MSP_AUTOMATION_APP" "$AZURE_CONFIG_DIR" "AZURE_CONFIG_DIR"
expect_eq "$MSP_AUTOMATION_APP" "$(az_ account show --query user.name -o tsv)" "the signed-in principal"
expect_line "$FABRIKAM_PROD" "$(az_ account list --query "[].id" -o tsv)" "msp-automation's subscriptions"
ok

step "env --as fabrikam-ci switches identity without logging msp-automation out"
as fabrikam-ci
expect_eq "$FABRIKAM_CI_APP" "$(az_ account show --query user.name -o tsv)" "the signed-in principal"
as msp-automation
expect_eq "$MSP_AUTOMATION_APP" "$(az_ account show --query user.name -o tsv)" "msp-automation, still signed in"
ok

step "lighthouse-emulator token finds the server from what env exported"
tok="$("$BIN" token admin@fabrikam.onmicrosoft.com)"
got="$(az_ rest --method get --url "$URL/subscriptions/$FABRIKAM_PROD?api-version=2022-12-01" \
  --skip-authorization-header --headers "Authorization=Bearer $tok" --query displayName -o tsv)"
expect_eq fabrikam-prod "$got" "fabrikam-prod read with the token"
ok

step "env --as alice (a user: az login -u)"
if userrealm_on_443; then
  as alice@contosomsp.onmicrosoft.com
  expect_eq alice@contosomsp.onmicrosoft.com "$(az_ account show --query user.name -o tsv)" "the signed-in user"
  ok
else
  skip "$NO_443"
fi

trap - ERR
echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
