//! The wire types. Field order here *is* the encoding order (see `docs/PROTOCOL.md`).

use crate::limits::*;
use crate::reason::Reason;
use crate::wire::{self, bounded_bytes, bounded_seq};
use alloy_primitives::{Address, B256, U256};
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Id of a transaction: the blake3 digest of its body (see [`crate::tx_id`]).
pub type TxId = B256;

/// The all-zero transaction id: the genesis / never-written version of a key.
pub const GENESIS_INTX: TxId = B256::ZERO;

/// Keccak-256 of empty code, the code hash of every account without code.
pub const EMPTY_CODE_HASH: B256 = alloy_primitives::KECCAK256_EMPTY;

/// What a key names: an account record or one storage word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Mark {
    /// `a` (0x61): balance, nonce and code hash of an address; the slot is zero.
    Account,
    /// `s` (0x73): one storage word of an address.
    Storage,
}

impl Mark {
    /// The byte on the wire.
    pub const fn byte(self) -> u8 {
        match self {
            Mark::Account => b'a',
            Mark::Storage => b's',
        }
    }

    /// The mark as text (`"a"` or `"s"`), as JSON-RPC answers and version paths write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mark::Account => "a",
            Mark::Storage => "s",
        }
    }

    /// Parses the text form: `"a"` / `"account"` or `"s"` / `"storage"`.
    pub fn parse(s: &str) -> Option<Mark> {
        match s {
            "a" | "account" => Some(Mark::Account),
            "s" | "storage" => Some(Mark::Storage),
            _ => None,
        }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Mark> for u8 {
    fn from(m: Mark) -> u8 {
        m.byte()
    }
}

impl TryFrom<u8> for Mark {
    type Error = String;
    fn try_from(b: u8) -> Result<Self, String> {
        match b {
            b'a' => Ok(Mark::Account),
            b's' => Ok(Mark::Storage),
            _ => Err(format!("unknown mark byte {b:#04x} (expected 'a' or 's')")),
        }
    }
}

/// Whether a move spends a version or only reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum MoveKind {
    /// 0: spends version `(intx, key)` and creates `(this tx, key) -> next`.
    Consume,
    /// 1: reads version `(intx, key)`, which must be live; nothing is spent; `next == prev`.
    Reference,
}

impl From<MoveKind> for u8 {
    fn from(k: MoveKind) -> u8 {
        match k {
            MoveKind::Consume => 0,
            MoveKind::Reference => 1,
        }
    }
}

impl TryFrom<u8> for MoveKind {
    type Error = String;
    fn try_from(b: u8) -> Result<Self, String> {
        match b {
            0 => Ok(MoveKind::Consume),
            1 => Ok(MoveKind::Reference),
            _ => Err(format!("unknown move kind {b} (expected 0 or 1)")),
        }
    }
}

/// Which of a move's `intx`, `prev` and `next` the signers signed (a generalised SIGHASH).
///
/// `mark`, `kind`, `addr` and `slot` of a move with a non-zero mask are always signed. A move
/// with mask 0 is not signed at all; only an `open` transaction may carry one.
///
/// Bit 3 ([`Mask::NONCE`], account moves only) signs the nonce of `prev` alone: the version,
/// the balance and the value after stay with the filler. A wallet signs its own account move
/// this way so that value credited to it before its transaction lands does not invalidate
/// the transaction (the nonce, as on Ethereum, is what makes it unrepeatable; PROTOCOL.md
/// §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Mask(pub u8);

impl Mask {
    /// Bit 0: `intx` is signed.
    pub const INTX: u8 = 1;
    /// Bit 1: `prev` is signed.
    pub const PREV: u8 = 2;
    /// Bit 2: `next` is signed.
    pub const NEXT: u8 = 4;
    /// Bit 3: the nonce of `prev` is signed (account moves only).
    pub const NONCE: u8 = 8;
    /// Only the nonce of `prev` signed: how a wallet signs its own account move, so that
    /// credits received meanwhile do not invalidate the transaction.
    pub const NONCE_ONLY: Mask = Mask(Self::NONCE);
    /// Every field signed.
    pub const ALL: Mask = Mask(7);
    /// Nothing signed: a move a filler may add to an `open` transaction.
    pub const NONE: Mask = Mask(0);

