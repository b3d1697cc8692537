#!/usr/bin/env bash
# make interop: starts `smsgw simulator` on free loopback ports and drives it
# with the npm 'smpp' package. Needs node and npm (installed from Debian if missing).
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
[ -d node_modules/smpp ] || npm install --no-audit --no-fund --silent
bin=${SMSGW_BIN:-../bin/smsgw}
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
smpp_port=$(port); http_port=$(port)
"$bin" simulator --listen "127.0.0.1:$smpp_port" --http "127.0.0.1:$http_port" >sim.log 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$smpp_port) 2>/dev/null && break; sleep 0.1; done
node interop.js "127.0.0.1:$smpp_port" "127.0.0.1:$http_port"
