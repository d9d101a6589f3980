//! The committed contract artifacts (`contracts/artifacts/*.json`, written by
//! `contracts/build.js` with solc-js): `Token.sol` (an ERC20) and `Pair.sol` (a
//! constant-product pair). Embedded at compile time and decoded once per process.

use crate::DevkitError;
use std::sync::OnceLock;

/// `contracts/artifacts/Token.json`.
pub const TOKEN_JSON: &str = include_str!("../../contracts/artifacts/Token.json");
/// `contracts/artifacts/Pair.json`.
pub const PAIR_JSON: &str = include_str!("../../contracts/artifacts/Pair.json");

/// One contract's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// Runtime code (`deployedBytecode`): what a genesis deploys.
    pub runtime: Vec<u8>,
    /// Creation code (`bytecode`) without constructor arguments.
    pub creation: Vec<u8>,
}

impl Artifact {
    /// Decodes a solc artifact's `deployedBytecode` and `bytecode` fields.
    pub fn parse(name: &'static str, json: &str) -> Result<Artifact, DevkitError> {
        let err = |detail: String| DevkitError::Artifact { name, detail };
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| err(e.to_string()))?;
        let field = |f: &str| -> Result<Vec<u8>, DevkitError> {
            let hex = v[f]
                .as_str()
                .ok_or_else(|| err(format!("no `{f}` string")))?;
            alloy_primitives::hex::decode(hex.trim_start_matches("0x"))
                .map_err(|e| err(format!("`{f}`: {e}")))
        };
        Ok(Artifact {
            runtime: field("deployedBytecode")?,
            creation: field("bytecode")?,
        })
    }
}

fn cached(
    cell: &'static OnceLock<Result<Artifact, String>>,
    name: &'static str,
    json: &str,
) -> Result<&'static Artifact, DevkitError> {
    cell.get_or_init(|| Artifact::parse(name, json).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|detail| DevkitError::Artifact {
            name,
            detail: detail.clone(),
        })
}

/// `Token.sol`.
pub fn token() -> Result<&'static Artifact, DevkitError> {
    static C: OnceLock<Result<Artifact, String>> = OnceLock::new();
    cached(&C, "Token", TOKEN_JSON)
}

/// `Pair.sol`.
pub fn pair() -> Result<&'static Artifact, DevkitError> {
    static C: OnceLock<Result<Artifact, String>> = OnceLock::new();
    cached(&C, "Pair", PAIR_JSON)
}

/// Runtime code (raw EVM bytecode) of a log bomb: it emits `LOG0` over the first `chunk`
/// bytes of memory (zeros) as long as more gas than one more round needs is left, then
/// stops. One call with 30,000,000 gas and 64 KiB chunks emits 57 logs, about 3.7 MB of
/// log data: the input of the receipt-budget tests (PROTOCOL.md §6.4.3). `chunk` is meant
/// to be below 2 MiB (the threshold must fit 24 bits; it saturates there).
///
/// ```text
/// 00 JUMPDEST PUSH3 chunk PUSH1 0 LOG0          log mem[0..chunk]
/// 08 PUSH3 (8 * chunk + 1000) GAS GT            gas left > the next round's cost?
/// 0e PUSH1 0 JUMPI STOP                         then again, else stop
/// ```
pub fn log_bomb(chunk: u32) -> Vec<u8> {
    let c = chunk.min(0xff_ffff).to_be_bytes();
    let t = (8 * u64::from(chunk) + 1000).min(0xff_ffff).to_be_bytes();
    vec![
        0x5b, 0x62, c[1], c[2], c[3], 0x60, 0x00, 0xa0, 0x62, t[5], t[6], t[7], 0x5a, 0x11, 0x60,
        0x00, 0x57, 0x00,
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_artifacts_decode() {
        for a in [super::token(), super::pair()] {
            let a = a.expect("artifact");
            assert!(!a.runtime.is_empty() && a.creation.len() > a.runtime.len());
        }
    }
}
