//! Minimal ABI helpers for calldata and Solidity storage keys (enough for wallets and tests
//! of the workspace's `Token` and `Pair` contracts).

use alloy_primitives::keccak256;
use mf_format::{Address, U256};

/// The 4-byte selector of a function signature such as `"transfer(address,uint256)"`.
pub fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// One ABI argument word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// An address (left-padded).
    Address(Address),
    /// A uint256.
    Uint(U256),
}

impl Arg {
    /// The 32-byte word.
    pub fn word(&self) -> [u8; 32] {
        match self {
            Arg::Address(a) => a.into_word().0,
            Arg::Uint(u) => u.to_be_bytes(),
        }
    }
}

/// Calldata: `selector(signature)` followed by the static arguments.
pub fn calldata(signature: &str, args: &[Arg]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 32 * args.len());
    out.extend_from_slice(&selector(signature));
    for a in args {
        out.extend_from_slice(&a.word());
    }
    out
}

/// The storage slot of `mapping(address => ...)` at base slot `base`, key `a`:
/// `keccak256(pad32(a) ++ pad32(base))`.
pub fn mapping_slot(a: Address, base: U256) -> U256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(&a.into_word().0);
    buf[32..].copy_from_slice(&base.to_be_bytes::<32>());
    U256::from_be_bytes(keccak256(buf).0)
}

/// The slot of a nested mapping entry `m[outer][inner]` at base slot `base`.
pub fn nested_mapping_slot(outer: Address, inner: Address, base: U256) -> U256 {
    let o = mapping_slot(outer, base);
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(&inner.into_word().0);
    buf[32..].copy_from_slice(&o.to_be_bytes::<32>());
    U256::from_be_bytes(keccak256(buf).0)
}

/// Decodes a 32-byte return word as a uint256 (`None` when the data is shorter).
pub fn decode_uint(data: &[u8]) -> Option<U256> {
    data.get(..32).map(U256::from_be_slice)
}
