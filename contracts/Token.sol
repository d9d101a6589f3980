// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Token
/// @notice A minimal, fixed-supply ERC20 written for this project.
/// @dev Storage layout (the Rust side computes storage keys from it; see README.md):
///      slot 0  balanceOf   mapping(address => uint256)
///      slot 1  allowance   mapping(address => mapping(address => uint256))
///      slot 2  totalSupply uint256
///      slot 3  name        string
///      slot 4  symbol      string
///      `decimals` is a constant (18) and takes no slot.
///      An allowance of type(uint256).max is treated as infinite and is never decreased,
///      so a transferFrom under it reads the allowance slot but does not write it.
contract Token {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;
    string public name;
    string public symbol;

    uint8 public constant decimals = 18;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint256 supply, address holder) {
        require(holder != address(0), "mint to zero address");
        name = name_;
        symbol = symbol_;
        totalSupply = supply;
        balanceOf[holder] = supply;
        emit Transfer(address(0), holder, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        require(spender != address(0), "approve to zero address");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "insufficient allowance");
            unchecked {
                allowance[from][msg.sender] = allowed - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private {
        require(to != address(0), "transfer to zero address");
        uint256 fromBalance = balanceOf[from];
        require(fromBalance >= value, "insufficient balance");
        unchecked {
            // Cannot underflow (checked above) and cannot overflow: the sum of all
            // balances is totalSupply, which fits in a uint256.
            balanceOf[from] = fromBalance - value;
            balanceOf[to] += value;
        }
        emit Transfer(from, to, value);
    }
}
