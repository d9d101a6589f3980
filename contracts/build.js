#!/usr/bin/env node
// Compiles Token.sol and Pair.sol with the pinned solc-js (standard JSON, optimizer on with
// 200 runs, evmVersion cancun) and writes artifacts/<Name>.json. The output is deterministic:
// re-running on the same sources gives byte-identical files. Any compiler error (or a solc
// version other than the one pinned in package.json) fails the build with a non-zero exit.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const solc = require('solc');

const ROOT = __dirname;
const OUT_DIR = path.join(ROOT, 'artifacts');
const CONTRACTS = [
  { file: 'Token.sol', name: 'Token' },
  { file: 'Pair.sol', name: 'Pair' },
];
const EVM_VERSION = 'cancun';
const OPTIMIZER_RUNS = 200;

function fail(msg) {
  console.error(`build.js: ${msg}`);
  process.exit(1);
}

const pinned = require('./package.json').dependencies.solc;
const solcVersion = solc.version();
if (!solcVersion.startsWith(`${pinned}+`)) {
  fail(`solc ${solcVersion} is loaded but package.json pins ${pinned}; run \`npm ci\``);
}

const sources = {};
const raw = {};
for (const { file } of CONTRACTS) {
  raw[file] = fs.readFileSync(path.join(ROOT, file));
  sources[file] = { content: raw[file].toString('utf8') };
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    evmVersion: EVM_VERSION,
    optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
    outputSelection: {
      '*': {
        '*': [
          'abi',
          'evm.bytecode.object',
          'evm.deployedBytecode.object',
          'evm.deployedBytecode.immutableReferences',
          'evm.methodIdentifiers',
          'storageLayout',
        ],
      },
    },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const diagnostics = output.errors || [];
for (const d of diagnostics) {
  console.error(d.formattedMessage || d.message);
}
const errors = diagnostics.filter((d) => d.severity === 'error');
if (errors.length > 0) {
  fail(`${errors.length} compiler error(s)`);
}

// Sort object keys recursively so that the output does not depend on the order in which
// solc happens to emit them (arrays keep their order: ABI and storage order are meaningful).
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
    return out;
  }
  return v;
}

fs.mkdirSync(OUT_DIR, { recursive: true });
for (const { file, name } of CONTRACTS) {
  const c = output.contracts && output.contracts[file] && output.contracts[file][name];
  if (!c) fail(`no output for ${file}:${name}`);
  const bytecode = c.evm.bytecode.object;
  const deployed = c.evm.deployedBytecode.object;
  if (!/^([0-9a-f]{2})+$/.test(bytecode) || !/^([0-9a-f]{2})+$/.test(deployed)) {
    fail(`${name}: empty or non-hex bytecode (unlinked library?)`);
  }
  if (Object.keys(c.evm.deployedBytecode.immutableReferences || {}).length > 0) {
    // deployedBytecode would then hold placeholders and could not be put into a genesis alloc.
    fail(`${name}: uses immutables; keep everything in storage`);
  }
  // Fixed key order (insertion order is what JSON.stringify follows).
  const artifact = {
    contractName: name,
    abi: c.abi.map(sortKeys),
    bytecode: `0x${bytecode}`,
    deployedBytecode: `0x${deployed}`,
    methodIdentifiers: sortKeys(c.evm.methodIdentifiers),
    storageLayout: sortKeys(c.storageLayout),
    solcVersion,
    evmVersion: EVM_VERSION,
    optimizerRuns: OPTIMIZER_RUNS,
    sourceSha256: crypto.createHash('sha256').update(raw[file]).digest('hex'),
  };
  const target = path.join(OUT_DIR, `${name}.json`);
  fs.writeFileSync(target, `${JSON.stringify(artifact, null, 2)}\n`);
  console.log(
    `${path.relative(ROOT, target)}: creation ${bytecode.length / 2} bytes, runtime ${deployed.length / 2} bytes`,
  );
}
