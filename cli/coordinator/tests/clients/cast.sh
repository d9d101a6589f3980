#!/usr/bin/env bash
# Foundry's `cast`, used as it is, against a JSON-RPC node: what a developer does with it on a
# development node (anvil is the reference; `mf-coordinator dev` must answer the same).
#
#   cast.sh RPC_URL PRIVATE_KEY      (or RPC_URL=... PRIVATE_KEY=... cast.sh)
#
# The key's account must hold some ether (anvil's or `mf-coordinator dev`'s account 0 does).
# Prints one line per check, `ok NAME` or `FAIL NAME: why`, and exits 1 if any failed.
# The cast binary: $CAST, else the one npm installed here (@foundry-rs/cast: `npm ci` in
# this directory, which ./test.sh runs), else `cast` on the PATH. Needs node (to read JSON)
# and curl (the CORS preflight).
#
# JSON-RPC methods cast calls here (seen at anvil 1.7.1 through a logging proxy):
# eth_chainId, eth_getTransactionCount, eth_estimateGas, eth_feeHistory (its automatic
# EIP-1559 fees), eth_sendRawTransaction, eth_getTransactionReceipt, eth_getTransactionByHash,
# eth_getBalance, eth_getCode, eth_call, eth_getLogs, eth_getBlockByNumber, eth_blockNumber;
# anvil_nodeInfo too, but every check passes when that answers -32601 (method not found).
# Plus an HTTP OPTIONS preflight.
set -u

here="$(cd "$(dirname "$0")" && pwd)"
url="${1:-${RPC_URL:-}}"
key="${2:-${PRIVATE_KEY:-}}"
if [ -z "$url" ] || [ -z "$key" ]; then
  echo "usage: cast.sh RPC_URL PRIVATE_KEY (or set RPC_URL and PRIVATE_KEY)" >&2
  exit 2
fi
artifact="${TOKEN_ARTIFACT:-$here/../../../../contracts/artifacts/Token.json}"

cast="${CAST:-}"
if [ -z "$cast" ]; then
  for c in "$here"/node_modules/@foundry-rs/cast-*/bin/cast; do
    if [ -x "$c" ]; then cast="$c"; break; fi
  done
fi
if [ -z "$cast" ]; then cast="$(command -v cast || true)"; fi
if [ -z "$cast" ]; then
  echo "FAIL setup: no cast binary (npm ci in $here, or set CAST)"
  exit 1
fi

failed=0
ok() { echo "ok $1"; }
fail() {
  echo "FAIL $1: $2"
  failed=1
}
# jget JSON EXPR: a field of a JSON document (EXPR is JavaScript on `j`); empty if missing.
jget() {
  node -e 'let j; try { j = JSON.parse(process.argv[1]); } catch { process.exit(0) }
    const v = (new Function("j", "return " + process.argv[2]))(j);
    if (v !== undefined && v !== null) console.log(typeof v === "object" ? JSON.stringify(v) : String(v));' \
    "$1" "$2" 2>/dev/null
}
# c SUBCOMMAND ARGS...: cast against the node (the URL right after the subcommand: trailing
# arguments may be a signature's); stdout, with stderr folded in on failure.
c() {
  local out sub="$1"
  shift
  if out="$("$cast" "$sub" --rpc-url "$url" "$@" 2>&1)"; then
    printf '%s' "$out"
  else
    printf '%s' "$out" | tr '\n' ' ' | cut -c1-400
    return 1
  fi
}

me="$("$cast" wallet address --private-key "$key" 2>/dev/null)"
if [ -z "$me" ]; then
  echo "FAIL setup: not a private key"
  exit 1
fi
other=0x000000000000000000000000000000000000c0de

# chain-id
if out="$(c chain-id)" && [ -n "$out" ]; then ok "chain-id ($out)"; else fail chain-id "$out"; fi

# deploy: the project's ERC20 from its creation code, constructor arguments appended by cast
code="$(node -e 'console.log(require(process.argv[1]).bytecode)' "$artifact" 2>/dev/null)"
token=""
deploy_block=""
if [ -z "$code" ]; then
  fail deploy "cannot read the bytecode of $artifact"
elif out="$(c send --private-key "$key" --json --create "$code" \
  "constructor(string,string,uint256,address)" "Cast Check" CCK 1000000 "$me")"; then
  token="$(jget "$out" 'j.contractAddress')"
  deploy_block="$(jget "$out" 'j.blockNumber')"
  if [ "$(jget "$out" 'j.status')" = 0x1 ] && [ -n "$token" ]; then
    ok "deploy ($token)"
  else
    fail deploy "receipt: $out"
    token=""
  fi
else
  fail deploy "$out"
fi

