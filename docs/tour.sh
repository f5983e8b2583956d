#!/usr/bin/env bash
# The README's tour, as one script: every command the README shows, in its order.
#
#   bash docs/tour.sh          # in a fresh temporary directory, on port 8000
#   TOUR_DIR=/tmp/t PORT=8123 bash docs/tour.sh
#
# It needs `haechi`, curl and python3 on the PATH. tests/test_tour.py runs it against
# this checkout and checks what each step prints; a test also checks that every
# command line of the README's tour appears here, in the same order.
set -euo pipefail

step() { printf '\n== %s\n' "$*"; }

# --- Setup: a scratch directory and a port -----------------------------------
step setup
cd "${TOUR_DIR:-$(mktemp -d)}"
PORT=${PORT:-8000}
API=http://127.0.0.1:$PORT/api/v1

# --- An installation and an API token for a CRM that serves one purpose ---------
step init
haechi init ./data                      # settings, demo policy, keys, database, first officer
cat ./data/first-run-secrets.txt        # the officer's one-time password and TOTP: read, then delete
rm ./data/first-run-secrets.txt
haechi policy check ./data/policy.toml  # exit 2 and every problem, located, if any
TOKEN=$(haechi tokens create --name crm --purpose service --data ./data)  # shown once

# --- The server, in the background ---------------------------------------------
step serve
haechi serve --data ./data --port "$PORT" > serve.log 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 150); do curl -sf "$API/health" > /dev/null && break; sleep 0.2; done
curl -sf "$API/health"
echo

# --- Collect a person's data for the service purpose, with consent --------------
step collect
RESPONSE=$(curl -s -X POST "$API/collections" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"purpose": "service",
       "items": {"name": "김민지", "contact": "010-2345-6789", "email": "minji@example.kr",
                 "company": "한빛상사", "department": "구매팀", "title": "대리"},
       "consent": {"granted": true, "method": "web-form"}}')
echo "$RESPONSE"
SUBJECT=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["subject_id"])' "$RESPONSE")
COLLECTION=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["collection_id"])' "$RESPONSE")

# --- Read it back for that purpose; another purpose is refused -------------------
step read
curl -s -w '\n%{http_code}\n' "$API/subjects/$SUBJECT/items?purpose=service" \
  -H "Authorization: Bearer $TOKEN"
step refuse
curl -s -w '\n%{http_code}\n' "$API/subjects/$SUBJECT/items?purpose=marketing" \
  -H "Authorization: Bearer $TOKEN"

# --- Find a subject by email: the value goes in the body, never in a URL ---------
step lookup
curl -s -w '\n%{http_code}\n' -X POST "$API/subjects/lookup" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"kind": "email", "value": "minji@example.kr"}'

# --- Bad input: a 4xx body naming the field, never the value ---------------------
step invalid
curl -s -w '\n%{http_code}\n' -X POST "$API/collections" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"purpose": "service", "items": {"email": 12}, "consent": {"granted": true, "method": "x"}}'

# --- The collection: state and dates, never values ------------------------------
step collection
curl -s -w '\n%{http_code}\n' "$API/collections/$COLLECTION" -H "Authorization: Bearer $TOKEN"

# --- Retention: withdrawal makes the collection due; the sweep destroys it --------
step withdraw
curl -s -w '%{http_code}\n' -X POST "$API/collections/$COLLECTION/withdraw" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"method": "web-form"}'
step sweep
haechi sweep --data ./data --dry-run          # what is expired, to separate, to destroy, overdue
haechi sweep --data ./data --dry-run --now 2027-03-02T00:00:00+09:00  # as of another time
haechi sweep --data ./data                    # progress bar, summary, batch id
haechi destruction list --data ./data --json  # batches awaiting confirmation, overdue data, paper
BATCH=$(haechi destruction list --data ./data --json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["batches"][0]["id"])')
haechi destruction show "$BATCH" --data ./data   # its certificates: collections, items, method, reason
haechi destruction confirm "$BATCH" --by "Chief Privacy Officer" --data ./data
haechi destruction record-paper --what "2025 consent forms, box 3" --method shredding \
  --by Kim --witness Lee --data ./data
step destroyed
curl -s -w '\n%{http_code}\n' "$API/collections/$COLLECTION" -H "Authorization: Bearer $TOKEN"

# --- Staff: one account per person, grants on the record ---------------------------
step staff
haechi staff add kim --role handler --purpose service --data ./data  # one-time password + TOTP URI, shown once
haechi staff grant kim --purpose complaints --reason "helpdesk cover" --data ./data
haechi staff revoke kim --purpose service --reason "left sales" --data ./data
step lockout
for attempt in 1 2 3 4 5; do                  # five failed logins lock the account
  curl -s -X POST "$API/auth/login" -H 'Content-Type: application/json' \
    -d '{"username": "kim", "password": "not the password"}'
  echo
done
haechi staff list --json --data ./data
haechi staff unlock kim --data ./data          # after 5 failed logins
haechi staff reset-password kim --new-totp --data ./data
step role
haechi staff grant kim --role auditor --reason "moved to audit" --data ./data
haechi staff list --json --data ./data
haechi staff revoke kim --account --reason "left the company" --data ./data
haechi staff history kim --json --data ./data  # who granted or revoked what, when, why

# --- The access log cannot be quietly rewritten -----------------------------------
step audit
haechi audit seal --data ./data                  # seal what is waiting (serve does it too)
haechi audit verify --data ./data                # exit 0 and the size, or exit 1 and the first bad leaf
haechi audit prove 1 --data ./data               # inclusion proof of event 1
haechi audit export-heads heads.json --data ./data         # give this to an outside witness
OLD=$(python3 -c 'import json; print(json.load(open("heads.json"))["heads"][0]["size"])')
NEW=$(python3 -c 'import json; print(json.load(open("heads.json"))["heads"][-1]["size"])')
haechi audit consistency "$OLD" "$NEW" --data ./data  # the older tree is a prefix of the newer
haechi audit verify --witness heads.json --data ./data     # catches a rewritten and re-signed log
haechi audit prune --data ./data                 # drop events past retention, at a signed boundary
curl -s "$API/audit/heads"                       # signed heads, public, for witnesses
echo

# --- Monitors and the monthly review -------------------------------------------------
step review
haechi alerts list --json --data ./data
haechi audit review "$(date -u +%Y-%m)" --data ./data                   # accesses per actor, with a bar chart
haechi audit review "$(date -u +%Y-%m)" --record --by officer --notes "checked" --data ./data

# --- Finding personal data the policy does not declare ---------------------------------
step scan
mkdir -p exports
printf 'id,note\n1,주민번호 900101-1234568\n' > exports/customers.csv
haechi scan ./exports --policy ./data/policy.toml --fail-on undeclared || echo "exit code $?"
haechi scan --db "sqlite:///$PWD/data/haechi.db" --sample 1000 --format sarif > findings.sarif
python3 -c 'import json; print(json.load(open("findings.sarif"))["version"])'

# --- Stop the server ------------------------------------------------------------------
step stop
kill "$SERVER"
wait "$SERVER" || true
trap - EXIT
echo "tour done"
