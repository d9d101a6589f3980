//! The verdict on one case, and the report over many: one line per outcome with its count,
//! the cases that failed with their first difference, and the last line
//! `N passed, M failed, K skipped`.

use crate::features::Feature;
use crate::run::Refusal;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What happened to one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The validator's state equals Ethereum's post-state (after refusing, as Ethereum
    /// does, every block Ethereum refuses, when `refused_as_expected`).
    Matched {
        /// Whether a block was refused as Ethereum refuses it.
        refused_as_expected: bool,
    },
    /// The states differ: the first difference.
    Differs(String),
    /// A block Ethereum accepts was refused.
    Refused {
        /// Its index in the case.
        block: usize,
        /// Why.
        refusal: Refusal,
    },
    /// A block Ethereum refuses was accepted.
    AcceptedInvalid {
        /// Its index in the case.
        block: usize,
        /// The exception Ethereum raises.
        exception: String,
    },
    /// The case needs a feature the protocol lacks.
    Skipped(Feature),
    /// The case could not be run (unreadable, or the runner or validator failed).
    Error(String),
    /// The runner panicked on the case.
    Panic(String),
}

impl Verdict {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Matched { .. })
    }

    /// Whether the case was skipped.
    pub fn skipped(&self) -> bool {
        matches!(self, Verdict::Skipped(_))
    }

    /// The outcome line it counts under.
    pub fn outcome(&self) -> String {
        match self {
            Verdict::Matched {
                refused_as_expected: false,
            } => "pass: post-state equal".into(),
            Verdict::Matched {
                refused_as_expected: true,
            } => "pass: invalid block refused, post-state equal".into(),
            Verdict::Differs(_) => "fail: post-state differs".into(),
            Verdict::Refused { refusal, .. } => {
                format!("fail: refused ({}) where Ethereum accepts", refusal.kind)
            }
            Verdict::AcceptedInvalid { .. } => "fail: accepted where Ethereum refuses".into(),
            Verdict::Skipped(f) => format!("skipped: {}", f.name()),
            Verdict::Error(_) => "fail: could not run".into(),
            Verdict::Panic(_) => "fail: panic".into(),
        }
    }

    /// What to say about a failed case.
    pub fn detail(&self) -> Option<String> {
        match self {
            Verdict::Differs(d) => Some(d.clone()),
            Verdict::Refused { block, refusal } => {
                Some(format!("block {block} refused: {}", refusal.detail))
            }
            Verdict::AcceptedInvalid { block, exception } => Some(format!(
                "block {block} accepted; Ethereum raises {exception}"
            )),
            Verdict::Error(e) => Some(e.clone()),
            Verdict::Panic(p) => Some(format!("panic: {p}")),
            _ => None,
        }
    }
}

/// Verdicts over many cases, by name.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// `(file, case name, verdict)`, in the order run.
    pub cases: Vec<(String, String, Verdict)>,
}

impl Report {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.2.passed()).count()
    }

    /// Cases skipped for a feature.
    pub fn skipped(&self) -> usize {
        self.cases.iter().filter(|c| c.2.skipped()).count()
    }

    /// Cases that failed (mismatches, errors, panics).
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed() - self.skipped()
    }

    /// Count per outcome line.
    pub fn outcomes(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for (_, _, v) in &self.cases {
            *m.entry(v.outcome()).or_insert(0) += 1;
        }
        m
    }

    /// Whether a case panicked.
    pub fn panicked(&self) -> bool {
        self.cases.iter().any(|c| matches!(c.2, Verdict::Panic(_)))
    }

    /// The report as text: outcome counts, the failed cases (at most `max_failures` of
    /// them, each with its first difference), and the summary line last.
    pub fn render(&self, max_failures: usize) -> String {
        let mut out = String::new();
        for (outcome, n) in self.outcomes() {
            let _ = writeln!(out, "{n:>6}  {outcome}");
        }
        let failed: Vec<_> = self
            .cases
            .iter()
            .filter(|c| !c.2.passed() && !c.2.skipped())
            .collect();
        if !failed.is_empty() {
            let _ = writeln!(out, "failed cases:");
        }
        for (file, name, v) in failed.iter().take(max_failures) {
            let _ = writeln!(out, "  {name} ({file}): {}", v.detail().unwrap_or_default());
        }
        if failed.len() > max_failures {
            let _ = writeln!(out, "  ... and {} more", failed.len() - max_failures);
        }
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} skipped",
            self.passed(),
            self.failed(),
            self.skipped()
        );
        out
    }
}
