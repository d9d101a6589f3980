#!/usr/bin/env python3
"""web3.py (with eth-account), used as it is, against a JSON-RPC node: the calls a Python dapp
or script makes on a development node (anvil is the reference; `mf-coordinator dev` must
answer the same).

    web3_check.py RPC_URL PRIVATE_KEY      (or RPC_URL=... PRIVATE_KEY=... web3_check.py)

The key's account must hold some ether (anvil's or `mf-coordinator dev`'s account 0 does).
Prints one line per check, `ok NAME` or `FAIL NAME: why`, and exits 1 if any failed. Needs
web3 (7 or 8) and eth-account: ./test.sh installs them into the virtual environment
`.venv` next to this file.

JSON-RPC methods web3.py 8 calls here (seen at anvil 1.7.1 through a logging proxy):
eth_chainId, eth_blockNumber, eth_getBalance, eth_getTransactionCount, eth_estimateGas, eth_gasPrice, eth_maxPriorityFeePerGas,
eth_getBlockByNumber, eth_getBlockByHash, eth_sendRawTransaction, eth_getTransactionReceipt,
eth_getTransactionByHash, eth_call, eth_getLogs, eth_newFilter, eth_newBlockFilter,
eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter, eth_feeHistory.
"""

import json
import os
import sys
import traceback
from pathlib import Path

try:
    from eth_account import Account
    from web3 import Web3
except ImportError as e:  # pragma: no cover - reported as a failed check
    print(f"FAIL setup: {e} (run ./test.sh, or pip install web3 eth-account)")
    sys.exit(1)

HERE = Path(__file__).resolve().parent
ARTIFACT = Path(
    os.environ.get("TOKEN_ARTIFACT", HERE / "../../../../contracts/artifacts/Token.json")
)
OTHER = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