    /// True when the move takes part in the signing digest.
    pub const fn is_signed(self) -> bool {
        self.0 != 0
    }
    /// True when only the defined bits (0..=3) are set.
    pub const fn is_valid(self) -> bool {
        self.0 & !15 == 0
    }
    /// `intx` signed.
    pub const fn intx(self) -> bool {
        self.0 & Self::INTX != 0
    }
    /// `prev` signed.
    pub const fn prev(self) -> bool {
        self.0 & Self::PREV != 0
    }
    /// `next` signed.
    pub const fn next(self) -> bool {
        self.0 & Self::NEXT != 0
    }
    /// The nonce of `prev` signed.
    pub const fn nonce(self) -> bool {
        self.0 & Self::NONCE != 0
    }
}

/// A field of a move that the signing digest can cover (see [`crate::signing_digest`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignedField {
    /// Consume or reference (signed whenever the move is signed).
    Kind,
    /// The version's transaction ([`Mask::INTX`]).
    Intx,
    /// The value before ([`Mask::PREV`]).
    Prev,
    /// The value after ([`Mask::NEXT`]).
    Next,
    /// The nonce of the value before ([`Mask::NONCE`]).
    Nonce,
}

/// The value of an account record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Account {
    /// Balance in wei.
    #[serde(with = "wire::u256")]
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// Keccak-256 of the runtime code ([`EMPTY_CODE_HASH`] for none).
    #[serde(with = "wire::b256")]
    pub code_hash: B256,
}

impl Account {
    /// The never-written account: zero balance, zero nonce, no code. To the EVM it does not
    /// exist.
    pub const EMPTY: Account = Account {
        balance: U256::ZERO,
        nonce: 0,
        code_hash: EMPTY_CODE_HASH,
    };

    /// An account that exists although it is empty (zero balance, zero nonce, no code):
    /// the state that only rules before EIP-161 (Spurious Dragon) can tell apart from
    /// [`Account::EMPTY`] (a `CALL` to it is not charged for a new account). Written as the
    /// code hash zero, which no code has (PROTOCOL.md §3.2): the one record whose code hash
    /// is zero, and never with a balance or a nonce.
    pub const EXISTING_EMPTY: Account = Account {
        balance: U256::ZERO,
        nonce: 0,
        code_hash: B256::ZERO,
    };

    /// Whether the account has runtime code (a code hash other than the empty code's and
    /// the existing-empty marker's).
    pub fn has_code(&self) -> bool {
        self.code_hash != EMPTY_CODE_HASH && self.code_hash != B256::ZERO
    }

    /// The keccak-256 of its runtime code ([`EMPTY_CODE_HASH`] for none, including for
    /// [`Account::EXISTING_EMPTY`]).
    pub fn code_keccak(&self) -> B256 {
        if self.has_code() {
            self.code_hash
        } else {
            EMPTY_CODE_HASH
        }
    }
}

impl Default for Account {
    fn default() -> Self {
        Account::EMPTY
    }
}

/// A value held by a version: an account record (mark `a`) or a storage word (mark `s`).
///
/// Encoded as a one-byte tag (0 account, 1 storage) followed by the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// Tag 0: an account record.
    Account(Account),
    /// Tag 1: a storage word.
    Storage(U256),
}

impl Value {
    /// The mark whose values have this type.
    pub const fn mark(&self) -> Mark {
        match self {
            Value::Account(_) => Mark::Account,
            Value::Storage(_) => Mark::Storage,
        }
    }
    /// The nonce of an account record; `None` for a storage word.
    pub const fn nonce(&self) -> Option<u64> {
        match self {
            Value::Account(a) => Some(a.nonce),
            Value::Storage(_) => None,
        }
    }
    /// The zero value of a never-written key with this mark.
    pub const fn zero(mark: Mark) -> Value {
        match mark {
            Mark::Account => Value::Account(Account::EMPTY),
            Mark::Storage => Value::Storage(U256::ZERO),
        }
    }

    /// The longest canonical encoding of a value (an account: tag, balance, nonce, code
    /// hash). Every stored value fits a buffer of this size.
    pub const MAX_ENCODED_LEN: usize = 1 + 32 + 8 + 32;

