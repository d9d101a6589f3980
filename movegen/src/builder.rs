//! Turning "call contract X with this calldata" into a signed transaction.

use crate::MovegenError;
use crate::exec::{Execution, execute};
use crate::view::StateView;
use mf_format::{
    Address, Call, ExecContext, Keypair, Transaction, TxBody, TxId, U256, limits::MAX_GAS_LIMIT,
    sign, tx_id,
};

/// A call to execute, fill and sign: see the crate documentation for an example.
///
/// [`TxBuilder::build`] executes the call against a [`StateView`], declares every key it
/// touched as a move (consumes for keys it changed, references for keys it only read),
/// signs everything ([`mf_format::Mask::ALL`] on every move, `open = false`) with the
/// caller's key and any co-signers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxBuilder {
    chain_id: u64,
    to: Option<Address>,
    value: U256,
    input: Vec<u8>,
    gas_limit: u64,
    context: ExecContext,
}

/// A signed transaction and what its execution produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    /// The signed transaction.
    pub tx: Transaction,
    /// Its id (the `intx` of the versions it creates).
    pub id: TxId,
    /// The execution it declares.
    pub execution: Execution,
}

impl TxBuilder {
    /// A call to `to` with `input` as calldata (gas limit [`MAX_GAS_LIMIT`] by default: gas
    /// is free).
    pub fn call(chain_id: u64, to: Address, input: Vec<u8>) -> TxBuilder {
        TxBuilder {
            chain_id,
            to: Some(to),
            value: U256::ZERO,
            input,
            gas_limit: MAX_GAS_LIMIT,
            context: ExecContext::default(),
        }
    }

    /// A plain value transfer (gas limit 21,000).
    pub fn transfer(chain_id: u64, to: Address, value: U256) -> TxBuilder {
        TxBuilder {
            value,
            gas_limit: 21_000,
            ..TxBuilder::call(chain_id, to, Vec::new())
        }
    }

    /// A contract creation with `init_code` (creation code followed by the ABI-encoded
    /// constructor arguments).
    pub fn create(chain_id: u64, init_code: Vec<u8>) -> TxBuilder {
        TxBuilder {
            to: None,
            ..TxBuilder::call(chain_id, Address::ZERO, init_code)
        }
    }

    /// Wei sent with the call.
    pub fn value(mut self, value: U256) -> TxBuilder {
        self.value = value;
        self
    }

    /// The gas limit.
    pub fn gas_limit(mut self, gas_limit: u64) -> TxBuilder {
        self.gas_limit = gas_limit;
        self
    }

    /// The execution context (block number, timestamp) the call assumes.
    pub fn context(mut self, context: ExecContext) -> TxBuilder {
        self.context = context;
        self
    }

    /// The call made by `from`.
    pub fn to_call(&self, from: Address) -> Call {
        Call {
            from,
            to: self.to,
            value: self.value,
            input: self.input.clone(),
            gas_limit: self.gas_limit,
        }
    }

    /// Executes against `view` and returns the unsigned body with its execution.
    pub fn body<V: StateView>(
        &self,
        view: &V,
        from: Address,
    ) -> Result<(TxBody, Execution), MovegenError> {
        let call = self.to_call(from);
        let execution = execute(view, self.chain_id, &call, &self.context)?;
        let body = TxBody {
            chain_id: self.chain_id,
            call,
            context: self.context,
            open: false,
            moves: execution.moves.clone(),
            created_code: execution.created_code.clone(),
        };
        Ok((body, execution))
    }

    /// Executes against `view` as `signer` and signs (`signer` first, then `cosigners`).
    pub fn build<V: StateView>(
        &self,
        view: &V,
        signer: &Keypair,
        cosigners: &[&Keypair],
    ) -> Result<Built, MovegenError> {
        let (body, execution) = self.body(view, signer.address())?;
        let id = tx_id(&body);
        let mut keys: Vec<&Keypair> = Vec::with_capacity(1 + cosigners.len());
        keys.push(signer);
        keys.extend_from_slice(cosigners);
        Ok(Built {
            tx: sign(body, &keys),
            id,
            execution,
        })
    }
}
