//! The devnet's outcome and how it is shown.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The outcome of a devnet run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Intents submitted.
    pub submitted: u64,
    /// Accepted.
    pub accepted: u64,
    /// Rejected, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Intents the wallets could not build (a local revert), by message.
    pub not_built: u64,
    /// Intents still open at the end.
    pub unfinished: u64,
    /// Seconds spent driving.
    pub seconds: f64,
    /// Moves applied by the validator during the run.
    pub moves: u64,
    /// Latencies of accepted intents, submission to verdict, in milliseconds (sorted).
    pub latencies_ms: Vec<f64>,
    /// Height at the end.
    pub height: u64,
    /// Whether the coordinator's state hash equals the validator's at the end.
    pub state_hash_agrees: bool,
    /// With replicated validators (`--replicas N`): how many, and whether every one holds
    /// the same header hash at the final height.
    pub replicas: Option<(usize, bool)>,
    /// The directory holding data and logs.
    pub dir: PathBuf,
}

impl Summary {
    /// The `q` quantile of the latencies (0 when none).
    pub fn latency(&self, q: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_ms.len() - 1) as f64 * q).round() as usize;
        self.latencies_ms[i.min(self.latencies_ms.len() - 1)]
    }

    /// Renders the summary for a terminal.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let tps = self.accepted as f64 / self.seconds.max(1e-9);
        s.push_str(&format!(
            "devnet: {} intents submitted in {:.1} s\n",
            self.submitted, self.seconds
        ));
        s.push_str(&format!("  accepted   {:>8}\n", self.accepted));
        let rejected: u64 = self.rejected.values().sum();
        s.push_str(&format!("  rejected   {rejected:>8}\n"));
        for (r, n) in &self.rejected {
            s.push_str(&format!("    {r:<28} {n:>6}\n"));
        }
        if self.not_built > 0 {
            s.push_str(&format!(
                "  not built  {:>8} (reverted in the wallet before submission)\n",
                self.not_built
            ));
        }
        if self.unfinished > 0 {
            s.push_str(&format!("  unfinished {:>8}\n", self.unfinished));
        }
        s.push_str(&format!(
            "  throughput {tps:.0} tx/s accepted, {:.0} moves/s\n",
            self.moves as f64 / self.seconds.max(1e-9)
        ));
        s.push_str(&format!(
            "  latency    p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  max {:.0} ms\n",
            self.latency(0.5),
            self.latency(0.9),
            self.latency(0.99),
            self.latency(1.0)
        ));
        s.push_str(&format!(
            "  height {}; coordinator state hash {} the validator's\n",
            self.height,
            if self.state_hash_agrees {
                "equals"
            } else {
                "DIFFERS FROM"
            }
        ));
        if let Some((n, agree)) = self.replicas {
            s.push_str(&format!(
                "  replicas   {n} validators on a NATS JetStream order stream: {}\n",
                if agree {
                    "all hold the same header hash at that height"
                } else {
                    "they DISAGREE (see their logs)"
                }
            ));
        }
        s.push_str(&format!("  data and logs in {}\n", self.dir.display()));
        s
    }
}
