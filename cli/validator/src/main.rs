//! `mf-validator`: the validator's command-line interface. See `mf-validator --help`.
//!
//! The library (`mf-validator`) holds the validator; this binary parses the command line
//! ([`args`]) and runs one command: generating and ingesting batches ([`ingest`]), serving
//! the HTTP API ([`serve`]), or checking and showing a data directory ([`inspect`]).

#![warn(unused_crate_dependencies)]

// Dev-dependencies of the integration tests (tests/), not of this binary.
#[cfg(test)]
use alloy_primitives as _;
#[cfg(test)]
use curve25519_dalek as _;
#[cfg(test)]
use ed25519_dalek as _;
#[cfg(test)]
use fuser as _;
#[cfg(test)]
use heed as _;
#[cfg(test)]
use mf_api as _;
#[cfg(test)]
use mf_devkit as _;
#[cfg(test)]
use mf_import as _;
#[cfg(test)]
use mf_lmdb as _;
#[cfg(test)]
use mf_movegen as _;
#[cfg(test)]
use nix as _;
#[cfg(test)]
use proptest as _;
#[cfg(test)]
use revm as _;
#[cfg(test)]
use tempfile as _;

/// `println!` that ignores a closed stdout (`mf-validator inspect | head -1`) instead of
/// panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod args;
mod ingest;
mod inspect;
mod serve;

use anyhow::{Context, Result};
use args::{Cli, Command, OrderArg};
use clap::Parser;
use mf_validator::Validator;
use mf_validator::sample::GenConfig;
use mf_validator::server::ServeConfig;
use mf_validator::verify::Order;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // The report is the output; a validator opened per case would drown it.
        Command::Ethtest { .. } => mf_cli::init_logging_at("warn"),
        _ => mf_cli::init_logging(),
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            mf_cli::set_progress(None);
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo {
            dir,
            accounts,
            txs,
            batch_size,
        } => ingest::demo(
            dir,
            &GenConfig {
                accounts,
                txs,
                batch_size: usize::try_from(batch_size).context("batch size")?,
                time_s: mf_validator::now_ms() / 1000,
                ..GenConfig::default()
            },
        ),
        Command::Init { data, genesis } => ingest::init(&data, &genesis),
        Command::Gen {
            out,
            accounts,
            txs,
            batch_size,
            seed,
            chain_id,
            time,
        } => ingest::gen_sample(
            &out,
            &GenConfig {
                chain_id,
                accounts,
                txs,
                batch_size: usize::try_from(batch_size).context("batch size")?,
                seed,
                time_s: time.unwrap_or_else(|| mf_validator::now_ms() / 1000),
            },
        ),
        Command::Ingest {
            data,
            mode,
            fixed_time,
            header_times,
            files,
        } => ingest::ingest(
            &data,
            mode.into(),
            fixed_time,
            header_times.as_deref(),
            &files,
        ),
        Command::Serve {
            data,
            listen,
            mode,
            queue,
            fixed_time,
            limits,
            order,
            order_replicas,
            order_wait,
        } => serve::serve(
            &data,
            listen,
            fixed_time,
            order.map(|url| (url, order_replicas as usize)),
            ServeConfig {
                mode: mode.into(),
                queue: usize::try_from(queue).context("queue")?,
                body_timeout: limits.body_timeout(),
                body_min_rate: limits.body_min_rate,
                connections: limits.connections(),
                order_wait: std::time::Duration::from_secs(order_wait),
                ..ServeConfig::default()
            },
        ),
        Command::Publish {
            order,
            chain_id,
            order_replicas,
            files,
        } => serve::publish(&order, chain_id, order_replicas as usize, &files),
        Command::Check { data } => inspect::check(&data),
        Command::Inspect { data, json } => inspect::inspect(&data, json),
        Command::Ethtest {
            paths,
            max_failures,
        } => ethtest(&paths, max_failures),
        Command::VerifyChain {
            data,
            order,
            seed,
            json,
        } => inspect::verify_chain(
            &data,
            match order {
                OrderArg::Forward => Order::Forward,
                OrderArg::Reverse => Order::Reverse,
                OrderArg::Shuffle => Order::Shuffle { seed },
            },
            json,
        ),
    }
}

/// Pins the header clock of `v` to `fixed_time` seconds, if given (`--fixed-time`).
pub(crate) fn pin_clock(v: &mut Validator, fixed_time: Option<u64>) {
    if let Some(s) = fixed_time {
        let ms = s.saturating_mul(1000);
        v.set_clock(move || ms);
    }
}

pub(crate) fn open(data: &Path) -> Result<Validator> {
    // Re-execution with revm is the library's default.
    Validator::open(data)
        .with_context(|| format!("cannot open the data directory {}", data.display()))
}

/// `ethtest`: runs the blockchain tests under `paths` and prints the report.
fn ethtest(paths: &[std::path::PathBuf], max_failures: usize) -> Result<ExitCode> {
    let files = mf_ethtest::test_files(paths)?;
    if files.is_empty() {
        anyhow::bail!("no .json test files under the paths given");
    }
    let report = mf_ethtest::run_files(&files);
    let _ = write!(std::io::stdout(), "{}", report.render(max_failures));
    Ok(if report.failed() > 0 || report.panicked() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
