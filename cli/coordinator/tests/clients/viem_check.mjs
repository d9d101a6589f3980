// viem, used as it is, against a JSON-RPC node: what a TypeScript dapp does on a development
// node (anvil is the reference; `mf-coordinator dev` must answer the same). The reads are
// check.mjs's; this one writes and watches.
//
//   node viem_check.mjs RPC_URL PRIVATE_KEY   (or RPC_URL=... PRIVATE_KEY=... node viem_check.mjs)
//
// The WebSocket URL is the same host and port (ws://, or wss:// for https://), or WS_URL. The
// key's account must hold some ether. Prints one line per check, `ok NAME` or
// `FAIL NAME: why`, and exits 1 if any failed.
//
// JSON-RPC methods viem 2.57 calls here (seen at anvil 1.7.1 through a logging proxy):
// eth_chainId, eth_fillTransaction, eth_sendRawTransaction, eth_getTransactionReceipt,
// eth_getTransactionByHash, eth_getBalance, eth_call, eth_getLogs, eth_blockNumber,
// eth_getBlockByNumber, eth_maxPriorityFeePerGas; and over WebSocket eth_chainId,
// eth_getBlockByNumber, eth_subscribe ("newHeads", "logs"), eth_unsubscribe. Where
// eth_fillTransaction answers -32601 (method not found), viem fills the transaction itself
// with eth_getTransactionCount, eth_estimateGas, eth_maxPriorityFeePerGas and
// eth_getBlockByNumber, and every check passes the same.
import { readFileSync } from "node:fs";
import {
  createPublicClient,
  createWalletClient,
  http,
  parseEventLogs,
  webSocket,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { devChain } from "./chain.mjs";

const url = process.argv[2] ?? process.env.RPC_URL;
const key = process.argv[3] ?? process.env.PRIVATE_KEY;
if (!url || !key) {
  console.log("usage: node viem_check.mjs RPC_URL PRIVATE_KEY (or set RPC_URL and PRIVATE_KEY)");
  process.exit(2);
}
const wsUrl = process.env.WS_URL ?? url.replace(/^http/, "ws");
const artifactPath =
  process.env.TOKEN_ARTIFACT ??
  new URL("../../../../contracts/artifacts/Token.json", import.meta.url);
const artifact = JSON.parse(readFileSync(artifactPath, "utf8"));
const OTHER = "0x000000000000000000000000000000000000f00d";
const TIMEOUT_MS = 30_000;

let failed = false;
const results = {};
async function check(name, fn, ...needs) {
  const missing = needs.filter((n) => results[n] === undefined);
  if (missing.length) {
    failed = true;
    console.log(`FAIL ${name}: skipped: ${missing.join(", ")} failed`);
    return undefined;
  }
  try {
    const r = await fn();
    results[name] = r ?? true;
    console.log(`ok ${name}`);
    return r;
  } catch (e) {
    failed = true;
    const why = `${e?.shortMessage ?? e?.message ?? e}${e?.details ? ` (${e.details})` : ""}`;
    console.log(`FAIL ${name}: ${why.replace(/\s+/g, " ").slice(0, 400)}`);
    if (process.env.CHECK_TRACE) console.error(e);
    return undefined;
  }
}
function expect(cond, why) {
  if (!cond) throw new Error(why);
}
// Resolves with the first value `start(resolve)` passes, rejects after `ms`; `start` returns
// an unwatch function, called either way.
function waitFor(what, ms, start) {
  let unwatch = () => {};
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    unwatch = start((v) => {
      clearTimeout(timer);
      resolve(v);
    }, (e) => {
      clearTimeout(timer);
      reject(e);
    });
  }).finally(() => unwatch());
}

const account = privateKeyToAccount(key);
const httpTransport = http(url, { retryCount: 0, timeout: TIMEOUT_MS });
let chain;
let pub;
let wallet;
let wsClient;
const state = {};

await check("chain-id", async () => {
  const probe = createPublicClient({ transport: httpTransport });
  const id = await probe.getChainId();
  chain = devChain(id, url, wsUrl);
  pub = createPublicClient({ chain, transport: httpTransport, pollingInterval: 200 });
  wallet = createWalletClient({ account, chain, transport: httpTransport });
  return id;
});

await check(
  "send-transaction",
  async () => {
    const before = await pub.getBalance({ address: OTHER });
    const hash = await wallet.sendTransaction({ to: OTHER, value: 777n });
    const r = await pub.waitForTransactionReceipt({ hash, timeout: TIMEOUT_MS });
    expect(r.status === "success", `status ${r.status}`);
    expect(r.transactionHash === hash, "the receipt's hash");
    const after = await pub.getBalance({ address: OTHER });
    expect(after - before === 777n, `the receiver got ${after - before}, not 777`);
    const tx = await pub.getTransaction({ hash });
    expect(tx.from.toLowerCase() === account.address.toLowerCase() && tx.value === 777n, "getTransaction");
    return r;
  },
  "chain-id",
);

