//! Reason codes: why a transaction or a batch was refused. The numbers are part of the
//! protocol and never change meaning; new reasons get new numbers.

use std::fmt;

macro_rules! reasons {
    ($( $(#[doc = $doc:expr])+ $name:ident = $code:expr, $text:expr; )+) => {
        /// Why a transaction (or, in strict mode, its batch) was rejected.
        ///
        /// Codes 1-19 are about encoding and size, 20-39 structural checks, 40-59 signatures,
        /// 60-79 re-execution, 80-99 the application of the batch to the UTXO set.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u16)]
        pub enum Reason {
            $( $(#[doc = $doc])+ $name = $code, )+
        }

        impl Reason {
            /// Every reason, in code order.
            pub const ALL: &'static [Reason] = &[$(Reason::$name),+];

            /// The stable number of this reason (never 0, which means "accepted").
            pub const fn code(self) -> u16 {
                self as u16
            }

            /// The reason with this number, if there is one.
            pub fn from_code(code: u16) -> Option<Reason> {
                match code {
                    $( $code => Some(Reason::$name), )+
                    _ => None,
                }
            }

            /// A short machine-friendly name (`snake_case`).
            pub const fn name(self) -> &'static str {
                match self {
                    $( Reason::$name => $text, )+
                }
            }
        }
    };
}

reasons! {
    /// The bytes are not a canonical encoding of the expected type.
    Malformed = 1, "malformed";
    /// A size limit (bytes, transactions, moves, input, code, logs) was exceeded.
    LimitExceeded = 2, "limit_exceeded";
    /// The transaction's chain id is not the validator's.
    WrongChainId = 20, "wrong_chain_id";
    /// The transaction has no consume move.
    NoConsumeMove = 21, "no_consume_move";
    /// A key `(mark, addr, slot)` appears in more than one move.
    DuplicateKey = 22, "duplicate_key";
    /// A reference move declares `next != prev`.
    ReferenceChangesValue = 23, "reference_changes_value";
    /// A `prev` or `next` value has the wrong type for the move's mark.
    ValueTypeMismatch = 24, "value_type_mismatch";
    /// An account move has a non-zero slot.
    NonZeroAccountSlot = 25, "nonzero_account_slot";
    /// A mask has bits other than 0..=3 set, or bit 3 (nonce) on a storage move.
    InvalidMask = 26, "invalid_mask";
    /// A transaction that is not `open` carries a move with mask 0.
    UnsignedMoveInClosedTx = 27, "unsigned_move_in_closed_tx";
    /// The sender's account record is not consumed (it carries the nonce, which prevents
    /// replay).
    SenderNotConsumed = 28, "sender_not_consumed";
    /// The gas limit is above the protocol maximum.
    GasLimitTooHigh = 29, "gas_limit_too_high";
    /// A created-code entry is empty, or the entries are not in strictly ascending order of
    /// their keccak-256 hashes (which also rules out a repeated entry); re-execution also
    /// gives it for an entry that no creation of the call produced.
    InvalidCreatedCode = 30, "invalid_created_code";
    /// The sender's consume move has mask 0: its version (and so the nonce) would not be
    /// signed, and the signatures could be replayed on a re-filled body.
    SenderMoveUnsigned = 31, "sender_move_unsigned";
    /// A consume move whose `next` equals its `prev`. A version used without a change must
    /// be a reference: otherwise anybody could spend another account's live version and
    /// re-create it unchanged under their own transaction id, invalidating every
    /// transaction already signed against it.
    ConsumeUnchanged = 32, "consume_unchanged";
    /// An unsigned (mask 0) move comes before a signed move, or the unsigned moves are not
    /// in strictly ascending key order. The signing digest leaves the unsigned moves out, so
    /// only one order of them is valid: otherwise anyone could reorder them and give the
    /// transaction another id.
    NoncanonicalMoveOrder = 33, "noncanonical_move_order";
    /// The fee fields do not fit the call's type: a legacy or EIP-2930 call whose priority
    /// fee differs from its gas price, an EIP-1559 call whose priority fee cap exceeds its
    /// fee cap, or a legacy call with an access list.
    InvalidFeeFields = 34, "invalid_fee_fields";
    /// The transaction has no authorisation.
    NoAuthorization = 40, "no_authorization";
    /// `call.from` is not the address of the first signer.
    SenderNotFirstSigner = 41, "sender_not_first_signer";
    /// A public key is not a canonical encoding of a point, or is of small order.
    InvalidPublicKey = 42, "invalid_public_key";
    /// A signature does not verify over the signing digest, or is not canonical.
    BadSignature = 43, "bad_signature";
    /// The same public key signs twice.
    DuplicateSigner = 44, "duplicate_signer";
    /// The Ethereum authorisation does not decode as a legacy, EIP-2930 or EIP-1559
    /// transaction (another type, such as a blob or set-code transaction, is not carried),
    /// or the transaction also carries ed25519 authorisations or signs a move.
    InvalidEthAuthorization = 45, "invalid_eth_authorization";
    /// The signer recovered from the Ethereum authorisation is not `call.from`, or its
    /// signature does not recover.
    EthSignerMismatch = 46, "eth_signer_mismatch";
    /// The body's call, fee fields, access list or chain id differ from what the Ethereum
    /// authorisation signs.
    EthBodyMismatch = 47, "eth_body_mismatch";
    /// The sender's declared account record does not have the Ethereum transaction's nonce.
    EthNonceMismatch = 48, "eth_nonce_mismatch";
    /// The Ethereum authorisation's signature has `s` above half the curve order, which
    /// Ethereum refuses from Homestead on (EIP-2).
    EthHighS = 49, "eth_high_s";
    /// The call reverted or halted.
    ExecutionFailed = 60, "execution_failed";
    /// Execution read state that no move declares.
    UndeclaredRead = 61, "undeclared_read";
    /// Execution wrote a value other than a consume move's declared `next`.
    WriteMismatch = 62, "write_mismatch";
    /// Execution wrote a key declared as a reference.
    ReferenceWritten = 63, "reference_written";
    /// An account's code hash has no code in the store or in the transaction, or the code
    /// created does not match the declared code hash.
    CodeHashMismatch = 64, "code_hash_mismatch";
    /// The declared execution context is outside the window the validator accepts.
    ContextOutOfWindow = 65, "context_out_of_window";
    /// The receipt the call would get (its logs) is longer than the per-transaction cap,
    /// `limits::MAX_TX_RECEIPT_BYTES`.
    ReceiptTooLarge = 66, "receipt_too_large";
    /// An unsigned (mask 0) reference names a key that execution never reads. Anyone could
    /// add such a move to an `open` transaction and so change its id.
    UnreadReference = 67, "unread_reference";
    /// The fee cap (or gas price) is below the chain's base fee (EIP-1559).
    FeeCapBelowBaseFee = 68, "fee_cap_below_base_fee";
    /// The sender's declared balance is below `gas_limit x fee cap + value`, what Ethereum
    /// requires before running a transaction.
    InsufficientFunds = 69, "insufficient_funds";
    /// A blob call carries more blobs than the fork in force allows per transaction (6
    /// under Cancun, 9 under Prague).
    TooManyBlobs = 70, "too_many_blobs";
    /// A blob call's blob fee cap is below the chain's blob base fee.
    BlobFeeCapBelowBlobBaseFee = 71, "blob_fee_cap_too_low";
    /// A consumed or referenced version is not live: never created, or already spent.
    VersionNotLive = 80, "version_not_live";
    /// The version is live but holds a value other than the declared `prev`.
    PrevMismatch = 81, "prev_mismatch";
    /// The version was spent by an earlier transaction of the same batch.
    DoubleUseInBatch = 82, "double_use_in_batch";
    /// The transaction uses a version created by a transaction that was rejected (filter
    /// mode cascade).
    DependsOnRejected = 83, "depends_on_rejected";
    /// A transaction with this id was already accepted (here or earlier in the batch).
    DuplicateTransaction = 84, "duplicate_transaction";
    /// The receipts of the transactions accepted earlier in the batch leave no room for this
    /// one's within `limits::MAX_BATCH_RECEIPT_BYTES` (the batch's receipt budget).
    BatchReceiptsFull = 85, "batch_receipts_full";
    /// The batch ends with a fee credit (a transaction from the system sender without an
    /// authorisation, as a chain exported with `GET /batch` carries) other than the one the
    /// validator computes for the batch (PROTOCOL.md §6.4.6).
    InvalidFeeCredit = 86, "invalid_fee_credit";
    /// The gas limits of the transactions executed earlier in the batch leave no room for
    /// this one's within the chain's batch gas limit (the batch's gas budget, decided before
    /// execution; PROTOCOL.md §6.4.3 step 0). It is not executed.
    BatchGasFull = 87, "batch_gas_full";
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}