    /// Writes the canonical encoding into a fixed buffer without allocating; returns the
    /// used prefix. The same bytes as [`crate::encode`] of the value.
    pub fn encode_fixed<'a>(&self, buf: &'a mut [u8; Value::MAX_ENCODED_LEN]) -> &'a [u8] {
        match self {
            Value::Account(a) => {
                buf[0] = 0;
                buf[1..33].copy_from_slice(&a.balance.to_be_bytes::<32>());
                buf[33..41].copy_from_slice(&a.nonce.to_le_bytes());
                buf[41..73].copy_from_slice(a.code_hash.as_slice());
                &buf[..73]
            }
            Value::Storage(w) => {
                buf[0] = 1;
                buf[1..33].copy_from_slice(&w.to_be_bytes::<32>());
                &buf[..33]
            }
        }
    }

    /// Decodes a value from its canonical encoding (at most [`Value::MAX_ENCODED_LEN`]
    /// bytes, nothing left over).
    pub fn decode_canonical(bytes: &[u8]) -> Result<Value, crate::FormatError> {
        crate::decode::<Value>(bytes, Value::MAX_ENCODED_LEN, "value")
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        match self {
            Value::Account(a) => {
                t.serialize_element(&0u8)?;
                t.serialize_element(a)?;
            }
            Value::Storage(w) => {
                #[derive(Serialize)]
                struct W<'a>(#[serde(with = "wire::u256")] &'a U256);
                t.serialize_element(&1u8)?;
                t.serialize_element(&W(w))?;
            }
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct V;
        #[derive(Deserialize)]
        struct W(#[serde(with = "wire::u256")] U256);
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value tag (0 account, 1 storage) and its payload")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let tag: u8 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::custom("value without a tag"))?;
                match tag {
                    0 => seq
                        .next_element::<Account>()?
                        .map(Value::Account)
                        .ok_or_else(|| A::Error::custom("account value without payload")),
                    1 => seq
                        .next_element::<W>()?
                        .map(|w| Value::Storage(w.0))
                        .ok_or_else(|| A::Error::custom("storage value without payload")),
                    t => Err(A::Error::custom(format_args!(
                        "unknown value tag {t} (expected 0 or 1)"
                    ))),
                }
            }
        }
        d.deserialize_tuple(2, V)
    }
}

/// A state key: `(mark, addr, slot)`. For account keys the slot is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    /// Account record or storage word.
    pub mark: Mark,
    /// The address.
    #[serde(with = "wire::address")]
    pub addr: Address,
    /// The storage slot (zero for account keys).
    #[serde(with = "wire::u256")]
    pub slot: U256,
}

impl Key {
    /// The account-record key of `addr`.
    pub const fn account(addr: Address) -> Key {
        Key {
            mark: Mark::Account,
            addr,
            slot: U256::ZERO,
        }
    }
    /// The storage key `(addr, slot)`.
    pub const fn storage(addr: Address, slot: U256) -> Key {
        Key {
            mark: Mark::Storage,
            addr,
            slot,
        }
    }

    /// Length of [`Key::to_bytes`].
    pub const ENCODED_LEN: usize = 1 + 20 + 32;

    /// The 53-byte storage form `mark || addr || slot (big-endian)`; byte order is the
    /// order of [`Key`] (mark, then address, then slot).
    pub fn to_bytes(&self) -> [u8; Key::ENCODED_LEN] {
        let mut k = [0u8; Key::ENCODED_LEN];
        k[0] = self.mark.byte();
        k[1..21].copy_from_slice(self.addr.as_slice());
        k[21..].copy_from_slice(&self.slot.to_be_bytes::<32>());
        k
    }

    /// Parses [`Key::to_bytes`]; `None` on a wrong length or an unknown mark byte.
    pub fn from_bytes(b: &[u8]) -> Option<Key> {
        if b.len() != Key::ENCODED_LEN {
            return None;
        }
        Some(Key {
            mark: Mark::try_from(b[0]).ok()?,
            addr: Address::from_slice(&b[1..21]),
            slot: U256::from_be_slice(&b[21..]),
        })
    }

    /// The version a key has before anything writes it: `(GENESIS_INTX, zero value of the
    /// mark)`. Every reader of the set answers this for a key it does not hold.
    pub const fn never_written(&self) -> (TxId, Value) {
        (GENESIS_INTX, Value::zero(self.mark))
    }
}

/// A version id `(intx, key)`: the transaction that wrote a key's value, and the key. Its
/// 85-byte storage form `intx || mark || addr || slot (big-endian)` is what the validator's
/// set stores and what the state hash's element hashes (with the value appended).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionId {
    /// The writing transaction ([`GENESIS_INTX`] for genesis).
    pub intx: TxId,
    /// The key.
    pub key: Key,
}

impl VersionId {
    /// Length of [`VersionId::to_bytes`].
    pub const ENCODED_LEN: usize = 32 + Key::ENCODED_LEN;

    /// The version id of `key` written by `intx`.
    pub const fn new(intx: TxId, key: Key) -> VersionId {
        VersionId { intx, key }
    }

