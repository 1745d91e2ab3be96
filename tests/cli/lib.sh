#!/usr/bin/env bash
# Shared prelude of the Azure CLI test scripts (tests/cli/az*.sh): source it, never run it.
# Reads LIGHTHOUSE_EMULATOR_URL, LIGHTHOUSE_EMULATOR_CA and AZ; isolates az in a throw-away
# AZURE_CONFIG_DIR; defines the world's ids, step/ok/skip, az_ (logs the command) and expect_*.
# The including script names itself in SCRIPT (for messages) before sourcing.
SCRIPT="${SCRIPT:-az}"
URL="${LIGHTHOUSE_EMULATOR_URL:?set LIGHTHOUSE_EMULATOR_URL to https://localhost:PORT}"
URL="${URL%/}"
CA="${LIGHTHOUSE_EMULATOR_CA:?set LIGHTHOUSE_EMULATOR_CA to the emulator CA certificate file}"
AZ="${AZ:-az}"
PYTHON="${PYTHON:-python3}"

FABRIKAM=10000000-0000-0000-0000-000000000002
FABRIKAM_PROD=20000000-0000-0000-0000-000000002001
FABRIKAM_DEV=20000000-0000-0000-0000-000000002002
FABRIKAM_CI_APP=40000000-0000-0000-0000-000000002121
FABRIKAM_CI_OID=30000000-0000-0000-0000-000000002121
FABRIKAM_ADMIN_OID=30000000-0000-0000-0000-000000002111
FABRIKAM_READER_OID=30000000-0000-0000-0000-000000002112
CONTOSO=10000000-0000-0000-0000-000000000001
NORTHWIND=10000000-0000-0000-0000-000000000003
TAILSPIN=10000000-0000-0000-0000-000000000004
MSP_TOOLS=20000000-0000-0000-0000-000000001001
NORTHWIND_MAIN=20000000-0000-0000-0000-000000003001
TAILSPIN_PROD=20000000-0000-0000-0000-000000004001
MSP_AUTOMATION_APP=40000000-0000-0000-0000-000000001121
MSP_OPERATORS_OID=30000000-0000-0000-0000-000000001101
READER_ROLE=acdd72a7-3385-48ef-bd42-f606fba81ae7

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lighthouse-az.XXXXXX")"
PASSED=0
SKIPPED=0
CURRENT="(setup)"

cleanup() { rm -rf "$WORK"; }
on_err() {
  local rc=$? cmd=$BASH_COMMAND
  if [[ $BASHPID != "$$" ]]; then # inside $(...): name the command, let the caller fail the step
    echo "$SCRIPT: command failed (exit $rc): ${LAST_AZ:-$cmd}" >&2
    exit "$rc"
  fi
  echo "$SCRIPT: FAILED in step '$CURRENT' (exit $rc): ${LAST_AZ:-$cmd}" >&2
  [[ -n ${LAST_AZ:-} && $cmd != *'"$AZ"'* ]] && echo "$SCRIPT: (last az command: $LAST_AZ; failing command: $cmd)" >&2
  echo "$SCRIPT: $PASSED passed, 1 failed, $SKIPPED skipped"
  exit 1
}
trap cleanup EXIT
trap on_err ERR

# Isolate az completely from the user's ~/.azure and from the machine's CA settings.
export AZURE_CONFIG_DIR="$WORK/azure"
export AZURE_CORE_COLLECT_TELEMETRY=false
export AZURE_CORE_INSTANCE_DISCOVERY=false
export AZURE_CORE_NO_COLOR=true
export AZURE_CORE_SURVEY_MESSAGE=false
export AZURE_CORE_ONLY_SHOW_ERRORS=true
export REQUESTS_CA_BUNDLE="$CA" CURL_CA_BUNDLE="$CA" SSL_CERT_FILE="$CA"
unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID AZURE_USERNAME AZURE_PASSWORD \
      AZURE_AUTHORITY_HOST ARM_CLOUD_METADATA_URL AZURE_CLI_DISABLE_CONNECTION_VERIFICATION || true

step() { CURRENT="$*"; echo "--- $*"; }
ok() { PASSED=$((PASSED + 1)); echo "ok   $CURRENT"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "skip $CURRENT: $*"; }
az_() { LAST_AZ="az $*"; echo "+ $LAST_AZ" >&2; "$AZ" "$@"; }
expect_eq() { # expected actual what
  if [[ "$1" != "$2" ]]; then echo "expected $3 to be [$1], got [$2]" >&2; return 1; fi
}
expect_line() { # needle haystack what
  if ! grep -qxF -- "$1" <<<"$2"; then echo "expected $3 to contain the line [$1], got:"$'\n'"$2" >&2; return 1; fi
}
# expect_fail WHAT NEEDLE -- az args...: the command fails and its error names NEEDLE
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
expect_no_line() {
  if grep -qxF -- "$1" <<<"$2"; then echo "expected $3 NOT to contain [$1], got:"$'\n'"$2" >&2; return 1; fi
}


# MSAL Python sends the user-realm lookup of a password sign-in to localhost:443 whatever port the
# authority names: user sign-ins are skipped when this emulator does not answer there.
NO_443="localhost:443 does not answer the user-realm lookup with this emulator's certificate (another process holds :443, or the emulator could not bind it: run as root)"
userrealm_on_443() {
  "$PYTHON" - "$CA" <<'PYEOF'
import ssl, sys, urllib.request, urllib.error
ctx = ssl.create_default_context(cafile=sys.argv[1])
try:
    urllib.request.urlopen("https://localhost/common/userrealm/admin@fabrikam.onmicrosoft.com?api-version=1.0",
                           context=ctx, timeout=5)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 404 else 1)
except Exception as e:
    print(f"localhost:443: {e}", file=sys.stderr)
    sys.exit(1)
PYEOF
}

# register_cloud: the README's setup (az cloud register + set).
register_cloud() {
  az_ cloud register -n LighthouseEmulator --endpoint-resource-manager "$URL" -o none
  az_ cloud set -n LighthouseEmulator -o none
}

# A local HTTP server standing for the provider's automation: each POSTed body becomes one line of
# $HOOK_LOG; $HOOK_URL is where to send them. Stopped with the script.
start_webhook() {
  HOOK_LOG="$WORK/hook.jsonl"
  local port_file="$WORK/hook.port"
  "$PYTHON" - "$HOOK_LOG" "$port_file" <<'PYEOF' &
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
log, port_file = sys.argv[1], sys.argv[2]
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(log, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = HTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(s.server_address[1]))
s.serve_forever()
PYEOF
  HOOK_PID=$!
  trap 'kill $HOOK_PID 2>/dev/null || true; cleanup' EXIT
  for _ in $(seq 50); do [[ -s "$port_file" ]] && break; sleep 0.1; done
  HOOK_URL="http://127.0.0.1:$(cat "$port_file")/alerts"
}
wait_hook() { # n → wait up to 15 s for n bodies in $HOOK_LOG
  for _ in $(seq 150); do
    [[ -f "$HOOK_LOG" && $(wc -l <"$HOOK_LOG") -ge $1 ]] && return 0
    sleep 0.1
  done
  echo "the webhook got $(wc -l <"$HOOK_LOG" 2>/dev/null || echo 0) bodies, expected $1" >&2
  return 1
}
admin_post() { # path json → the emulator's admin endpoints (no token; no admin key in tests)
  curl -sS --fail --cacert "$CA" -X POST -H 'content-type: application/json' -d "$2" "$URL$1"
}
