#!/usr/bin/env bash
# Azure Policy aliases with the real Azure CLI: `az provider show --expand resourceTypes/aliases` and
# `az provider list --expand resourceTypes/aliases` list the aliases the emulator's policy language
# knows (src/policy/aliases.rs), with their paths and the Modifiable attribute, as ARM's Alias shape.
#
#   LIGHTHOUSE_EMULATOR_URL=https://localhost:PORT LIGHTHOUSE_EMULATOR_CA=<state-dir>/ca.pem \
#   [AZ=/path/to/az] tests/cli/az-policy-aliases.sh
set -Eeuo pipefail

SCRIPT=az-policy-aliases.sh
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

register_cloud
step "az login --service-principal as fabrikam-ci"
az_ login --service-principal -u "$FABRIKAM_CI_APP" -p fabrikam-ci-secret --tenant "$FABRIKAM" -o none
ok

step "az provider show --namespace Microsoft.Storage --expand resourceTypes/aliases"
path="$(az_ provider show --namespace Microsoft.Storage --expand resourceTypes/aliases \
  --query "resourceTypes[?resourceType=='storageAccounts'] | [0].aliases[?name=='Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly'] | [0].defaultPath" -o tsv)"
expect_eq "properties.supportsHttpsTrafficOnly" "$path" "defaultPath of supportsHttpsTrafficOnly"
attr="$(az_ provider show --namespace Microsoft.Storage --expand resourceTypes/aliases \
  --query "resourceTypes[?resourceType=='storageAccounts'] | [0].aliases[?name=='Microsoft.Storage/storageAccounts/publicNetworkAccess'] | [0].defaultMetadata.attributes" -o tsv)"
expect_eq "Modifiable" "$attr" "publicNetworkAccess is modifiable"
ok

step "az provider show without --expand lists no aliases"
n="$(az_ provider show --namespace Microsoft.Storage --query "length(resourceTypes[?aliases])" -o tsv)"
expect_eq "0" "$n" "resource types with aliases"
ok

step "az provider list --expand resourceTypes/aliases: the Lighthouse aliases"
names="$(az_ provider list --expand resourceTypes/aliases \
  --query "[?namespace=='Microsoft.ManagedServices'].resourceTypes[].aliases[].name" -o tsv)"
expect_line "Microsoft.ManagedServices/registrationDefinitions/managedByTenantId" "$names" "ManagedServices aliases"
ok

echo "$SCRIPT: $PASSED passed, 0 failed, $SKIPPED skipped"
