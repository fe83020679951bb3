#!/usr/bin/env bash
# usage: enforcing.sh BUILD_DIR ARCHIVE OUT_DIR  -- an enforcing, inspecting pair joined to a REAL control plane,
# each sidecar started with the archive and -Xlog:class+load; one tools/list, one tools/call, one GET with a task token.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
B=$1; A=$2; O=$3
rm -rf "$O"; mkdir -p "$O"
TD=meas.local
java -jar "$B/tollgate.jar" control-plane --kek-file "$O/kek" --generate-kek --data-dir "$O/cp" --trust-domain $TD \
  --api-listen 127.0.0.1:28443 --admin-listen 127.0.0.1:29443 > "$O/cp.log" 2>&1 &
CP=$!
python3 "$HERE/app.py" 28080 & APP=$!
trap 'kill $CP $APP ${AG:-} ${TL:-} 2>/dev/null; wait 2>/dev/null' EXIT
ctl() { java -jar "$B/tollgate.jar" ctl --data-dir "$O/cp" "$@"; }
for i in $(seq 60); do [ -f "$O/cp/operator/server-id" ] && curl -s -o /dev/null http://127.0.0.1:29443/metrics && break; sleep 0.5; done
ctl workload register spiffe://$TD/agent/m --human-owner a@example.com --service-owner t --purpose m --tool echo.read >/dev/null
ctl workload register spiffe://$TD/tool/echo --human-owner a@example.com --service-owner t --purpose m >/dev/null
ctl -o json join-token create spiffe://$TD/agent/m | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' > "$O/agent.token"
ctl -o json join-token create spiffe://$TD/tool/echo | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' > "$O/tool.token"
TOKEN=$(ctl -o json task create --intent m --tool echo.read spiffe://$TD/agent/m | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
cp "$O/cp/operator/bundle.pem" "$O/anchor.pem"
SID=$(cat "$O/cp/operator/server-id")
cat > "$O/policy.yaml" <<P
version: "m-1"
tools:
  echo.read:
    labels: [sensitive-read]
  web.post:
    labels: [external-egress]
rules:
  - id: no-exfiltration
    transition:
      after: {label: sensitive-read}
      then: {label: external-egress}
      within: ever
P
CPB="control-plane:
  url: \"https://127.0.0.1:28443\"
  server-id: \"$SID\"
  trust-anchor: \"$O/anchor.pem\""
cat > "$O/tool.yaml" <<Y
listeners:
  ingress: {address: "127.0.0.1:28444"}
  admin: {address: "127.0.0.1:28445"}
app: "127.0.0.1:28080"
$CPB
  join-token-file: "$O/tool.token"
tls: {spiffe-id: "spiffe://$TD/tool/echo"}
identity:
  allow: ["spiffe://$TD/agent/m"]
ingress: {inspection: mcp}
worker-threads: 1
Y
cat > "$O/agent.yaml" <<Y
listeners:
  egress: {address: "127.0.0.1:28446"}
  admin: {address: "127.0.0.1:28447"}
$CPB
  join-token-file: "$O/agent.token"
tls: {spiffe-id: "spiffe://$TD/agent/m"}
upstreams:
  tool:
    address: "127.0.0.1:28444"
    spiffe-id: "spiffe://$TD/tool/echo"
    match: {path-prefix: /}
    inspection: mcp
policy:
  file: "$O/policy.yaml"
worker-threads: 1
Y
JVM="@$ROOT/deploy/sidecar-jvm.options -XX:SharedArchiveFile=$A"
t0=$(date +%s.%N)
java $JVM -Xlog:class+load=info:file="$O/tool-classes.log" -jar "$B/tollgate-sidecar.jar" --config "$O/tool.yaml" > "$O/tool.log" 2>&1 & TL=$!
java $JVM -Xlog:class+load=info:file="$O/agent-classes.log" -jar "$B/tollgate-sidecar.jar" --config "$O/agent.yaml" > "$O/agent.log" 2>&1 & AG=$!
for i in $(seq 600); do
  c=$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:28446/mcp -H "tollgate-token: $TOKEN" -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}' || true)
  [ "$c" = 200 ] && break; sleep 0.05
done
t1=$(date +%s.%N)
echo "first 200 after $(echo "$t1 - $t0" | bc) s (code $c)"
curl -s -o /dev/null -w 'call %{http_code}\n' -X POST http://127.0.0.1:28446/mcp -H "tollgate-token: $TOKEN" -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo.read","arguments":{}}}'
curl -s -o /dev/null -w 'get %{http_code}\n' http://127.0.0.1:28446/status -H "tollgate-token: $TOKEN"
curl -s http://127.0.0.1:28447/metrics > "$O/agent-metrics.txt"
sleep 1.5
kill $AG $TL; wait $AG $TL 2>/dev/null || true
for s in agent tool; do
  f="$O/$s-classes.log"
  echo "$s: $(grep -c 'source: shared objects file (top)' $f) from the training archive, $(grep 'source: shared objects file' $f | grep -vc '(top)') from the JDK's, $(grep -vc 'source: shared objects file' $f) from elsewhere (jars, jrt, generated)"
done
