//! Running one case: the pre-state as a validator's genesis, each block's transactions
//! turned into moves by `mf_movegen::execute` (the wallet side), the block as one batch
//! applied in strict mode by a real [`Validator`] on LMDB with re-execution, and the
//! validator's live state read back and compared with Ethereum's post-state.
//!
//! The one step of the validator's pipeline this does not run is the authorisation check:
//! the cases' transactions are signed with secp256k1 Ethereum keys, which the protocol
//! cannot carry yet, so the runner takes the signer the file names (or recovers it from the
//! raw envelope) and runs the stateless stage's other checks itself: the structural
//! checks (all of them but the authorisation), the re-execution check against only the
//! declared values, and the critical-path preparation, before handing the batch to
//! [`Validator::submit_prepared`], which runs the context window, the double-use check and
//! the commit exactly as for any batch.

use crate::case::{AccountState, Block, Case, EthTx};
use crate::compare::first_difference;
use crate::features::{
    FILLER, Feature, GAS_POOL_EXCEPTIONS, HEADER_EXCEPTIONS, SYSTEM_CONTRACTS, detect, rules_of,
};
use crate::verdict::Verdict;
use alloy_primitives::Bytes;
use alloy_primitives::U256;
use alloy_primitives::hex;
use mf_format::{
    AccessItem, Batch, Call, ChainRules, ExecContext, Fee, FeeKind, Fork, GENESIS_INTX, Key,
    Reason, Transaction, TxBody, TxId, check_structure, header_hash, tx_id,
};
use mf_movegen::genesis::Genesis;
use mf_movegen::{MemoryView, Reexec, ReexecCheck, StateView, execute_under};
use mf_validator::prepare::prepare_ops;
use mf_validator::{ApplyError, Mode, StoreCode, Validator};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// The chain id of the ethereum/tests blockchain tests (mainnet's).
pub const CHAIN_ID: u64 = 1;

/// The genesis file (geth's `alloc` shape) of a pre-state, read by the protocol's own
/// genesis parser so that its rules apply.
fn genesis_of(
    pre: &BTreeMap<alloy_primitives::Address, AccountState>,
    rules: &ChainRules,
) -> Result<Genesis, String> {
    let mut alloc = serde_json::Map::new();
    for (addr, a) in pre {
        let storage: serde_json::Map<String, serde_json::Value> = a
            .storage
            .iter()
            .map(|(k, w)| (format!("{k:#x}"), format!("{w:#x}").into()))
            .collect();
        alloc.insert(
            format!("{addr:#x}"),
            serde_json::json!({
                "balance": format!("{:#x}", a.balance),
                "nonce": format!("{:#x}", a.nonce),
                "code": format!("0x{}", hex::encode(&a.code)),
                "storage": storage,
            }),
        );
    }
    let mut config = serde_json::Map::new();
    config.insert("chainId".into(), CHAIN_ID.into());
    for (k, v) in mf_movegen::genesis::rules_json(rules) {
        config.insert(k.into(), v.into());
    }
    let mut file = serde_json::Map::new();
    file.insert("config".into(), config.into());
    for (k, v) in mf_movegen::genesis::rules_top_level(rules) {
        file.insert(k.into(), v);
    }
    file.insert("alloc".into(), alloc.into());
    let file = serde_json::Value::from(file);
    Genesis::parse(&file.to_string()).map_err(|e| e.to_string())
}

/// Why the protocol refused a block, in words: a validator's reason code where there is
/// one, else what stopped the wallet side from building the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// A short name to group refusals by (a reason code's name, or a movegen failure kind).
    pub kind: String,
    /// The full message.
    pub detail: String,
}

impl Refusal {
    fn reason(r: Reason) -> Refusal {
        Refusal {
            kind: r.name().to_string(),
            detail: r.to_string(),
        }
    }

