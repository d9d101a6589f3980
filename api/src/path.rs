//! The version path: `/version/{intx}/{mark}/{addr}/{slot}`.
//!
//! `intx` is the 32-byte id of the transaction that wrote the version (hex, `0x` optional;
//! all zero for a genesis or never-written version), `mark` `a` (account) or `s` (storage)
//! (`account` / `storage` are accepted too, see [`Mark::parse`]), `addr` a hex address (any
//! case), `slot` a hex U256 (`0x` optional; `0` for an account).

use mf_format::{Address, B256, Key, Mark, TxId, U256};
use std::fmt;
use std::str::FromStr;

/// A version to look up: the transaction that wrote it and its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionPath {
    /// The writing transaction.
    pub intx: TxId,
    /// The key.
    pub key: Key,
}

/// Why a version path does not parse (the message names the segment).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VersionPathError {
    /// `intx` is not 32 hex bytes.
    #[error("intx {0:?}: {1}")]
    Intx(String, String),
    /// `mark` is neither `a` nor `s`.
    #[error("mark {0:?}: use a (account) or s (storage)")]
    Mark(String),
    /// `addr` is not a hex address.
    #[error("addr {0:?}: {1}")]
    Addr(String, String),
    /// `slot` is not a hex U256.
    #[error("slot {0:?} is not a hex U256: {1}")]
    Slot(String, String),
    /// The path is not `/version/` and four segments.
    #[error("{0:?} is not /version/{{intx}}/{{mark}}/{{addr}}/{{slot}}")]
    Shape(String),
}

impl VersionPath {
    /// The lookup of `key` as written by `intx`.
    pub fn new(intx: TxId, key: Key) -> VersionPath {
        VersionPath { intx, key }
    }

    /// Parses the four segments (as a router hands them over).
    pub fn from_segments(
        intx: &str,
        mark: &str,
        addr: &str,
        slot: &str,
    ) -> Result<VersionPath, VersionPathError> {
        let intx_v = B256::from_str(intx.trim())
            .map_err(|e| VersionPathError::Intx(intx.to_string(), e.to_string()))?;
        let mark_v = Mark::parse(mark).ok_or_else(|| VersionPathError::Mark(mark.to_string()))?;
        let addr_v = Address::from_str(addr.trim())
            .map_err(|e| VersionPathError::Addr(addr.to_string(), e.to_string()))?;
        let digits = slot.trim();
        let digits = digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
            .unwrap_or(digits);
        let slot_v = U256::from_str_radix(digits, 16)
            .map_err(|e| VersionPathError::Slot(slot.to_string(), e.to_string()))?;
        Ok(VersionPath {
            intx: intx_v,
            key: Key {
                mark: mark_v,
                addr: addr_v,
                slot: slot_v,
            },
        })
    }
}

impl FromStr for VersionPath {
    type Err = VersionPathError;

    /// Parses a whole path, `/version/{intx}/{mark}/{addr}/{slot}`.
    fn from_str(s: &str) -> Result<VersionPath, VersionPathError> {
        let shape = || VersionPathError::Shape(s.to_string());
        let rest = s.strip_prefix("/version/").ok_or_else(shape)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [intx, mark, addr, slot] = parts[..] else {
            return Err(shape());
        };
        VersionPath::from_segments(intx, mark, addr, slot)
    }
}

impl fmt::Display for VersionPath {
    /// `/version/0x<intx>/<a|s>/0x<addr>/0x<slot>`, lowercase hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/version/{:#x}/{}/{:#x}/{:#x}",
            self.intx, self.key.mark, self.key.addr, self.key.slot
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for (mark, slot) in [
            (Mark::Account, U256::ZERO),
            (Mark::Storage, U256::from(42u64)),
            (Mark::Storage, U256::MAX),
        ] {
            let p = VersionPath::new(
                B256::repeat_byte(0xab),
                Key {
                    mark,
                    addr: Address::repeat_byte(0xcd),
                    slot,
                },
            );
            let text = p.to_string();
            assert!(text.starts_with("/version/0xabab"), "{text}");
            assert_eq!(text, text.to_lowercase());
            assert_eq!(text.parse::<VersionPath>(), Ok(p));
        }
    }

    #[test]
    fn the_formatted_path_is_the_documented_one() {
        let p = VersionPath::new(
            B256::ZERO,
            Key {
                mark: Mark::Storage,
                addr: Address::repeat_byte(0x0a),
                slot: U256::from(0x2au64),
            },
        );
        assert_eq!(
            p.to_string(),
            format!(
                "/version/0x{}/s/0x{}/0x2a",
                "00".repeat(32),
                "0a".repeat(20)
            )
        );
    }

    #[test]
    fn lenient_forms_parse_and_bad_segments_are_named() {
        let zero = "00".repeat(32);
        let addr = "Ab".repeat(20);
        let p = VersionPath::from_segments(&zero, "account", &format!("0x{addr}"), "0")
            .expect("no 0x on intx and slot, long mark, mixed-case address");
        assert_eq!(p.key.mark, Mark::Account);
        assert_eq!(p.key.slot, U256::ZERO);
        let p = VersionPath::from_segments(&zero, "s", &addr, "0X2A").expect("0X slot");
        assert_eq!(p.key.slot, U256::from(42u64));
        assert!(matches!(
            VersionPath::from_segments(&zero, "q", &addr, "0"),
            Err(VersionPathError::Mark(_))
        ));
        assert!(matches!(
            VersionPath::from_segments("xyz", "a", &addr, "0"),
            Err(VersionPathError::Intx(..))
        ));
        assert!(matches!(
            VersionPath::from_segments(&zero, "a", "0x00", "0"),
            Err(VersionPathError::Addr(..))
        ));
        assert!(matches!(
            VersionPath::from_segments(&zero, "a", &addr, "0xg"),
            Err(VersionPathError::Slot(..))
        ));
        assert!(matches!(
            "/version/1/2".parse::<VersionPath>(),
            Err(VersionPathError::Shape(_))
        ));
    }
}