    /// The 85-byte storage form `intx || mark || addr || slot (big-endian)`.
    pub fn to_bytes(&self) -> [u8; VersionId::ENCODED_LEN] {
        let mut k = [0u8; VersionId::ENCODED_LEN];
        k[..32].copy_from_slice(self.intx.as_slice());
        k[32..].copy_from_slice(&self.key.to_bytes());
        k
    }

    /// Parses [`VersionId::to_bytes`]; `None` on a wrong length or an unknown mark byte.
    pub fn from_bytes(b: &[u8]) -> Option<VersionId> {
        if b.len() != VersionId::ENCODED_LEN {
            return None;
        }
        Some(VersionId {
            intx: TxId::from_slice(&b[..32]),
            key: Key::from_bytes(&b[32..])?,
        })
    }
}

/// One declared use of a state version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Move {
    /// Which of `intx`, `prev`, `next` are signed.
    pub mask: Mask,
    /// Consume or reference.
    pub kind: MoveKind,
    /// Account record or storage word.
    pub mark: Mark,
    /// The transaction that wrote the version used ([`GENESIS_INTX`] for genesis).
    #[serde(with = "wire::b256")]
    pub intx: TxId,
    /// The address.
    #[serde(with = "wire::address")]
    pub addr: Address,
    /// The slot (zero for account moves).
    #[serde(with = "wire::u256")]
    pub slot: U256,
    /// The value of the version used.
    pub prev: Value,
    /// The value after this transaction (equal to `prev` for a reference).
    pub next: Value,
}

impl Move {
    /// The key this move uses.
    pub const fn key(&self) -> Key {
        Key {
            mark: self.mark,
            addr: self.addr,
            slot: self.slot,
        }
    }

    /// The first field, in the order kind, `intx`, `prev`, `next`, nonce, that this move's mask
    /// puts under the signature and in which `other` differs; `None` when the mask signs
    /// nothing or every signed field agrees. (Key fields are not compared: callers pair
    /// moves by key.) A filler that changes only unsigned fields keeps every signature
    /// valid.
    pub fn signed_difference(&self, other: &Move) -> Option<SignedField> {
        let mask = self.mask;
        if !mask.is_signed() {
            None
        } else if self.kind != other.kind {
            Some(SignedField::Kind)
        } else if mask.intx() && self.intx != other.intx {
            Some(SignedField::Intx)
        } else if mask.prev() && self.prev != other.prev {
            Some(SignedField::Prev)
        } else if mask.next() && self.next != other.next {
            Some(SignedField::Next)
        } else if mask.nonce() && self.prev.nonce() != other.prev.nonce() {
            Some(SignedField::Nonce)
        } else {
            None
        }
    }

    /// The version this move uses: `(intx, key)`.
    pub const fn version(&self) -> VersionId {
        VersionId {
            intx: self.intx,
            key: self.key(),
        }
    }
}

/// The EVM call a transaction makes.
///
/// Encoded as its fields in order (PROTOCOL.md §2.2); the blob fields ([`Blobs`]) follow the
/// access list only when `fee.kind` is [`FeeKind::Blob`], so the encoding of every other
/// call has no byte for them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Call {
    /// The caller; must be the address of the first signer.
    pub from: Address,
    /// The callee, or `None` for a contract creation.
    pub to: Option<Address>,
    /// Wei sent with the call.
    pub value: U256,
    /// Calldata, or init code for a creation.
    pub input: Vec<u8>,
    /// Gas limit (at most the chain's gas limit, [`crate::ChainRules::gas_limit`]).
    pub gas_limit: u64,
    /// The fee fields of the Ethereum transaction type the call follows.
    pub fee: Fee,
    /// EIP-2930 access list: addresses and storage keys warm from the start (charged in the
    /// intrinsic gas). Empty for a legacy call.
    pub access_list: Vec<AccessItem>,
    /// EIP-4844 blob fields: present exactly when `fee.kind` is [`FeeKind::Blob`] (the
    /// decoder gives `Some` for that kind and `None` for the others; §6.1 #7d refuses a
    /// call that breaks this with `invalid_fee_fields`). Encoded only for that kind: an
    /// encoder writes `None` there as a zero fee cap and no hashes, and drops it for the
    /// other kinds.
    pub blob: Option<Blobs>,
}

