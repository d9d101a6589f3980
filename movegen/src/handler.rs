//! revm's mainnet handler with one step left out: paying the block beneficiary.
//!
//! Fees are charged as on Ethereum (the sender pays `gas_used x effective price`, the
//! unused gas is refunded), but the beneficiary's share is not added to its account inside
//! each transaction: that would make the beneficiary's account record a key every
//! transaction consumes, and so chain every transaction of a batch behind every other. The
//! validator credits the batch's priority fees once, after the batch's last transaction
//! (PROTOCOL.md §6.4.6); [`crate::Execution::beneficiary_fee`] and
//! [`crate::Reexecuted::beneficiary_fee`] say how much each transaction adds to it.
//!
//! Written against revm's `Handler` trait, the extension point revm offers for this: every
//! other step is revm's own default.

use revm::Inspector;
use revm::context_interface::cfg::gas::InitialAndFloorGas;
use revm::context_interface::result::HaltReason;
use revm::context_interface::result::InvalidTransaction;
use revm::context_interface::{ContextTr, JournalTr, Transaction};
use revm::handler::pre_execution;
use revm::handler::{EthFrame, EvmTr, EvmTrError, FrameResult, FrameTr, Handler};
use revm::inspector::{InspectorEvmTr, InspectorHandler};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_action::FrameInit;
use revm::state::EvmState;
use std::marker::PhantomData;

/// The mainnet handler without the per-transaction beneficiary payment.
#[derive(Debug)]
pub struct NoBeneficiaryReward<EVM, ERROR, FRAME> {
    _p: PhantomData<(EVM, ERROR, FRAME)>,
}

impl<EVM, ERROR, FRAME> Default for NoBeneficiaryReward<EVM, ERROR, FRAME> {
    fn default() -> Self {
        NoBeneficiaryReward { _p: PhantomData }
    }
}

impl<EVM, ERROR, FRAME> Handler for NoBeneficiaryReward<EVM, ERROR, FRAME>
where
    EVM: EvmTr<Context: ContextTr<Journal: JournalTr<State = EvmState>>, Frame = FRAME>,
    ERROR: EvmTrError<EVM>,
    FRAME: FrameTr<FrameResult = FrameResult, FrameInit = FrameInit>,
{
    type Evm = EVM;
    type Error = ERROR;
    type HaltReason = HaltReason;

    fn reward_beneficiary(
        &self,
        _evm: &mut Self::Evm,
        _exec_result: &mut FrameResult,
    ) -> Result<(), Self::Error> {
        Ok(())
    }

    /// revm's step, after EIP-2681's rule: a sender whose nonce is `2^64 - 1` cannot send
    /// (its nonce would overflow). revm checks it against the transaction's nonce, which
    /// the protocol does not give revm (its nonce check is off: replay protection is the
    /// consumed version), so it is checked here against the sender's record.
    fn validate_against_state_and_deduct_caller(
        &self,
        evm: &mut Self::Evm,
        _init_and_floor_gas: &mut InitialAndFloorGas,
    ) -> Result<(), Self::Error> {
        let ctx = evm.ctx();
        let caller = ctx.tx().caller();
        if ctx.journal_mut().load_account(caller)?.data.info.nonce == u64::MAX {
            return Err(InvalidTransaction::NonceOverflowInTransaction.into());
        }
        pre_execution::validate_against_state_and_deduct_caller(evm.ctx())
    }
}

impl<EVM, ERROR> InspectorHandler for NoBeneficiaryReward<EVM, ERROR, EthFrame<EthInterpreter>>
where
    EVM: InspectorEvmTr<
            Context: ContextTr<Journal: JournalTr<State = EvmState>>,
            Frame = EthFrame<EthInterpreter>,
            Inspector: Inspector<<<Self as Handler>::Evm as EvmTr>::Context, EthInterpreter>,
        >,
    ERROR: EvmTrError<EVM>,
{
    type IT = EthInterpreter;
}