await check(
  "deploy-contract",
  async () => {
    const hash = await wallet.deployContract({
      abi: artifact.abi,
      bytecode: artifact.bytecode,
      args: ["Viem Check", "VCK", 1_000_000n, account.address],
    });
    const r = await pub.waitForTransactionReceipt({ hash, timeout: TIMEOUT_MS });
    expect(r.status === "success", `status ${r.status}`);
    expect(r.contractAddress, "no contractAddress");
    state.token = r.contractAddress;
    state.deployBlock = r.blockNumber;
    const bal = await pub.readContract({
      address: state.token,
      abi: artifact.abi,
      functionName: "balanceOf",
      args: [account.address],
    });
    expect(bal === 1_000_000n, `balanceOf = ${bal}`);
    return r.contractAddress;
  },
  "chain-id",
);

await check(
  "write-contract",
  async () => {
    const { request } = await pub.simulateContract({
      account,
      address: state.token,
      abi: artifact.abi,
      functionName: "transfer",
      args: [OTHER, 42n],
    });
    const hash = await wallet.writeContract(request);
    const r = await pub.waitForTransactionReceipt({ hash, timeout: TIMEOUT_MS });
    expect(r.status === "success", `status ${r.status}`);
    const logs = parseEventLogs({ abi: artifact.abi, eventName: "Transfer", logs: r.logs });
    expect(logs.length === 1 && logs[0].args.value === 42n, `${logs.length} Transfer logs`);
    return r;
  },
  "deploy-contract",
);

await check(
  "get-logs",
  async () => {
    const logs = await pub.getContractEvents({
      address: state.token,
      abi: artifact.abi,
      eventName: "Transfer",
      fromBlock: state.deployBlock,
      toBlock: "latest",
    });
    expect(logs.length === 2, `${logs.length} Transfer logs, want 2`);
    expect(logs[1].args.to.toLowerCase() === OTHER, "the transfer's receiver");
  },
  "write-contract",
);

await check(
  "fees",
  async () => {
    const f = await pub.estimateFeesPerGas();
    expect(f.maxFeePerGas > 0n && f.maxPriorityFeePerGas >= 0n, JSON.stringify(f, (_, v) => String(v)));
    const block = await pub.getBlock({ blockTag: "latest", includeTransactions: true });
    expect(block.baseFeePerGas !== null && block.hash, "the latest block");
  },
  "chain-id",
);

await check(
  "websocket",
  async () => {
    wsClient = createPublicClient({
      chain,
      transport: webSocket(wsUrl, { retryCount: 0, timeout: TIMEOUT_MS }),
    });
    const id = await wsClient.getChainId();
    expect(id === chain.id, `chain id ${id} over WebSocket`);
  },
  "chain-id",
);

await check(
  "watch-blocks",
  async () => {
    const start = await pub.getBlockNumber({ cacheTime: 0 });
    const seen = waitFor("new block over eth_subscribe(newHeads)", TIMEOUT_MS, (resolve, reject) =>
      wsClient.watchBlocks({
        emitOnBegin: false,
        onBlock: (b) => {
          if (b.number > start) resolve(b);
        },
        onError: reject,
      }),
    );
    // A transaction, so that a block is made (anvil and our node make blocks on demand).
    await new Promise((r) => setTimeout(r, 300));
    const hash = await wallet.sendTransaction({ to: OTHER, value: 1n });
    const b = await seen;
    expect(b.hash && b.number > start, "the block's number and hash");
    await pub.waitForTransactionReceipt({ hash, timeout: TIMEOUT_MS });
  },
  "websocket",
  "send-transaction",
);

await check(
  "watch-contract-event",
  async () => {
    const seen = waitFor("Transfer over eth_subscribe(logs)", TIMEOUT_MS, (resolve, reject) =>
      wsClient.watchContractEvent({
        address: state.token,
        abi: artifact.abi,
        eventName: "Transfer",
        onLogs: (logs) => {
          const l = logs.find((x) => x.args.value === 9n);
          if (l) resolve(l);
        },
        onError: reject,
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    const hash = await wallet.writeContract({
      address: state.token,
      abi: artifact.abi,
      functionName: "transfer",
      args: [OTHER, 9n],
    });
    const log = await seen;
    expect(log.transactionHash === hash, "the log's transaction hash");
    expect(log.args.from.toLowerCase() === account.address.toLowerCase(), "from");
    await pub.waitForTransactionReceipt({ hash, timeout: TIMEOUT_MS });
  },
  "websocket",
  "write-contract",
);

if (wsClient) {
  try {
    const { socket } = await wsClient.transport.getRpcClient();
    socket.close();
  } catch {
    // already closed
  }
}
process.exit(failed ? 1 : 0);
