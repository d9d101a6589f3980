// Reads a live mf-coordinator through viem, a standard Ethereum client library, used as it
// is. Usage: node check.mjs URL CONFIG_JSON; prints one JSON object of what it read.
import { createPublicClient, http, parseAbi } from "viem";
import { devChain } from "./chain.mjs";

const [url, cfgJson] = process.argv.slice(2);
const cfg = JSON.parse(cfgJson);
const chain = devChain(cfg.chainId, url);
const client = createPublicClient({ chain, transport: http(url, { retryCount: 0 }) });
const erc20 = parseAbi(["function balanceOf(address) view returns (uint256)"]);
const pair = parseAbi([
  "function swap(address tokenIn, uint256 amountIn, uint256 minOut) returns (uint256)",
]);

const out = {};
out.chainId = await client.getChainId();
out.blockNumber = (await client.getBlockNumber({ cacheTime: 0 })).toString();
out.balance = (await client.getBalance({ address: cfg.wallet })).toString();
out.nonce = await client.getTransactionCount({ address: cfg.wallet });
out.codeBytes = ((await client.getCode({ address: cfg.token })) ?? "0x").length / 2 - 1;
out.noCode = (await client.getCode({ address: cfg.merchant })) ?? null;
out.reserve = await client.getStorageAt({ address: cfg.pair, slot: "0x2" });
out.tokenBalance = (
  await client.readContract({
    address: cfg.token,
    abi: erc20,
    functionName: "balanceOf",
    args: [cfg.wallet],
  })
).toString();
out.gas = (
  await client.estimateGas({ account: cfg.wallet, to: cfg.merchant, value: 1n })
).toString();
try {
  await client.simulateContract({
    account: cfg.wallet,
    address: cfg.pair,
    abi: pair,
    functionName: "swap",
    args: [cfg.hub, 10n ** 18n, 10n ** 30n],
  });
  out.revert = null;
} catch (e) {
  // viem decodes Error(string) from the JSON-RPC error's data.
  let reason = null;
  for (let c = e; c; c = c.cause) {
    if (c.reason) {
      reason = c.reason;
      break;
    }
  }
  out.revert = reason ?? `undecoded: ${e.shortMessage}`;
}
console.log(JSON.stringify(out));