/// The blob fields of an EIP-4844 (type 3) call: what the sender offers per blob gas and
/// the versioned hashes of its blobs (the blobs themselves travel outside the chain, as on
/// Ethereum; the EVM reads the hashes with `BLOBHASH`). Each blob uses
/// [`crate::limits::GAS_PER_BLOB`] blob gas, charged at the chain's blob base fee and burnt.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Blobs {
    /// The most the sender pays per blob gas (wei).
    pub max_fee_per_blob_gas: u128,
    /// The blobs' versioned hashes, in order: at least one, at most
    /// [`MAX_BLOB_HASHES`] on the wire, and at most the fork's limit
    /// ([`crate::Fork::max_blobs_per_tx`]) at execution.
    pub versioned_hashes: Vec<B256>,
}

impl Blobs {
    /// The blob gas the call uses: [`crate::limits::GAS_PER_BLOB`] per hash.
    pub fn blob_gas(&self) -> u64 {
        (self.versioned_hashes.len() as u64).saturating_mul(GAS_PER_BLOB)
    }
}

#[derive(Serialize)]
struct InputRef<'a>(#[serde(serialize_with = "wire::ser_bytes")] &'a [u8]);

impl Serialize for Call {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let blob = self.fee.kind == FeeKind::Blob;
        let mut t = s.serialize_tuple(if blob { 9 } else { 7 })?;
        t.serialize_element(&self.from.0.0)?;
        t.serialize_element(&self.to.map(|a| a.0.0))?;
        t.serialize_element(&self.value.to_be_bytes::<32>())?;
        t.serialize_element(&InputRef(&self.input))?;
        t.serialize_element(&self.gas_limit)?;
        t.serialize_element(&self.fee)?;
        t.serialize_element(&self.access_list)?;
        if blob {
            let b = self.blob.as_ref();
            t.serialize_element(&b.map_or(0, |b| b.max_fee_per_blob_gas))?;
            let hashes: &[B256] = b.map_or(&[], |b| &b.versioned_hashes);
            t.serialize_element(&HashesRef(hashes))?;
        }
        t.end()
    }
}

#[derive(Serialize)]
struct HashesRef<'a>(#[serde(with = "wire::blob_hashes")] &'a [B256]);

impl<'de> Deserialize<'de> for Call {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Call, D::Error> {
        #[derive(Deserialize)]
        struct From(#[serde(with = "wire::address")] Address);
        #[derive(Deserialize)]
        struct To(#[serde(with = "wire::opt_address")] Option<Address>);
        #[derive(Deserialize)]
        struct Wei(#[serde(with = "wire::u256")] U256);
        #[derive(Deserialize)]
        struct Input(#[serde(deserialize_with = "de_input")] Vec<u8>);
        #[derive(Deserialize)]
        struct List(#[serde(deserialize_with = "de_access_list")] Vec<AccessItem>);
        #[derive(Deserialize)]
        struct Hashes(#[serde(with = "wire::blob_hashes")] Vec<B256>);
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Call;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a call")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Call, A::Error> {
                fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
                    seq: &mut A,
                    i: usize,
                ) -> Result<T, A::Error> {
                    seq.next_element()?
                        .ok_or_else(|| A::Error::invalid_length(i, &"a call"))
                }
                let from: From = next(&mut seq, 0)?;
                let to: To = next(&mut seq, 1)?;
                let value: Wei = next(&mut seq, 2)?;
                let input: Input = next(&mut seq, 3)?;
                let gas_limit: u64 = next(&mut seq, 4)?;
                let fee: Fee = next(&mut seq, 5)?;
                let access_list: List = next(&mut seq, 6)?;
                let blob = if fee.kind == FeeKind::Blob {
                    let max_fee_per_blob_gas: u128 = next(&mut seq, 7)?;
                    let hashes: Hashes = next(&mut seq, 8)?;
                    Some(Blobs {
                        max_fee_per_blob_gas,
                        versioned_hashes: hashes.0,
                    })
                } else {
                    None
                };
                Ok(Call {
                    from: from.0,
                    to: to.0,
                    value: value.0,
                    input: input.0,
                    gas_limit,
                    fee,
                    access_list: access_list.0,
                    blob,
                })
            }
        }
        // The length is the most elements a call has; one that is not a blob call reads
        // the first 7.
        d.deserialize_tuple(9, V)
    }
}

/// The EIP-2718 type whose fee rules a call follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum FeeKind {
    /// 0: a legacy transaction: one gas price, no access list.
    #[default]
    Legacy,
    /// 1: EIP-2930: one gas price and an access list.
    AccessList,
    /// 2: EIP-1559: a fee cap and a priority fee cap, and an access list.
    Dynamic,
    /// 3: EIP-4844: EIP-1559's fields and access list, and blobs ([`Call::blob`]): a blob
    /// fee cap and the blobs' versioned hashes. Never a contract creation.
    Blob,
}

impl FeeKind {
    /// The EIP-2718 type byte.
    pub const fn byte(self) -> u8 {
        match self {
            FeeKind::Legacy => 0,
            FeeKind::AccessList => 1,
            FeeKind::Dynamic => 2,
            FeeKind::Blob => 3,
        }
    }
}

impl From<FeeKind> for u8 {
    fn from(k: FeeKind) -> u8 {
        k.byte()
    }
}

impl TryFrom<u8> for FeeKind {
    type Error = String;
    fn try_from(b: u8) -> Result<Self, String> {
        match b {
            0 => Ok(FeeKind::Legacy),
            1 => Ok(FeeKind::AccessList),
            2 => Ok(FeeKind::Dynamic),
            3 => Ok(FeeKind::Blob),
            _ => Err(format!(
                "unknown fee kind {b} (expected 0 legacy, 1 access list, 2 dynamic, 3 blob)"
            )),
        }
    }
}

/// What a call offers to pay per gas, as Ethereum's transaction types say it.
///
/// For [`FeeKind::Legacy`] and [`FeeKind::AccessList`] the gas price is `max_fee_per_gas`
/// and `max_priority_fee_per_gas` must equal it (one price, as those types carry); for
/// [`FeeKind::Dynamic`] the priority fee cap may not exceed the fee cap
/// ([`Fee::is_consistent`]). The sender pays `gas_used x` [`Fee::effective_price`]; the
/// chain's base fee of it is burnt and the rest goes to the beneficiary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Fee {
    /// The transaction type.
    pub kind: FeeKind,
    /// The gas price (legacy, EIP-2930) or the fee cap (EIP-1559, EIP-4844), in wei per gas.
    pub max_fee_per_gas: u128,
    /// The priority fee cap (EIP-1559, EIP-4844); equal to `max_fee_per_gas` for the other
    /// types.
    pub max_priority_fee_per_gas: u128,
}

impl Fee {
    /// A legacy (type 0) gas price.
    pub const fn legacy(gas_price: u128) -> Fee {
        Fee {
            kind: FeeKind::Legacy,
            max_fee_per_gas: gas_price,
            max_priority_fee_per_gas: gas_price,
        }
    }

