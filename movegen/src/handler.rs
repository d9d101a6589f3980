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
use revm::context_interface::result::HaltReason;
use revm::context_interface::{ContextTr, JournalTr};
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