class Checks:
    def __init__(self):
        self.failed = False
        self.results = {}

    def run(self, name, fn, *needs):
        """Runs check `name`; it fails at once if a check it needs failed."""
        missing = [n for n in needs if self.results.get(n) is None]
        if missing:
            self.fail(name, f"skipped: {', '.join(missing)} failed")
            return None
        try:
            result = fn()
        except Exception as e:  # any failure of the client or the node is a failed check
            detail = f"{type(e).__name__}: {e}".replace("\n", " ")[:400]
            if os.environ.get("CHECK_TRACE"):
                traceback.print_exc()
            self.fail(name, detail)
            return None
        self.results[name] = result if result is not None else True
        print(f"ok {name}", flush=True)
        return result

    def fail(self, name, why):
        self.failed = True
        print(f"FAIL {name}: {why}", flush=True)


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def main():
    args = sys.argv[1:]
    url = args[0] if args else os.environ.get("RPC_URL")
    key = args[1] if len(args) > 1 else os.environ.get("PRIVATE_KEY")
    if not url or not key:
        print("usage: web3_check.py RPC_URL PRIVATE_KEY (or set RPC_URL and PRIVATE_KEY)")
        return 2
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    acct = Account.from_key(key)
    me = acct.address
    artifact = json.loads(ARTIFACT.read_text())
    c = Checks()
    state = {}

    def sign_send_wait(tx):
        signed = acct.sign_transaction(tx)
        h = w3.eth.send_raw_transaction(signed.raw_transaction)
        expect(h == signed.hash, f"the node answered hash {h.hex()}, not {signed.hash.hex()}")
        r = w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.2)
        expect(r["status"] == 1, f"status {r['status']}")
        expect(r["transactionHash"] == h, "the receipt's transactionHash")
        return r

    def chain_id():
        cid = w3.eth.chain_id
        expect(cid > 0, f"chain id {cid}")
        state["chain_id"] = cid
        return cid

    c.run("chain-id", chain_id)

    def block_number():
        n = w3.eth.block_number
        expect(n >= 0, f"height {n}")
        return n

    c.run("block-number", block_number)

    def balance():
        b = w3.eth.get_balance(me)
        expect(b > 10**18, f"the account holds {b} wei: fund it with at least 1 ETH")
        return b

    c.run("balance", balance)

    def gas_price():
        p = w3.eth.gas_price
        tip = w3.eth.max_priority_fee
        expect(p > 0, f"gas price {p}")
        expect(tip >= 0, f"priority fee {tip}")
        return p

    c.run("gas-price", gas_price)

    def send_value():
        # A value transfer built by hand the way scripts do it: fees from the latest block's
        # base fee and the node's suggested tip, the gas estimated.
        base = w3.eth.get_block("latest")["baseFeePerGas"]
        tip = w3.eth.max_priority_fee
        tx = {
            "type": 2,
            "chainId": state["chain_id"],
            "nonce": w3.eth.get_transaction_count(me, "pending"),
            "to": OTHER,
            "value": 4321,
            "maxPriorityFeePerGas": tip,
            "maxFeePerGas": 2 * base + tip,
        }
        tx["gas"] = w3.eth.estimate_gas({"from": me, "to": OTHER, "value": 4321})
        before = w3.eth.get_balance(OTHER)
        r = sign_send_wait(tx)
        after = w3.eth.get_balance(OTHER)
        expect(after - before == 4321, f"the receiver got {after - before}, not 4321")
        expect(r["gasUsed"] == 21000, f"gasUsed {r['gasUsed']}")
        state["value_tx"] = r["transactionHash"]
        return r

    c.run("send-value", send_value, "chain-id")

    def get_transaction():
        t = w3.eth.get_transaction(state["value_tx"])
        expect(t["hash"] == state["value_tx"], "hash")
        expect(t["from"] == me and t["to"] == OTHER and t["value"] == 4321, f"{dict(t)}")
        expect(t["blockNumber"] is not None, "not in a block")
        return t

    c.run("get-transaction", get_transaction, "send-value")

    token_factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])

    def deploy():
        tx = token_factory.constructor("Web3 Check", "WCK", 10**6, me).build_transaction(
            {"from": me, "nonce": w3.eth.get_transaction_count(me, "pending")}
        )
        r = sign_send_wait(tx)
        expect(r["contractAddress"], "no contractAddress in the receipt")
        expect(len(w3.eth.get_code(r["contractAddress"])) > 100, "no code at the address")
        state["token"] = w3.eth.contract(address=r["contractAddress"], abi=artifact["abi"])
        state["deploy_block"] = r["blockNumber"]
        return r["contractAddress"]

    c.run("deploy", deploy, "chain-id")

    def call():
        t = state["token"]
        expect(t.functions.name().call() == "Web3 Check", "name()")
        expect(t.functions.symbol().call() == "WCK", "symbol()")
        expect(t.functions.decimals().call() == 18, "decimals()")
        got = t.functions.balanceOf(me).call()
        expect(got == 10**6, f"balanceOf(me) = {got}")
        return got

    c.run("call", call, "deploy")

    def filters():
        t = state["token"]
        state["event_filter"] = t.events.Transfer.create_filter(from_block="latest")
        state["block_filter"] = w3.eth.filter("latest")
        # Nothing new yet for a fresh filter (or only the block that was already pending).
        expect(isinstance(state["event_filter"].get_new_entries(), list), "event filter")
        return True

    c.run("create-filter", filters, "deploy")

    def transact():
        t = state["token"]
        tx = t.functions.transfer(OTHER, 55).build_transaction(
            {"from": me, "nonce": w3.eth.get_transaction_count(me, "pending")}
        )
        expect("maxFeePerGas" in tx and "gas" in tx, f"build_transaction gave {tx}")
        r = sign_send_wait(tx)
        events = t.events.Transfer().process_receipt(r)
        expect(len(events) == 1, f"{len(events)} Transfer events in the receipt")
        ev = events[0]["args"]
        expect(ev["from"] == me and ev["to"] == OTHER and ev["value"] == 55, f"{dict(ev)}")
        expect(t.functions.balanceOf(OTHER).call() == 55, "balanceOf(receiver)")
        state["transfer_receipt"] = r
        return r

    c.run("transact", transact, "deploy")

    def event_filter_entries():
        entries = state["event_filter"].get_new_entries()
        mine = [e for e in entries if e["transactionHash"] == state["transfer_receipt"]["transactionHash"]]
        expect(len(mine) == 1, f"{len(entries)} new entries, {len(mine)} of the transfer")
        expect(mine[0]["args"]["value"] == 55, f"{dict(mine[0]['args'])}")
        expect(state["event_filter"].get_new_entries() == [], "entries seen twice")
        every = state["event_filter"].get_all_entries()
        expect(
            any(e["transactionHash"] == state["transfer_receipt"]["transactionHash"] for e in every),
            f"get_all_entries: {len(every)} entries without the transfer",
        )
        return True

    c.run("event-filter", event_filter_entries, "create-filter", "transact")

    def block_filter():
        hashes = state["block_filter"].get_new_entries()
        block = w3.eth.get_block(state["transfer_receipt"]["blockHash"])
        expect(block["hash"] in hashes, f"the transfer's block is not among {len(hashes)} new blocks")
        return True

    c.run("block-filter", block_filter, "create-filter", "transact")

    def uninstall():
        expect(w3.eth.uninstall_filter(state["event_filter"].filter_id), "event filter")
        expect(w3.eth.uninstall_filter(state["block_filter"].filter_id), "block filter")
        return True

    c.run("uninstall-filter", uninstall, "create-filter")

    def get_logs():
        t = state["token"]
        logs = w3.eth.get_logs(
            {"fromBlock": state["deploy_block"], "toBlock": "latest", "address": t.address}
        )
        expect(len(logs) == 2, f"{len(logs)} logs, want 2 (the mint and the transfer)")
        expect(all(log["topics"][0].hex().removeprefix("0x") == TRANSFER_TOPIC[2:] for log in logs), "topic 0")
        by_topic = w3.eth.get_logs(
            {
                "fromBlock": state["deploy_block"],
                "toBlock": "latest",
                "topics": [TRANSFER_TOPIC, None, "0x" + "00" * 12 + OTHER[2:].lower()],
            }
        )
        expect(
            [log["transactionHash"] for log in by_topic if log["address"] == t.address]
            == [state["transfer_receipt"]["transactionHash"]],
            f"topic filter on the receiver: {len(by_topic)} logs",
        )
        decoded = t.events.Transfer.get_logs(from_block=state["deploy_block"])
        expect([e["args"]["value"] for e in decoded] == [10**6, 55], "decoded values")
        return True

    c.run("get-logs", get_logs, "transact")

    def get_block():
        latest = w3.eth.get_block("latest")
        for f in ("number", "hash", "parentHash", "timestamp", "baseFeePerGas", "gasLimit", "transactions"):
            expect(f in latest, f"no {f} in the latest block")
        r = state["transfer_receipt"]
        full = w3.eth.get_block(r["blockNumber"], full_transactions=True)
        expect(full["hash"] == r["blockHash"], "the receipt's blockHash")
        expect(
            any(tx["hash"] == r["transactionHash"] for tx in full["transactions"]),
            "the transfer is not in its block",
        )
        by_hash = w3.eth.get_block(r["blockHash"])
        expect(by_hash["number"] == r["blockNumber"], "block by hash")
        parent = w3.eth.get_block(r["blockNumber"] - 1)
        expect(full["parentHash"] == parent["hash"], "parentHash")
        return True

    c.run("get-block", get_block, "transact")

    def fee_history():
        h = w3.eth.fee_history(4, "latest", [25, 75])
        n = len(h["gasUsedRatio"])
        expect(1 <= n <= 4, f"{n} blocks")
        expect(len(h["baseFeePerGas"]) == n + 1, "baseFeePerGas: one more than the blocks")
        expect(len(h["reward"]) == n and all(len(r) == 2 for r in h["reward"]), "reward")
        expect(h["oldestBlock"] >= 0, "oldestBlock")
        return True

    c.run("fee-history", fee_history)

    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