    /// EIP-1559 (type 2) fee caps.
    pub const fn dynamic(max_fee_per_gas: u128, max_priority_fee_per_gas: u128) -> Fee {
        Fee {
            kind: FeeKind::Dynamic,
            max_fee_per_gas,
            max_priority_fee_per_gas,
        }
    }

    /// Whether the fields fit the type: one price for legacy and EIP-2930, the priority cap
    /// at most the fee cap for EIP-1559 and EIP-4844.
    pub const fn is_consistent(&self) -> bool {
        match self.kind {
            FeeKind::Legacy | FeeKind::AccessList => {
                self.max_priority_fee_per_gas == self.max_fee_per_gas
            }
            FeeKind::Dynamic | FeeKind::Blob => {
                self.max_priority_fee_per_gas <= self.max_fee_per_gas
            }
        }
    }

    /// The price per gas paid under `base_fee`: `min(max fee, base fee + priority cap)`
    /// (for one-price types, the price itself). Meaningful when the fee cap covers the base
    /// fee, which execution checks.
    pub fn effective_price(&self, base_fee: u64) -> u128 {
        self.max_fee_per_gas
            .min((base_fee as u128).saturating_add(self.max_priority_fee_per_gas))
    }

    /// The part of the price per gas that goes to the beneficiary: the effective price less
    /// the base fee from London on (EIP-1559 burns it), the whole price before.
    pub fn beneficiary_price(&self, base_fee: u64, london: bool) -> u128 {
        let p = self.effective_price(base_fee);
        if london {
            p.saturating_sub(base_fee as u128)
        } else {
            p
        }
    }
}

/// One entry of an access list: an address and storage keys of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccessItem {
    /// The address.
    #[serde(with = "wire::address")]
    pub address: Address,
    /// Its storage keys.
    #[serde(with = "wire::b256_list")]
    pub storage_keys: Vec<B256>,
}

fn de_access_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<AccessItem>, D::Error> {
    bounded_seq(d, MAX_ACCESS_LIST_ITEMS, "access list")
}

fn de_input<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    bounded_bytes(d, MAX_INPUT_BYTES, "call input")
}

