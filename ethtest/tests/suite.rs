//! The features list against `docs/CONFORMANCE.md`, and the shared ethereum/tests folder.

use mf_ethtest::{Feature, Verdict};
use std::path::PathBuf;

fn conformance_doc() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/CONFORMANCE.md");
    std::fs::read_to_string(&p).expect("docs/CONFORMANCE.md")
}

/// Feature names in the table of `docs/CONFORMANCE.md` (rows that start with a backticked
/// name).
fn documented_features(doc: &str) -> Vec<String> {
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(name, _)| name.to_string())
        .collect()
}

#[test]
fn the_features_table_names_every_feature_and_nothing_else() {
    let mut documented = documented_features(&conformance_doc());
    documented.sort();
    let mut known: Vec<String> = Feature::ALL.iter().map(|f| f.name().to_string()).collect();
    known.sort();
    assert_eq!(
        documented, known,
        "docs/CONFORMANCE.md and Feature::ALL disagree"
    );
    for f in Feature::ALL {
        assert_eq!(Feature::from_name(f.name()), Some(f));
        assert!(!f.reason().is_empty());
    }
}

/// The shared ethereum/tests folder (`MF_ETHTESTS`, else `../shared/ethereum-tests` beside
/// the repository): every case runs; none may panic or fail to run, at most 3% may be
/// skipped, and at least the floor of docs/CONFORMANCE.md must pass.
#[test]
fn ethereum_tests_conformance() {
    let dir = std::env::var_os("MF_ETHTESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/ethereum-tests")
        });
    if !dir.exists() {
        assert!(
            std::env::var_os("MF_REQUIRE_ETHTESTS").is_none(),
            "MF_REQUIRE_ETHTESTS is set but {} does not exist",
            dir.display()
        );
        eprintln!(
            "SKIPPED: no ethereum/tests folder at {} (set MF_ETHTESTS)",
            dir.display()
        );
        return;
    }
    let files = mf_ethtest::test_files(&[dir]).expect("the folder reads");
    let report = mf_ethtest::run_files(&files);
    println!("{}", report.render(20));
    let broken: Vec<_> = report
        .cases
        .iter()
        .filter(|c| matches!(c.2, Verdict::Panic(_) | Verdict::Error(_)))
        .map(|c| format!("{}: {:?}", c.1, c.2))
        .collect();
    assert!(broken.is_empty(), "cases that could not run: {broken:#?}");
    let total = report.cases.len();
    assert!(total > 0, "no cases");
    assert!(
        report.skipped() * 100 <= total * 3,
        "{} of {total} cases skipped: more than 3%",
        report.skipped()
    );
    let doc = conformance_doc();
    let floor: usize = doc
        .lines()
        .find_map(|l| l.strip_prefix("floor: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a `floor: N` line in docs/CONFORMANCE.md");
    assert!(
        report.passed() >= floor,
        "{} passed, below the floor of {floor} in docs/CONFORMANCE.md",
        report.passed()
    );
}