    fn other(kind: &str, detail: impl std::fmt::Display) -> Refusal {
        Refusal {
            kind: kind.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// What running a case showed that a differing result may depend on: values the protocol
/// defines otherwise than Ethereum, so that such a case is named, not failed.
#[derive(Default)]
struct Seen {
    /// Execution read a block hash (this chain's own header hashes).
    block_hash: AtomicBool,
    /// Execution read the storage of a system contract (written on Ethereum by block-level
    /// system calls, which are not modelled).
    system_storage: AtomicBool,
    /// A transaction destroyed a contract that existed before it (pre-Cancun storage wipe).
    destroyed_code: AtomicBool,
}

/// The runner's view of the state so far, noting what execution read ([`Seen`]).
struct Probe<'a> {
    view: &'a MemoryView,
    seen: &'a Seen,
}

impl StateView for Probe<'_> {
    type Error = std::convert::Infallible;
    fn version(&self, key: &Key) -> Result<Option<(TxId, mf_format::Value)>, Self::Error> {
        if key.mark == mf_format::Mark::Storage && SYSTEM_CONTRACTS.contains(&key.addr) {
            self.seen.system_storage.store(true, Ordering::Relaxed);
        }
        self.view.version(key)
    }
    fn code(&self, hash: &mf_format::B256) -> Result<Option<Bytes>, Self::Error> {
        self.view.code(hash)
    }
    fn block_hash(&self, number: u64) -> Result<Option<mf_format::B256>, Self::Error> {
        self.seen.block_hash.store(true, Ordering::Relaxed);
        self.view.block_hash(number)
    }
}

/// The protocol transaction of an Ethereum one: its call, moves and created code from
/// `execute_under` the chain's rules against `view` (a call that reverts or halts is
/// included as failed, as on Ethereum), with the transaction's fee fields and access list.
/// Its nonce must be the sender's, as an Ethereum authorisation's must (`eth_nonce_mismatch`,
/// PROTOCOL.md §5.5); the sender's declared account version is what binds it once.
fn build(
    view: &Probe<'_>,
    rules: &ChainRules,
    tx: &EthTx,
    block: &Block,
) -> Result<Transaction, Refusal> {
    let gas_limit = u64::try_from(tx.gas_limit)
        .map_err(|_| Refusal::other("gas_limit_overflow", "gas limit above 2^64 - 1"))?;
    if gas_limit > rules.gas_limit {
        // The validator refuses it right after the structural checks; execution would too.
        return Err(Refusal::reason(Reason::GasLimitTooHigh));
    }
    let account = view
        .version(&Key::account(tx.sender))
        .ok()
        .flatten()
        .map_or(0, |(_, v)| v.nonce().unwrap_or(0));
    if tx.nonce != U256::from(account) {
        return Err(Refusal::reason(Reason::EthNonceMismatch));
    }
    let chain_id = match tx.chain_id {
        None => CHAIN_ID,
        Some(c) => u64::try_from(c)
            .map_err(|_| Refusal::other("chain_id_overflow", "chain id above 2^64 - 1"))?,
    };
    let price = |v: Option<U256>, what: &str| -> Result<u128, Refusal> {
        u128::try_from(v.unwrap_or_default())
            .map_err(|_| Refusal::other("fee_overflow", format!("{what} above 2^128 - 1")))
    };
    let fee = match tx.ty {
        0 | 1 => {
            let p = price(tx.gas_price, "gas price")?;
            Fee {
                kind: if tx.ty == 0 {
                    FeeKind::Legacy
                } else {
                    FeeKind::AccessList
                },
                max_fee_per_gas: p,
                max_priority_fee_per_gas: p,
            }
        }
        ty => {
            let mut fee = Fee::dynamic(
                price(tx.max_fee_per_gas, "max fee per gas")?,
                price(tx.max_priority_fee_per_gas, "max priority fee per gas")?,
            );
            if ty == 3 {
                fee.kind = FeeKind::Blob;
            }
            fee
        }
    };
    // A blob transaction's blob fields (EIP-4844): the protocol's blob call (PROTOCOL.md
    // §2.2); its checks (no hash, too many, a cap below the blob base fee) are the
    // protocol's.
    let blob = if tx.ty == 3 {
        Some(mf_format::Blobs {
            max_fee_per_blob_gas: price(tx.max_fee_per_blob_gas, "max fee per blob gas")?,
            versioned_hashes: tx.blob_hashes.clone(),
        })
    } else {
        None
    };
    let call = Call {
        from: tx.sender,
        to: tx.to,
        value: tx.value,
        input: tx.data.clone(),
        gas_limit,
        fee,
        access_list: tx
            .access_list
            .iter()
            .map(|(address, keys)| AccessItem {
                address: *address,
                storage_keys: keys.clone(),
            })
            .collect(),
        blob,
    };
    let context = ExecContext {
        block_number: block.number.unwrap_or_default(),
        timestamp: block.timestamp,
    };
    let exec = execute_under(view, chain_id, rules, &call, &context, true).map_err(|e| {
        let kind = match &e {
            mf_movegen::MovegenError::Execution(mf_movegen::Failure::Revert { .. }) => {
                "execution_reverted"
            }
            mf_movegen::MovegenError::Execution(mf_movegen::Failure::Halt(_)) => "execution_halted",
            mf_movegen::MovegenError::Execution(mf_movegen::Failure::Invalid(_)) => {
                "transaction_invalid"
            }
            mf_movegen::MovegenError::Execution(mf_movegen::Failure::FeeCapBelowBaseFee) => {
                Reason::FeeCapBelowBaseFee.name()
            }
            mf_movegen::MovegenError::Execution(mf_movegen::Failure::InsufficientFunds(_)) => {
                Reason::InsufficientFunds.name()
            }
            mf_movegen::MovegenError::Execution(mf_movegen::Failure::TooManyBlobs(_)) => {
                Reason::TooManyBlobs.name()
            }
            mf_movegen::MovegenError::Execution(
                mf_movegen::Failure::BlobFeeCapBelowBlobBaseFee(_),
            ) => Reason::BlobFeeCapBelowBlobBaseFee.name(),
            _ => "movegen_error",
        };
        Refusal::other(kind, e)
    })?;
    let mut body = TxBody {
        chain_id,
        call,
        context,
        open: false,
        moves: exec.moves,
        created_code: exec.created_code,
    };
    body.canonicalize();
    Ok(Transaction {
        eth: None,
        body,
        auths: Vec::new(),
    })
}

/// The runner's no-op for an empty block: [`FILLER`] sends nothing to itself, at the base
/// fee (so the beneficiary earns nothing), with its current nonce. `None` when the chain
/// has no filler (a case without an empty block followed by more).
fn filler_tx(view: &MemoryView, rules: &ChainRules) -> Option<EthTx> {
    let (_, value) = view.version(&Key::account(FILLER)).ok().flatten()?;
    let nonce = value.nonce()?;
    Some(EthTx {
        ty: 0,
        sender: FILLER,
        to: Some(FILLER),
        value: U256::ZERO,
        data: Vec::new(),
        gas_limit: U256::from(21_000u64),
        nonce: U256::from(nonce),
        chain_id: None,
        access_list: Vec::new(),
        gas_price: Some(U256::from(rules.base_fee)),
        max_fee_per_gas: None,
        max_priority_fee_per_gas: None,
        max_fee_per_blob_gas: None,
        blob_hashes: Vec::new(),
    })
}

/// Applies one block as a batch. `Ok` when the validator accepted it (the mirror and the
/// writers then hold its effects), `Err` with the refusal otherwise (nothing changed).
fn apply_block(
    v: &mut Validator,
    mirror: &mut MemoryView,
    writers: &mut BTreeMap<Key, TxId>,
    block: &Block,
    seen: &Seen,
) -> Result<(), Refusal> {
    let number = block
        .number
        .ok_or_else(|| Refusal::other("undecodable_block", "the block does not decode"))?;
    if let Some(e) = &block.bad_withdrawal {
        return Err(Refusal::other("undecodable_withdrawal", e));
    }
    let filler;
    let eth_txs = if block.txs.is_empty() {
        // A batch holds at least one transaction. A valid empty block followed by more
        // becomes a batch of the runner's no-op ([`FILLER`], funded at genesis for such
        // cases), so that heights keep following block numbers; a valid empty last block
        // changes nothing and writes no batch.
        if block.expect_exception.is_some() {
            return Err(Refusal::other("empty_block", "a batch has no transaction"));
        }
        match filler_tx(mirror, v.rules()) {
            Some(t) => {
                filler = [Ok(t)];
                &filler[..]
            }
            None => return Ok(()),
        }
    } else {
        &block.txs[..]
    };
    if number != v.head().height + 1 {
        return Err(Refusal::other(
            "block_number",
            format!(
                "block number {number} does not follow height {}",
                v.head().height
            ),
        ));
    }
    // BLOCKHASH reads this chain's own headers (PROTOCOL.md §6.3): the parent's hash joins
    // those of the blocks before it.
    let parent = v.head();
    mirror.set_block_hash(parent.height, header_hash(parent));
    let mut local = mirror.clone();
    let mut txs = Vec::with_capacity(eth_txs.len());
    for tx in eth_txs {
        let tx = tx
            .as_ref()
            .map_err(|e| Refusal::other("undecodable_transaction", e))?;
        let probe = Probe { view: &local, seen };
        let t = build(&probe, v.rules(), tx, block)?;
        match check_structure(&t, t.body.chain_id) {
            // The authorisation is the last structural check: the runner stands in for it.
            Ok(()) | Err(Reason::NoAuthorization) => {}
            Err(r) => return Err(Refusal::reason(r)),
        }
        if t.body.chain_id != v.chain_id() {
            return Err(Refusal::reason(Reason::WrongChainId));
        }
        local
            .apply(&t.body)
            .map_err(|e| Refusal::other("movegen_error", e))?;
        txs.push(t);
    }
    let batch = Batch { txs };
    // The validator's own code lookup: its store (the genesis code, the code of the blocks
    // applied so far) and the code this batch creates.
    let lookup = StoreCode::new(v.store(), &batch, number, v.rules());
    let reexec = ReexecCheck::new(v.rules().clone());
    let mut prepared = Vec::with_capacity(batch.txs.len());
    for t in &batch.txs {
        let id = tx_id(&t.body);
        let exec = reexec.reexec(t, &id, &lookup).map_err(Refusal::reason)?;
        prepared.push(prepare_ops(t, id, exec));
    }
    let ms = block.timestamp.saturating_mul(1000);
    v.set_clock(move || ms);
    let outcome = v
        .submit_prepared(&batch, &prepared, Mode::Strict, 0.0)
        .and_then(|p| p.wait());
    match outcome {
        Ok(o) if o.header.is_some() => {}
        Ok(_) => {
            return Err(Refusal::other(
                "nothing_accepted",
                "no transaction accepted",
            ));
        }
        Err(ApplyError::Strict { reason, .. }) => return Err(Refusal::reason(reason)),
        Err(e) => return Err(Refusal::other("validator_error", e)),
    }
    // The batch as the validator stored it: the block's transactions and, when the block
    // paid the beneficiary, the validator's fee credit after them (PROTOCOL.md §6.4.6).
    let stored = v
        .store()
        .batch_bytes(v.head().height)
        .ok()
        .flatten()
        .and_then(|b| mf_format::decode_batch(&b).ok())
        .ok_or_else(|| Refusal::other("validator_error", "the stored batch cannot be read"))?;
    for t in &stored.txs {
        if mf_format::is_fee_credit(t) {
            local
                .apply(&t.body)
                .map_err(|e| Refusal::other("movegen_error", e))?;
        }
        let id = tx_id(&t.body);
        for m in &t.body.moves {
            if m.kind == mf_format::MoveKind::Consume {
                writers.insert(m.key(), id);
            }
            // A contract that existed before the transaction destroyed (before Cancun):
            // Ethereum wipes all its storage, the moves only the slots they name.
            if let (mf_format::Value::Account(p), mf_format::Value::Account(n)) = (m.prev, m.next)
                && p.has_code()
                && n == mf_format::Account::EMPTY
            {
                seen.destroyed_code.store(true, Ordering::Relaxed);
            }
        }
    }
    *mirror = local;
    Ok(())
}

/// Runs one case (see the module documentation).
pub fn run_case(case: &Case) -> Verdict {
    if let Some(f) = detect(case) {
        return Verdict::Skipped(f);
    }
    match run_detected(case) {
        Ok(v) => v,
        Err(e) => Verdict::Error(e),
    }
}

fn run_detected(case: &Case) -> Result<Verdict, String> {
    let rules = rules_of(case).ok_or("no fork schedule for the network")?;
    // A valid empty block followed by more needs the runner's filler (see [`filler_tx`]).
    let needs_filler = case.blocks.iter().enumerate().any(|(i, b)| {
        b.txs.is_empty() && b.expect_exception.is_none() && i + 1 < case.blocks.len()
    });
    let mut pre = case.pre.clone();
    if needs_filler {
        pre.insert(
            FILLER,
            AccountState {
                balance: U256::from(10u64).pow(U256::from(30u64)),
                ..AccountState::default()
            },
        );
    }
    let genesis = genesis_of(&pre, &rules).map_err(|e| format!("genesis refused: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mut v = Validator::init(&dir.path().join("data"), &genesis)
        .map_err(|e| format!("validator init: {e}"))?;
    let mut mirror = MemoryView::from_genesis(
        genesis.versions.iter().copied(),
        genesis.code.iter().map(|(_, c)| c.clone()),
    );
    let mut writers: BTreeMap<Key, TxId> = BTreeMap::new();
    let seen = Seen::default();
    let verdict = run_blocks(case, &mut v, &mut mirror, &mut writers, &seen)?;
    // This chain's block hashes are its own header hashes, not Ethereum's: a case whose
    // result differs after reading one depends on a value the protocol defines otherwise.
    // A block Ethereum refuses for what a batch does not have (its Ethereum header, its gas
    // pool), accepted here: named, by the exception Ethereum raises.
    if let Verdict::AcceptedInvalid { exception, .. } = &verdict {
        let names = |list: &[&str]| list.iter().any(|n| exception.contains(n));
        if names(&HEADER_EXCEPTIONS) {
            return Ok(Verdict::Skipped(Feature::EthereumHeader));
        }
        if names(&GAS_POOL_EXCEPTIONS) {
            return Ok(Verdict::Skipped(Feature::BlockGasPool));
        }
    }
    let differs = !matches!(verdict, Verdict::Matched { .. });
    if seen.block_hash.load(Ordering::Relaxed) && differs {
        return Ok(Verdict::Skipped(Feature::BlockHashValue));
    }
    // Likewise a case whose result differs after a contract was destroyed: the slots its
    // moves did not name keep their values here (PROTOCOL.md §6.3).
    if seen.destroyed_code.load(Ordering::Relaxed) && differs {
        return Ok(Verdict::Skipped(Feature::SelfdestructStorage));
    }
    // And one whose result differs although the withdrawals' credits were taken out of the
    // expected balances (its transactions read a balance a withdrawal had raised).
    if case.blocks.iter().any(|b| !b.withdrawals.is_empty()) && differs {
        return Ok(Verdict::Skipped(Feature::Withdrawals));
    }
    // And one whose result differs after reading what a block-level system call writes.
    if seen.system_storage.load(Ordering::Relaxed) && differs {
        return Ok(Verdict::Skipped(Feature::SystemCallState));
    }
    Ok(verdict)
}

fn run_blocks(
    case: &Case,
    v: &mut Validator,
    mirror: &mut MemoryView,
    writers: &mut BTreeMap<Key, TxId>,
    seen: &Seen,
) -> Result<Verdict, String> {
    for (i, block) in case.blocks.iter().enumerate() {
        let applied = apply_block(v, mirror, writers, block, seen);
        match (applied, &block.expect_exception) {
            (Ok(()), None) => {}
            (Err(_), Some(_)) => {}
            (Ok(()), Some(exception)) => {
                return Ok(Verdict::AcceptedInvalid {
                    block: i,
                    exception: exception.clone(),
                });
            }
            (Err(refusal), None) => return Ok(Verdict::Refused { block: i, refusal }),
        }
    }
    let Some(post) = &case.post else {
        return Err("no post-state".into());
    };
    let read = |key: &Key| -> Result<mf_format::Value, String> {
        let intx = writers.get(key).copied().unwrap_or(GENESIS_INTX);
        match v.version(&intx, key) {
            Ok(mf_validator::VersionState::Live(x))
            | Ok(mf_validator::VersionState::NeverWritten(x)) => Ok(x),
            Ok(mf_validator::VersionState::NotLive) => Err(format!(
                "the validator holds no live version of {key:?} where the moves left one"
            )),
            Err(e) => Err(format!("validator lookup: {e}")),
        }
    };
    let slots_written: Vec<Key> = writers.keys().copied().collect();
    let post = without_block_effects(case, v.rules(), post);
    match first_difference(&case.pre, &post, &slots_written, read)? {
        None => Ok(Verdict::Matched {
            refused_as_expected: case.blocks.iter().any(|b| b.expect_exception.is_some()),
        }),
        Some(diff) => Ok(Verdict::Differs(diff)),
    }
}

/// The proof-of-work block reward of a block under `fork` (Frontier 5 ETH, Byzantium 3 ETH
/// (EIP-649), Constantinople 2 ETH (EIP-1234), none from Paris on (EIP-3675)).
pub fn block_reward(fork: Fork) -> U256 {
    let eth = U256::from(10u64).pow(U256::from(18u64));
    if fork >= Fork::Paris {
        U256::ZERO
    } else if fork >= Fork::Constantinople {
        U256::from(2u64) * eth
    } else if fork >= Fork::Byzantium {
        U256::from(3u64) * eth
    } else {
        U256::from(5u64) * eth
    }
}

/// `post` less what Ethereum credits at the level of a block, which has no counterpart in a
/// batch: every valid block before Paris pays its coinbase [`block_reward`] (there is no
/// proof of work), and from Shanghai a block's withdrawals credit their recipients (there
/// is no beacon chain). Each is taken out of the expected balance it went to, and the rest is
/// compared as it is; a case whose transactions read such a balance still differs, and is
/// then named ([`Feature::Withdrawals`]). Blocks with uncles are skipped before this
/// ([`Feature::Uncles`]).
fn without_block_effects(
    case: &Case,
    rules: &ChainRules,
    post: &BTreeMap<alloy_primitives::Address, AccountState>,
) -> BTreeMap<alloy_primitives::Address, AccountState> {
    let mut post = post.clone();
    for (i, block) in case.blocks.iter().enumerate() {
        if block.expect_exception.is_some() {
            continue;
        }
        let number = block.number.unwrap_or(i as u64 + 1);
        let reward = block_reward(rules.fork_at(number, block.timestamp));
        let coinbase = block.env.coinbase.unwrap_or(rules.beneficiary);
        let credits = std::iter::once((coinbase, reward)).chain(block.withdrawals.iter().copied());
        for (to, wei) in credits {
            // An expected balance below the credit is left as it is: the comparison
            // reports it.
            if let Some(account) = post.get_mut(&to)
                && let Some(rest) = account.balance.checked_sub(wei)
            {
                account.balance = rest;
            }
        }
    }
    post
}