/// The execution context the transaction assumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct ExecContext {
    /// `NUMBER`.
    pub block_number: u64,
    /// `TIMESTAMP`, in seconds.
    pub timestamp: u64,
}

/// Everything of a transaction except its authorisations: what the id covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxBody {
    /// The chain this transaction is for.
    pub chain_id: u64,
    /// The call.
    pub call: Call,
    /// The assumed execution context.
    pub context: ExecContext,
    /// Whether a filler may add unsigned (mask 0) moves.
    pub open: bool,
    /// The declared moves, in order.
    #[serde(deserialize_with = "de_moves")]
    pub moves: Vec<Move>,
    /// Runtime code of the contracts this transaction creates.
    #[serde(serialize_with = "wire::ser_byte_list", deserialize_with = "de_codes")]
    pub created_code: Vec<Vec<u8>>,
}

impl TxBody {
    /// Puts the parts of the body that the signing digest leaves out in their one valid
    /// order (`docs/PROTOCOL.md` §6.1 #7b, #7c): the signed moves first, in the order they
    /// have (the digest covers it), then the unsigned (mask 0) moves in ascending key order;
    /// `created_code` in ascending order of keccak-256 hash, a repeated entry dropped. The
    /// signing digest does not change. Wallets and fillers call it before signing or
    /// submitting (`mf-movegen` does); it makes no other check.
    pub fn canonicalize(&mut self) {
        let (mut moves, mut unsigned): (Vec<Move>, Vec<Move>) =
            self.moves.drain(..).partition(|m| m.mask.is_signed());
        unsigned.sort_by_key(Move::key);
        moves.append(&mut unsigned);
        self.moves = moves;
        self.created_code
            .sort_by_cached_key(|c| alloy_primitives::keccak256(c));
        self.created_code.dedup();
    }
}

fn de_moves<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Move>, D::Error> {
    bounded_seq(d, MAX_MOVES_PER_TX, "moves")
}

fn de_codes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
    #[derive(Deserialize)]
    struct Code(#[serde(deserialize_with = "de_code")] Vec<u8>);
    let v: Vec<Code> = bounded_seq(d, MAX_CREATED_CODES, "created codes")?;
    Ok(v.into_iter().map(|c| c.0).collect())
}

fn de_code<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    bounded_bytes(d, MAX_CODE_BYTES, "created code")
}

/// 64 signature bytes (`R || S`), encoded raw with no length prefix.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignatureBytes(pub [u8; 64]);

impl fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "SignatureBytes({})",
            alloy_primitives::hex::encode(self.0)
        )
    }
}

impl Serialize for SignatureBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut r = [0u8; 32];
        let mut sc = [0u8; 32];
        r.copy_from_slice(&self.0[..32]);
        sc.copy_from_slice(&self.0[32..]);
        (r, sc).serialize(s)
    }
}

impl<'de> Deserialize<'de> for SignatureBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (r, s) = <([u8; 32], [u8; 32])>::deserialize(d)?;
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&r);
        out[32..].copy_from_slice(&s);
        Ok(SignatureBytes(out))
    }
}

/// One signer: an ed25519 public key and its signature over the signing digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Authorization {
    /// Compressed Edwards point.
    pub public_key: [u8; 32],
    /// `R || S`.
    pub signature: SignatureBytes,
}

/// An Ethereum authorisation (PROTOCOL.md §5.5): the sender's signed Ethereum transaction,
/// as its EIP-2718 encoding (a legacy transaction's RLP, or a type byte 1 or 2 and the
/// payload). Its signer is the sender; the body's call, fee fields, access list and chain id
/// must be exactly what it signs, and the sender's declared nonce its nonce.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EthAuthorization {
    /// The signed transaction's EIP-2718 encoding.
    #[serde(serialize_with = "wire::ser_bytes", deserialize_with = "de_envelope")]
    pub envelope: Vec<u8>,
}

fn de_envelope<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    bounded_bytes(d, MAX_ETH_ENVELOPE_BYTES, "Ethereum envelope")
}

/// A transaction: its body and its authorisation: ed25519 signatures over the body's
/// signing digest, or a signed Ethereum transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transaction {
    /// What the id and digest cover.
    pub body: TxBody,
    /// Signers; the first one's address must be `body.call.from`. Empty when `eth` is set.
    #[serde(deserialize_with = "de_auths")]
    pub auths: Vec<Authorization>,
    /// The Ethereum authorisation, instead of `auths` (PROTOCOL.md §5.5).
    pub eth: Option<EthAuthorization>,
}

