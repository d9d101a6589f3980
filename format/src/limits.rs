//! Size limits on everything a stranger controls. Decoding checks each announced length
//! against these before allocating; anything larger is refused with
//! [`crate::Reason::LimitExceeded`].

/// Largest encoded batch accepted, in bytes (64 MiB).
pub const MAX_BATCH_BYTES: usize = 64 << 20;
/// Largest encoded transaction accepted, in bytes (8 MiB: [`MAX_MOVES_PER_TX`] account
/// moves take 3.8 MB).
pub const MAX_TX_BYTES: usize = 8 << 20;
/// Most transactions in one batch.
pub const MAX_TXS_PER_BATCH: usize = 1 << 17;
/// Most moves in one transaction: a key a transaction touches costs at least 2,100 gas from
/// Berlin on (a cold access), so a 30M-gas transaction touches at most about 14,300 keys.
/// Real traffic needs more than the earlier 1,024: mainnet block 15,537,393's one
/// transaction touches 1,321.
pub const MAX_MOVES_PER_TX: usize = 16_384;
/// Largest call input (calldata or init code), in bytes (EIP-3860's init-code cap, 48 KiB,
/// doubled so that calldata-heavy calls fit).
pub const MAX_INPUT_BYTES: usize = 256 * 1024;
/// Largest runtime code of one created contract (EIP-170).
pub const MAX_CODE_BYTES: usize = 24_576;
/// Most contracts a transaction may create.
pub const MAX_CREATED_CODES: usize = 16;
/// Most bytes of an Ethereum authorisation's envelope (the signed Ethereum transaction,
/// which repeats the call's input and access list): the largest input and 64 KiB for the
/// other fields and the access list.
pub const MAX_ETH_ENVELOPE_BYTES: usize = MAX_INPUT_BYTES + 64 * 1024;
/// Most authorisations (signers) on one transaction.
pub const MAX_AUTHS: usize = 16;
/// Most entries (addresses) in a call's access list.
pub const MAX_ACCESS_LIST_ITEMS: usize = 1024;
/// Most storage keys under one access-list entry.
pub const MAX_ACCESS_LIST_KEYS: usize = 1024;
/// Most versioned hashes of a blob call on the wire: Prague's limit (EIP-7691: 9 blobs a
/// block, so at most 9 in one transaction), the most any fork this protocol runs allows.
/// The fork in force may allow fewer ([`crate::Fork::max_blobs_per_tx`]: 6 under Cancun),
/// which execution checks (`too_many_blobs`).
pub const MAX_BLOB_HASHES: usize = 9;
/// Blob gas per blob (EIP-4844 `GAS_PER_BLOB`, 2^17).
pub const GAS_PER_BLOB: u64 = 1 << 17;
/// The gas limit of a chain whose genesis names none, and of the default rules.
pub const MAX_GAS_LIMIT: u64 = 30_000_000;
/// The batch gas limit of a chain whose genesis names no `batchGasLimit`: the gas limits of
/// a batch's executed transactions sum to at most this (PROTOCOL.md §6.4.3 step 0). 10^10
/// gas is 333 blocks of 30M, 476,190 transfers; it bounds the re-execution work of one
/// batch before any of it starts.
pub const DEFAULT_BATCH_GAS_LIMIT: u64 = 10_000_000_000;
/// Most logs in one receipt (30M gas buys at most 80,000 LOG0s).
pub const MAX_LOGS: usize = 1 << 17;
/// Most topics in one log (LOG4).
pub const MAX_LOG_TOPICS: usize = 4;
/// Largest data of one log, in bytes (memory expansion caps it near 4 MiB at 30M gas).
pub const MAX_LOG_DATA: usize = 4 << 20;
/// Largest encoded receipt list (64 MiB, the decoder's byte budget): 131,072 receipts with
/// an ERC20 transfer log each take about 28 MB.
pub const MAX_AUX_BYTES: usize = 64 << 20;
/// The receipt budget of a batch (PROTOCOL.md §3, §6.4.3; the rule is
/// [`crate::ReceiptBudget`]): the encoded receipts of its accepted transactions take at most
/// 16 MiB; a transaction past it is `batch_receipts_full` (85). Sized so that every reader
/// accepts what a batch produces, with at most 131,072 receipts of which the rejected ones
/// take 50 bytes each:
///
/// - the stored receipt list and the feed's receipts part ([`MAX_AUX_BYTES`]): at most
///   8 + 16 MiB + 50 × 131,072 = 23,330,824 bytes;
/// - the JSON of `POST /batch` and `GET /receipts/{h}` (clients read at most 64 MiB,
///   `mf_api::MAX_JSON_ANSWER_BYTES`): a log renders in at most 82/36 characters per encoded
///   byte (hex doubles data and topics; 82 for an empty LOG0 of 36 bytes), a receipt's
///   fixed part in at most 172, so at most 512 + 172 × 131,072 + 82/36 × 16 MiB =
///   60,759,666 characters.
///
/// Honest traffic is far below it: an ERC20 transfer's receipt is 214 bytes (78,398 per
/// batch), a plain transfer's 50.
pub const MAX_BATCH_RECEIPT_BYTES: usize = 16 << 20;
/// The receipt cap of one transaction (4 MiB, a quarter of [`MAX_BATCH_RECEIPT_BYTES`], so
/// one transaction alone always fits a batch): longer is `receipt_too_large` (66), decided
/// after re-execution. At 30M gas a receipt cannot reach it (log data costs 8 gas a byte, so
/// at most about 3.75 MB); the cap keeps the budget independent of the gas limit.
pub const MAX_TX_RECEIPT_BYTES: usize = 4 << 20;
/// Largest encoded header (its fixed size is 144 bytes).
pub const MAX_HEADER_BYTES: usize = 1024;

/// The context window, in blocks (PROTOCOL.md §6.3.1): a transaction applied at height `H`
/// must declare `context.block_number` in `[H - 256, H]` (saturating at 0), else
/// `context_out_of_window` (65).
pub const CONTEXT_WINDOW_BLOCKS: u64 = 256;
/// The drift allowed between `context.timestamp` and the header times around the declared
/// block, in seconds (PROTOCOL.md §6.3.1): with `time(n)` the header time of height `n` (and
/// of the applying batch for `n = H`), a context `(b, t)` needs
/// `time(b - 1) - 15 <= t <= time(b) + 15`, else `context_out_of_window` (65).
pub const CONTEXT_MAX_DRIFT_S: u64 = 15;
