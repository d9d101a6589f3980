//! Turning "call contract X with this calldata" into a signed transaction.

use crate::MovegenError;
use crate::exec::{Execution, execute_under};
use crate::policy::SignPolicy;
use crate::view::StateView;
use mf_format::{
    AccessItem, Address, Call, ChainRules, ExecContext, Fee, Key, Keypair, Mask, Transaction,
    TxBody, TxId, U256, limits::MAX_GAS_LIMIT, sign, tx_id,
};

/// A call to execute, fill and sign: see the crate documentation for an example.
///
/// [`TxBuilder::build`] executes the call against a [`StateView`], declares every key it
/// touched as a move (consumes for keys it changed, references for keys it only read),
/// gives each move the mask of its [`SignPolicy`] (by default everything is signed:
/// [`mf_format::Mask::ALL`] on every move, `open = false`), and signs with the caller's key
/// and any co-signers. [`TxBuilder::with_mask`] and [`TxBuilder::open`] leave fields to a
/// filler (see [`crate::policy`] for the rules and the common patterns, and [`crate::fill`]
/// for the filler's side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxBuilder {
    chain_id: u64,
    to: Option<Address>,
    value: U256,
    input: Vec<u8>,
    gas_limit: u64,
    fee: Fee,
    access_list: Vec<AccessItem>,
    rules: ChainRules,
    context: ExecContext,
    policy: SignPolicy,
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
            fee: Fee::default(),
            access_list: Vec::new(),
            rules: ChainRules::default(),
            context: ExecContext::default(),
            policy: SignPolicy::all(),
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

    /// The fee fields (the default is a legacy price of 0, which only a chain whose base
    /// fee is 0 accepts): the sender pays `gas_used x` the effective price, and needs
    /// `gas_limit x fee cap + value` up front (PROTOCOL.md §6.3).
    pub fn fee(mut self, fee: Fee) -> TxBuilder {
        self.fee = fee;
        self
    }

    /// The EIP-2930 access list (not with a legacy fee).
    pub fn access_list(mut self, access_list: Vec<AccessItem>) -> TxBuilder {
        self.access_list = access_list;
        self
    }

    /// The chain's rules the call executes under (fork schedule, gas limit, base fee,
    /// beneficiary...; a validator's `GET /genesis` gives them). The default rules unless
    /// set.
    pub fn rules(mut self, rules: ChainRules) -> TxBuilder {
        self.rules = rules;
        self
    }

    /// The execution context (block number, timestamp) the call assumes. Validators accept
    /// a transaction only inside the context window (PROTOCOL.md §6.3.1,
    /// [`mf_format::check_context`]): wallets should set
    /// `ExecContext { block_number: head + 1, timestamp: now }`. The default `(0, 0)` is
    /// valid only at heights 1–256.
    pub fn context(mut self, context: ExecContext) -> TxBuilder {
        self.context = context;
        self
    }

    /// The signing policy (replaces any masks and `open` set before).
    pub fn sign_policy(mut self, policy: SignPolicy) -> TxBuilder {
        self.policy = policy;
        self
    }

    /// Signs the move on `key` with `mask` (see [`SignPolicy::with_mask`]).
    pub fn with_mask(mut self, key: Key, mask: Mask) -> TxBuilder {
        self.policy = self.policy.with_mask(key, mask);
        self
    }

    /// Whether a filler may add unsigned moves (required for any mask-0 move).
    pub fn open(mut self, open: bool) -> TxBuilder {
        self.policy = self.policy.open(open);
        self
    }

    /// The signing policy.
    pub fn policy(&self) -> &SignPolicy {
        &self.policy
    }

    /// The call made by `from`.
    pub fn to_call(&self, from: Address) -> Call {
        Call {
            from,
            to: self.to,
            value: self.value,
            input: self.input.clone(),
            gas_limit: self.gas_limit,
            fee: self.fee,
            access_list: self.access_list.clone(),
            blob: None,
        }
    }

    /// Executes against `view` and returns the unsigned body (masks and `open` from the
    /// policy, in canonical order: [`TxBody::canonicalize`]) with its execution (whose
    /// moves keep [`Mask::ALL`]).
    pub fn body<V: StateView>(
        &self,
        view: &V,
        from: Address,
    ) -> Result<(TxBody, Execution), MovegenError> {
        let call = self.to_call(from);
        let execution = execute_under(
            view,
            self.chain_id,
            &self.rules,
            &call,
            &self.context,
            false,
        )?;
        self.body_from(execution, from)
    }

    /// The unsigned body for an execution of this builder's call by `from` that was run
    /// elsewhere (a coordinator's `mf_simulate`): the policy's masks and `open` applied to
    /// its moves. What the signer signs is still checked by every validator's re-execution.
    pub fn body_from(
        &self,
        execution: Execution,
        from: Address,
    ) -> Result<(TxBody, Execution), MovegenError> {
        let call = self.to_call(from);
        let mut moves = execution.moves.clone();
        self.policy
            .apply(from, &mut moves)
            .map_err(MovegenError::Policy)?;
        let mut body = TxBody {
            chain_id: self.chain_id,
            call,
            context: self.context,
            open: self.policy.open,
            moves,
            created_code: execution.created_code.clone(),
        };
        // The signed moves first (in key order), then the unsigned ones (in key order):
        // the one order validators accept (PROTOCOL.md §6.1 #7c).
        body.canonicalize();
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
        Ok(Self::sign_body(body, execution, signer, cosigners))
    }

    /// Signs the body for an execution run elsewhere (see [`TxBuilder::body_from`]).
    pub fn build_with(
        &self,
        execution: Execution,
        signer: &Keypair,
        cosigners: &[&Keypair],
    ) -> Result<Built, MovegenError> {
        let (body, execution) = self.body_from(execution, signer.address())?;
        Ok(Self::sign_body(body, execution, signer, cosigners))
    }

    fn sign_body(
        body: TxBody,
        execution: Execution,
        signer: &Keypair,
        cosigners: &[&Keypair],
    ) -> Built {
        let id = tx_id(&body);
        let mut keys: Vec<&Keypair> = Vec::with_capacity(1 + cosigners.len());
        keys.push(signer);
        keys.extend_from_slice(cosigners);
        Built {
            tx: sign(body, &keys),
            id,
            execution,
        }
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The execution context.
    pub fn exec_context(&self) -> ExecContext {
        self.context
    }
}