impl Transaction {
    /// A transaction authorised by ed25519 signatures.
    pub fn signed(body: TxBody, auths: Vec<Authorization>) -> Transaction {
        Transaction {
            body,
            auths,
            eth: None,
        }
    }

    /// A transaction authorised by a signed Ethereum transaction (its EIP-2718 bytes).
    pub fn eth(body: TxBody, envelope: Vec<u8>) -> Transaction {
        Transaction {
            body,
            auths: Vec::new(),
            eth: Some(EthAuthorization { envelope }),
        }
    }
}

fn de_auths<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Authorization>, D::Error> {
    bounded_seq(d, MAX_AUTHS, "authorisations")
}

/// An ordered list of transactions; later ones may use versions earlier ones create.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Batch {
    /// The transactions, in order.
    #[serde(deserialize_with = "de_txs")]
    pub txs: Vec<Transaction>,
}

fn de_txs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Transaction>, D::Error> {
    bounded_seq(d, MAX_TXS_PER_BATCH, "transactions")
}

/// The header the validator gives each accepted batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Header {
    /// 0 for the genesis header, then +1 per batch.
    pub height: u64,
    /// Hash of the previous header (zero for genesis).
    #[serde(with = "wire::b256")]
    pub parent: B256,
    /// Merkle root of the ids of the accepted transactions.
    #[serde(with = "wire::b256")]
    pub tx_root: B256,
    /// Merkle root of the receipts of all transactions of the batch.
    #[serde(with = "wire::b256")]
    pub receipts_root: B256,
    /// The state hash (LtHash digest) after the batch.
    #[serde(with = "wire::b256")]
    pub state_hash: B256,
    /// Unix time in milliseconds when the batch was applied.
    pub time_ms: u64,
}

/// The outcome of one transaction: included (its execution succeeded, or failed and only
/// its sender's nonce bump applies), or rejected with a reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u16", try_from = "u16")]
pub enum Status {
    /// Code 0: included, the execution succeeded.
    Accepted,
    /// Code [`Status::FAILED_CODE`]: included, the execution reverted or halted (Ethereum's
    /// receipt status 0). Only the sender's nonce bump applies; no log is kept.
    Failed,
    /// The reason's code: not included, nothing applied.
    Rejected(Reason),
}

impl Status {
    /// The code of [`Status::Failed`] (no reason has it).
    pub const FAILED_CODE: u16 = 3;

    /// Whether the transaction is in the chain (accepted or failed).
    pub fn is_included(&self) -> bool {
        !matches!(self, Status::Rejected(_))
    }

    /// The code: 0, [`Status::FAILED_CODE`], or the reason's.
    pub fn code(&self) -> u16 {
        match self {
            Status::Accepted => 0,
            Status::Failed => Status::FAILED_CODE,
            Status::Rejected(r) => r.code(),
        }
    }

    /// Its name: `accepted`, `failed`, or the reason's name.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Failed => "failed",
            Status::Rejected(r) => r.name(),
        }
    }
}

impl From<Status> for u16 {
    fn from(s: Status) -> u16 {
        s.code()
    }
}

impl TryFrom<u16> for Status {
    type Error = String;
    fn try_from(c: u16) -> Result<Self, String> {
        match c {
            0 => Ok(Status::Accepted),
            Status::FAILED_CODE => Ok(Status::Failed),
            _ => Reason::from_code(c)
                .map(Status::Rejected)
                .ok_or_else(|| format!("unknown status code {c}")),
        }
    }
}

/// An EVM log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Log {
    /// Emitting contract.
    #[serde(with = "wire::address")]
    pub address: Address,
    /// Up to four topics.
    #[serde(with = "wire::topics")]
    pub topics: Vec<B256>,
    /// Data.
    #[serde(serialize_with = "wire::ser_bytes", deserialize_with = "de_log_data")]
    pub data: Vec<u8>,
}

fn de_log_data<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    bounded_bytes(d, MAX_LOG_DATA, "log data")
}

/// What happened to one transaction of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction.
    #[serde(with = "wire::b256")]
    pub tx_id: TxId,
    /// Accepted or the reason it was not.
    pub status: Status,
    /// Gas the call used (0 when it was not executed).
    pub gas_used: u64,
    /// Logs of an accepted call.
    #[serde(deserialize_with = "de_logs")]
    pub logs: Vec<Log>,
}

fn de_logs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Log>, D::Error> {
    bounded_seq(d, MAX_LOGS, "logs")
}
