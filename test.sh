#!/usr/bin/env bash
# The test command (README.md), on a fresh clone or an old checkout alike: installs what the
# suite needs and lacks (quick when everything is there), then runs every test.
#
#   ./test.sh                 # the whole suite: cargo nextest, then the doc tests
#   ./test.sh -p mf-devkit    # arguments go to `cargo nextest run` (the doc tests then run
#                             # for the whole workspace as well)
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo >/dev/null; then
  echo "test.sh: cargo is missing: this project needs a Rust toolchain (https://rustup.rs)" >&2
  exit 1
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

# The client-conformance tests (cli/coordinator/tests/clients.rs, client_tools.rs) run viem,
# a standard Ethereum client library, and Foundry's cast and anvil against live nodes: the
# pinned npm packages. Installed again only when the lock file changed since the last install.
clients=cli/coordinator/tests/clients
stamp="$clients/node_modules/.mf-installed-lock"
if ! cmp -s "$clients/package-lock.json" "$stamp" 2>/dev/null; then
  if ! command -v npm >/dev/null; then
    echo "test.sh: npm is missing: the client-conformance test needs Node.js and npm" >&2
    exit 1
  fi
  npm ci --prefix "$clients" --no-audit --no-fund
  cp "$clients/package-lock.json" "$stamp"
fi

# The web3.py check (cli/coordinator/tests/client_tools.rs) runs web3.py and eth-account in a
# virtual environment next to it: best effort, as without Python's venv or PyPI those tests
# print SKIPPED. Installed again only when requirements.txt changed since the last install.
venv="$clients/.venv"
vstamp="$venv/.mf-installed-requirements"
if ! cmp -s "$clients/requirements.txt" "$vstamp" 2>/dev/null; then
  if command -v python3 >/dev/null && python3 -m venv "$venv" >/dev/null 2>&1 &&
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$clients/requirements.txt"; then
    cp "$clients/requirements.txt" "$vstamp"
  else
    echo "test.sh: could not set up web3.py in $venv (needs python3 with venv and PyPI); its checks will be skipped" >&2
  fi
fi

cargo nextest run --workspace "$@"
cargo test --workspace --doc
