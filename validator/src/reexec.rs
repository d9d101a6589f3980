//! The EVM re-execution step: the adapter from [`mf_movegen::ReexecCheck`] (revm against
//! only the declared `prev` values, PROTOCOL.md §6.3) to this crate's [`Reexec`] trait.
//!
//! The wallet side (move generation) and this check share one engine in `mf-movegen`, so
//! they agree on every execution rule, including the block beneficiary: fees are disabled
//! (gas price 0), so revm never loads the beneficiary by itself and a plain transfer
//! touches exactly the sender's and the recipient's account records.

use crate::prepare::{CodeSource, ExecOutput, Reexec};
use mf_format::{B256, Reason, Transaction, TxId};
use mf_movegen::{CodeLookup, ReexecCheck};

/// Re-executes every transaction with revm (the validator binary's default).
#[derive(Clone, Copy, Debug, Default)]
pub struct EvmReexec;

struct Codes<'a>(&'a dyn CodeSource);

impl CodeLookup for Codes<'_> {
    fn code(&self, hash: &B256) -> Option<Vec<u8>> {
        self.0.code(hash)
    }
}

impl Reexec for EvmReexec {
    fn reexec(
        &self,
        tx: &Transaction,
        id: &TxId,
        code: &dyn CodeSource,
    ) -> Result<ExecOutput, Reason> {
        ReexecCheck
            .reexec(tx, id, &Codes(code))
            .map(|o| ExecOutput {
                gas_used: o.gas_used,
                logs: o.logs,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{GenConfig, generate};
    use crate::{Mode, Validator};
    use mf_format::{Status, sign};

    #[test]
    fn sample_batches_pass_evm_reexecution() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = generate(&GenConfig {
            accounts: 50,
            txs: 600,
            batch_size: 200,
            ..GenConfig::default()
        });
        let mut v = Validator::init(dir.path(), &s.genesis).expect("init");
        v.set_reexec(Box::new(EvmReexec));
        for b in &s.batches {
            let out = v.apply_batch(b, Mode::Strict).expect("apply");
            assert_eq!(out.accepted, b.txs.len());
            assert!(out.receipts.iter().all(|r| r.gas_used == 21_000));
        }
    }

    #[test]
    fn a_wrong_next_is_a_write_mismatch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = generate(&GenConfig {
            accounts: 10,
            txs: 2,
            batch_size: 2,
            ..GenConfig::default()
        });
        let mut v = Validator::init(dir.path(), &s.genesis).expect("init");
        v.set_reexec(Box::new(EvmReexec));
        let mut batch = s.batches[0].clone();
        let first = &batch.txs[0];
        let signer = s
            .keys
            .iter()
            .find(|k| k.address() == first.body.call.from)
            .expect("signer");
        let mut body = first.body.clone();
        if let mf_format::Value::Account(a) = &mut body.moves[1].next {
            a.balance += mf_format::U256::from(1u64);
        }
        batch.txs[0] = sign(body, &[signer]);
        let out = v.apply_batch(&batch, Mode::Filter).expect("apply");
        assert_eq!(
            out.receipts[0].status,
            Status::Rejected(Reason::WriteMismatch)
        );
    }
}
