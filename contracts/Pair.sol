// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice The part of ERC20 that Pair calls.
interface IERC20Minimal {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// @title Pair
/// @notice A constant-product (x * y = k) AMM pool over two ERC20 tokens, written for this
///         project. Swaps pay a 0.3% fee (997/1000) that stays in the pool for the liquidity
///         providers. LP shares are an internal balance (no LP transfers).
/// @dev Reserves are tracked in storage and are the only source of truth for pricing: the pool
///      never calls balanceOf on its tokens, so a swap touches only the two reserve slots, the
///      two token addresses (read only) and the token balances/allowance it moves.
///      Token addresses are plain storage (not immutables) so a pool can be instantiated from a
///      genesis alloc by setting code = deployedBytecode plus its storage slots.
///      Storage layout (see README.md):
///      slot 0  token0      address
///      slot 1  token1      address
///      slot 2  reserve0    uint256
///      slot 3  reserve1    uint256
///      slot 4  totalSupply uint256 (LP shares)
///      slot 5  balanceOf   mapping(address => uint256) (LP shares)
///      Checks-effects-interactions: every function updates its storage before calling out.
///      No dependence on block.timestamp or any other block field.
contract Pair {
    address public token0;
    address public token1;
    uint256 public reserve0;
    uint256 public reserve1;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Mint(address indexed provider, uint256 amount0, uint256 amount1, uint256 liquidity);
    event Burn(address indexed provider, uint256 amount0, uint256 amount1, uint256 liquidity);
    event Swap(address indexed sender, address indexed tokenIn, uint256 amountIn, uint256 amountOut);
    event Sync(uint256 reserve0, uint256 reserve1);

    constructor(address token0_, address token1_) {
        require(token0_ != address(0) && token1_ != address(0), "zero token address");
        require(token0_ != token1_, "identical tokens");
        token0 = token0_;
        token1 = token1_;
    }

    function getReserves() external view returns (uint256, uint256) {
        return (reserve0, reserve1);
    }

    /// @notice Output for `amountIn` of `tokenIn` at the current reserves, after the 0.3% fee.
    function getAmountOut(uint256 amountIn, address tokenIn) public view returns (uint256) {
        if (tokenIn == token0) {
            return _amountOut(amountIn, reserve0, reserve1);
        }
        require(tokenIn == token1, "invalid token");
        return _amountOut(amountIn, reserve1, reserve0);
    }

    /// @notice Deposits exactly `amount0` of token0 and `amount1` of token1 (pulled with
    ///         transferFrom from the caller) and mints LP shares. The first deposit mints
    ///         sqrt(amount0 * amount1); later ones mint in proportion to the smaller of the two
    ///         ratios, so any excess over the pool's ratio accrues to the existing providers.
    function addLiquidity(uint256 amount0, uint256 amount1, uint256 minLiquidity)
        external
        returns (uint256 liquidity)
    {
        uint256 r0 = reserve0;
        uint256 r1 = reserve1;
        uint256 supply = totalSupply;
        if (supply == 0) {
            liquidity = _sqrt(amount0 * amount1);
        } else {
            uint256 l0 = (amount0 * supply) / r0;
            uint256 l1 = (amount1 * supply) / r1;
            liquidity = l0 < l1 ? l0 : l1;
        }
        require(liquidity > 0, "insufficient liquidity minted");
        require(liquidity >= minLiquidity, "slippage: liquidity");

        totalSupply = supply + liquidity;
        balanceOf[msg.sender] += liquidity;
        reserve0 = r0 + amount0;
        reserve1 = r1 + amount1;
        emit Mint(msg.sender, amount0, amount1, liquidity);
        emit Sync(r0 + amount0, r1 + amount1);

        _pull(token0, amount0);
        _pull(token1, amount1);
    }

    /// @notice Burns `liquidity` LP shares of the caller and pays out its share of both reserves.
    function removeLiquidity(uint256 liquidity, uint256 min0, uint256 min1)
        external
        returns (uint256 amount0, uint256 amount1)
    {
        require(liquidity > 0, "zero liquidity");
        uint256 held = balanceOf[msg.sender];
        require(held >= liquidity, "insufficient liquidity");
        uint256 supply = totalSupply;
        uint256 r0 = reserve0;
        uint256 r1 = reserve1;
        amount0 = (liquidity * r0) / supply;
        amount1 = (liquidity * r1) / supply;
        require(amount0 >= min0 && amount1 >= min1, "slippage: amounts");

        unchecked {
            // held >= liquidity and supply >= held; amountX <= rX since liquidity <= supply.
            balanceOf[msg.sender] = held - liquidity;
            totalSupply = supply - liquidity;
            reserve0 = r0 - amount0;
            reserve1 = r1 - amount1;
        }
        emit Burn(msg.sender, amount0, amount1, liquidity);
        emit Sync(r0 - amount0, r1 - amount1);

        _push(token0, msg.sender, amount0);
        _push(token1, msg.sender, amount1);
    }

    /// @notice Sells `amountIn` of `tokenIn` (pulled with transferFrom from the caller) for the
    ///         other token, sent to the caller. Reverts with "insufficient output" when the
    ///         output is below `minAmountOut`.
    function swap(address tokenIn, uint256 amountIn, uint256 minAmountOut)
        external
        returns (uint256 amountOut)
    {
        require(amountIn > 0, "insufficient input");
        address t0 = token0;
        address t1 = token1;
        uint256 r0 = reserve0;
        uint256 r1 = reserve1;
        address tokenOut;
        if (tokenIn == t0) {
            amountOut = _amountOut(amountIn, r0, r1);
            tokenOut = t1;
            r0 += amountIn;
            r1 -= amountOut;
        } else {
            require(tokenIn == t1, "invalid token");
            amountOut = _amountOut(amountIn, r1, r0);
            tokenOut = t0;
            r1 += amountIn;
            r0 -= amountOut;
        }
        require(amountOut > 0 && amountOut >= minAmountOut, "insufficient output");

        reserve0 = r0;
        reserve1 = r1;
        emit Swap(msg.sender, tokenIn, amountIn, amountOut);
        emit Sync(r0, r1);

        _pull(tokenIn, amountIn);
        _push(tokenOut, msg.sender, amountOut);
    }

    function _amountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut)
        private
        pure
        returns (uint256)
    {
        require(reserveIn > 0 && reserveOut > 0, "no liquidity");
        uint256 inWithFee = amountIn * 997;
        // amountOut < reserveOut always holds, so the pool can never be drained.
        return (inWithFee * reserveOut) / (reserveIn * 1000 + inWithFee);
    }

    function _pull(address token, uint256 amount) private {
        require(IERC20Minimal(token).transferFrom(msg.sender, address(this), amount), "transferFrom failed");
    }

    function _push(address token, address to, uint256 amount) private {
        require(IERC20Minimal(token).transfer(to, amount), "transfer failed");
    }

    /// @dev Floor of the square root (Babylonian method).
    function _sqrt(uint256 y) private pure returns (uint256 z) {
        if (y > 3) {
            z = y;
            uint256 x = y / 2 + 1;
            while (x < z) {
                z = x;
                x = (y / x + x) / 2;
            }
        } else if (y != 0) {
            z = 1;
        }
    }
}
