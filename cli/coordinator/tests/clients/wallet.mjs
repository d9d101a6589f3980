// Sends through a live mf-coordinator with viem, a standard Ethereum client library, used as
// it is: a local account signs, viem fills nonce, fees and gas, sends the raw transaction,
// waits for its receipt, then reads its block, the transaction, logs and fee history, and
// sends a replay. Usage: node wallet.mjs URL CONFIG_JSON; prints one JSON object.
import { createPublicClient, createWalletClient, http } from "viem";
import { devChain } from "./chain.mjs";
import { privateKeyToAccount } from "viem/accounts";

const [url, cfgJson] = process.argv.slice(2);
const cfg = JSON.parse(cfgJson);
const chain = devChain(cfg.chainId, url);
const transport = http(url, { retryCount: 0 });
const client = createPublicClient({ chain, transport, pollingInterval: 100 });
const account = privateKeyToAccount(cfg.key);
const wallet = createWalletClient({ account, chain, transport });

// The first error in a viem error's cause chain whose name is one of `names`.
function named(e, names) {
  for (let c = e; c; c = c.cause) {
    if (names.includes(c.name)) return c.name;
  }
  return `${e.name}: ${e.shortMessage ?? e.message}`;
}

const out = { address: account.address };
out.hash = await wallet.sendTransaction({ to: cfg.logger, data: cfg.data });
out.receipt = await client.waitForTransactionReceipt({
  hash: out.hash,
  pollingInterval: 100,
  timeout: 60_000,
});
out.block = await client.getBlock({
  blockNumber: out.receipt.blockNumber,
  includeTransactions: true,
});
out.blockByHash = await client.getBlock({ blockHash: out.receipt.blockHash });
out.txCount = await client.getBlockTransactionCount({ blockHash: out.receipt.blockHash });
out.tx = await client.getTransaction({ hash: out.hash });
out.logs = await client.getLogs({ address: cfg.logger, fromBlock: 0n, toBlock: "latest" });
out.otherLogs = await client.getLogs({
  address: "0x000000000000000000000000000000000000dead",
  fromBlock: 0n,
  toBlock: "latest",
});
out.fees = await client.estimateFeesPerGas();
out.gasPrice = await client.getGasPrice();
out.feeHistory = await client.getFeeHistory({ blockCount: 4, rewardPercentiles: [25, 75] });
try {
  await client.getTransactionReceipt({ hash: `0x${"ee".repeat(32)}` });
  out.unknown = "found";
} catch (e) {
  out.unknown = named(e, ["TransactionReceiptNotFoundError"]);
}
// A second transaction: viem reads the next nonce itself.
const second = await wallet.sendTransaction({ to: cfg.logger, data: "0x01" });
out.second = await client.waitForTransactionReceipt({ hash: second, pollingInterval: 100 });
// A replay of nonce 0: refused, and viem recognises geth's words (sendTransaction maps node
// errors by their message).
try {
  await wallet.sendTransaction({ to: cfg.logger, nonce: 0 });
  out.replay = "accepted";
} catch (e) {
  out.replay = named(e, ["NonceTooLowError"]);
}
console.log(JSON.stringify(out, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
