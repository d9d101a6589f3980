//! Where the committed contracts keep their state (the layouts documented at the top of
//! `contracts/Token.sol` and `contracts/Pair.sol`): the slots a genesis writes and the keys a
//! coordinator is asked to fill.

/// `Token.sol`: `balanceOf` (slot 0), `allowance` (slot 1), `totalSupply` (slot 2), `name`
/// (slot 3), `symbol` (slot 4).
pub mod token {
    use mf_format::{Address, U256};
    use mf_movegen::abi::{mapping_slot, nested_mapping_slot};

    /// `totalSupply`.
    pub const TOTAL_SUPPLY: U256 = U256::from_limbs([2, 0, 0, 0]);
    /// `name` (a string: up to 31 bytes in the slot itself).
    pub const NAME: U256 = U256::from_limbs([3, 0, 0, 0]);
    /// `symbol` (a string: up to 31 bytes in the slot itself).
    pub const SYMBOL: U256 = U256::from_limbs([4, 0, 0, 0]);

    /// `balanceOf[holder]`.
    pub fn balance(holder: Address) -> U256 {
        mapping_slot(holder, U256::ZERO)
    }

    /// `allowance[owner][spender]`.
    pub fn allowance(owner: Address, spender: Address) -> U256 {
        nested_mapping_slot(owner, spender, U256::from(1u64))
    }
}

/// `Pair.sol`: `token0`, `token1`, `reserve0`, `reserve1`, `totalSupply` (LP shares) in slots
/// 0 to 4, the LP `balanceOf` mapping in slot 5.
pub mod pair {
    use mf_format::{Address, Key, U256};
    use mf_movegen::abi::mapping_slot;

    /// `token0`.
    pub const TOKEN0: U256 = U256::from_limbs([0, 0, 0, 0]);
    /// `token1`.
    pub const TOKEN1: U256 = U256::from_limbs([1, 0, 0, 0]);
    /// `reserve0`.
    pub const RESERVE0: U256 = U256::from_limbs([2, 0, 0, 0]);
    /// `reserve1`.
    pub const RESERVE1: U256 = U256::from_limbs([3, 0, 0, 0]);
    /// `totalSupply` of LP shares.
    pub const TOTAL_SUPPLY: U256 = U256::from_limbs([4, 0, 0, 0]);

    /// LP `balanceOf[holder]`.
    pub fn lp_balance(holder: Address) -> U256 {
        mapping_slot(holder, U256::from(5u64))
    }

    /// The pool's contested state: both reserves and the pair's balance in each token (what a
    /// swap leaves to the coordinator).
    pub fn pool_keys(pair: Address, token0: Address, token1: Address) -> [Key; 4] {
        [
            Key::storage(pair, RESERVE0),
            Key::storage(pair, RESERVE1),
            Key::storage(token0, super::token::balance(pair)),
            Key::storage(token1, super::token::balance(pair)),
        ]
    }
}

/// The output of the pair's constant-product formula (0.3% fee) for `amount_in`.
pub fn amount_out(
    amount_in: mf_format::U256,
    reserve_in: mf_format::U256,
    reserve_out: mf_format::U256,
) -> mf_format::U256 {
    use mf_format::U256;
    let fee_in = amount_in * U256::from(997u64);
    fee_in * reserve_out / (reserve_in * U256::from(1000u64) + fee_in)
}