# code: the deployed contract has code
if [ -n "$token" ]; then
  if out="$(c code "$token")" && [ ${#out} -gt 100 ]; then ok code; else fail code "${out:0:200}"; fi
fi

# send-value: a value transfer with automatic (EIP-1559) fees
before="$(c balance "$other" 2>/dev/null || echo '?')"
value_tx=""
if out="$(c send --private-key "$key" --json --value 12345 "$other")"; then
  value_tx="$(jget "$out" 'j.transactionHash')"
  if [ "$(jget "$out" 'j.status')" = 0x1 ] && [ "$(jget "$out" 'j.type')" = 0x2 ]; then
    ok send-value
  else
    fail send-value "receipt: $out"
  fi
else
  fail send-value "$out"
fi
after="$(c balance "$other" 2>/dev/null || echo '?')"
if [ "$before" != '?' ] && [ "$after" != '?' ] &&
  [ "$(node -e 'console.log(String(BigInt(process.argv[2]) - BigInt(process.argv[1])))' "$before" "$after" 2>/dev/null)" = 12345 ]; then
  ok balance
else
  fail balance "before $before, after $after (want +12345)"
fi

# send-call: a contract call with automatic fees (an ERC20 transfer, which logs Transfer)
call_tx=""
if [ -n "$token" ]; then
  if out="$(c send --private-key "$key" --json "$token" "transfer(address,uint256)" "$other" 777)"; then
    call_tx="$(jget "$out" 'j.transactionHash')"
    if [ "$(jget "$out" 'j.status')" = 0x1 ] && [ "$(jget "$out" 'j.logs.length')" = 1 ]; then
      ok send-call
    else
      fail send-call "receipt: $out"
    fi
  else
    fail send-call "$out"
  fi
else
  fail send-call "no contract (deploy failed)"
fi

# receipt: fetched again by hash
if [ -n "$call_tx" ]; then
  if out="$(c receipt --json "$call_tx")" &&
    [ "$(jget "$out" 'j.transactionHash')" = "$call_tx" ] &&
    [ "$(jget "$out" 'j.status')" = 0x1 ] &&
    [ "$(jget "$out" 'j.logs[0].topics[0]')" = 0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef ]; then
    ok receipt
  else
    fail receipt "${out:0:400}"
  fi
else
  fail receipt "no transaction (send-call failed)"
fi

# tx: the value transfer by hash
if [ -n "$value_tx" ]; then
  if out="$(c tx --json "$value_tx")" && [ "$(jget "$out" 'j.hash')" = "$value_tx" ] &&
    [ "$(jget "$out" 'BigInt(j.value).toString()')" = 12345 ]; then
    ok tx
  else
    fail tx "${out:0:400}"
  fi
else
  fail tx "no transaction (send-value failed)"
fi

# block: the latest block, with a base fee and our last transaction's block at or below it
if out="$(c block latest --json)" && [ -n "$(jget "$out" 'j.hash')" ] &&
  [ -n "$(jget "$out" 'j.number')" ] && [ -n "$(jget "$out" 'j.baseFeePerGas')" ] &&
  [ -n "$(jget "$out" 'j.timestamp')" ] && [ -n "$(jget "$out" 'j.transactions')" ]; then
  ok "block ($(jget "$out" 'Number(j.number)'))"
else
  fail block "${out:0:400}"
fi

# block-number
if out="$(c block-number)" && [ "${out:-0}" -ge 1 ] 2>/dev/null; then ok "block-number ($out)"; else fail block-number "$out"; fi

# logs: the token's Transfer events since its deployment (the mint and the transfer)
if [ -n "$token" ]; then
  if out="$(c logs --json --from-block "${deploy_block:-0}" --to-block latest --address "$token" \
    "Transfer(address indexed from, address indexed to, uint256 value)")" &&
    [ "$(jget "$out" 'j.length')" = 2 ]; then
    ok logs
  else
    fail logs "want 2 Transfer logs: ${out:0:400}"
  fi
else
  fail logs "no contract (deploy failed)"
fi

# call: a view through eth_call, decoded
if [ -n "$token" ]; then
  if out="$(c call "$token" "balanceOf(address)(uint256)" "$other")" && [ "${out%% *}" = 777 ]; then
    ok call
  else
    fail call "want 777: $out"
  fi
else
  fail call "no contract (deploy failed)"
fi

# cors-preflight: what a browser sends before a cross-origin JSON-RPC POST
if command -v curl >/dev/null; then
  headers="$(curl -s -o /dev/null -D - -X OPTIONS "$url" \
    -H 'Origin: http://localhost:3000' \
    -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: content-type' 2>&1 | tr -d '\r')"
  status="$(printf '%s\n' "$headers" | head -1 | cut -d' ' -f2)"
  allow_origin="$(printf '%s\n' "$headers" | grep -i '^access-control-allow-origin:' | cut -d' ' -f2-)"
  allow_methods="$(printf '%s\n' "$headers" | grep -i '^access-control-allow-methods:' | cut -d' ' -f2-)"
  allow_headers="$(printf '%s\n' "$headers" | grep -i '^access-control-allow-headers:' | cut -d' ' -f2-)"
  if [ "${status:-0}" -ge 200 ] 2>/dev/null && [ "${status:-0}" -lt 300 ] &&
    { [ "$allow_origin" = '*' ] || [ "$allow_origin" = 'http://localhost:3000' ]; } &&
    printf '%s' "$allow_methods" | grep -qi post &&
    { [ "$allow_headers" = '*' ] || printf '%s' "$allow_headers" | grep -qi content-type; }; then
    ok cors-preflight
  else
    fail cors-preflight "status ${status:-none}, allow-origin '${allow_origin}', allow-methods '${allow_methods}', allow-headers '${allow_headers}'"
  fi
else
  fail cors-preflight "curl is missing"
fi

exit "$failed"
