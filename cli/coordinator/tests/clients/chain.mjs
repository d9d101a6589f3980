// The chain a check script talks to, as viem describes one: the node's chain id and its RPC
// URLs (HTTP, and WebSocket on the same port when given). Shared by check.mjs, wallet.mjs
// and viem_check.mjs.
import { defineChain } from "viem";

export function devChain(id, url, wsUrl) {
  return defineChain({
    id,
    name: "mf-devnet",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: wsUrl ? { http: [url], webSocket: [wsUrl] } : { http: [url] } },
  });
}
