//! The delivery simulation (`replyx_testkit::sim`) over a fixed set of seeds, every one
//! of which must end with every invariant holding; the seeds of bugs it found are kept
//! below and run first. A failure prints its seed and how to replay it.
//!
//!   REPLYX_SIM_SEED=1234 cargo test -p replyx-testkit --test simulation   # one seed
//!   REPLYX_SIM_SEEDS=5000 cargo test -p replyx-testkit --test simulation  # many (nightly)

use replyx_testkit::sim::{run, InjectedBug, SimConfig};

/// Seeds that once failed, kept as regression tests (seed, what it found).
const REGRESSIONS: &[(u64, &str)] = &[];

/// Seeds run by default: enough to meet every fault many times, few enough for CI.
const DEFAULT_SEEDS: u64 = 60;

fn seeds() -> Vec<u64> {
    if let Ok(one) = std::env::var("REPLYX_SIM_SEED") {
        return vec![one.parse().expect("REPLYX_SIM_SEED is a number")];
    }
    let n = std::env::var("REPLYX_SIM_SEEDS")
        .map(|v| v.parse().expect("REPLYX_SIM_SEEDS is a number"))
        .unwrap_or(DEFAULT_SEEDS);
    let offset: u64 = std::env::var("REPLYX_SIM_SEED_OFFSET")
        .map(|v| v.parse().expect("REPLYX_SIM_SEED_OFFSET is a number"))
        .unwrap_or(0);
    REGRESSIONS
        .iter()
        .map(|(seed, _)| *seed)
        .chain(offset..offset + n)
        .collect()
}

#[test]
fn every_seed_ends_with_every_invariant_holding() {
    let cfg = SimConfig::default();
    let mut totals = replyx_testkit::sim::Summary::default();
    for seed in seeds() {
        match run(seed, &cfg) {
            Ok(s) => {
                totals.stored += s.stored;
                totals.gap_fills += s.gap_fills;
                totals.client_gaps += s.client_gaps;
                totals.bus_lost += s.bus_lost;
                totals.bus_reordered += s.bus_reordered;
                totals.connects += s.connects;
                totals.faults += s.faults;
            }
            Err(failure) => panic!("{failure}"),
        }
    }
    println!("{totals:?}");
    // The runs met what they are for: faults, and both kinds of recovery.
    assert!(
        totals.faults > 0 && totals.bus_lost > 0 && totals.bus_reordered > 0,
        "{totals:?}"
    );
    assert!(totals.gap_fills > 0 && totals.client_gaps > 0, "{totals:?}");
}

#[test]
fn a_seed_replays_the_same_run() {
    let cfg = SimConfig::default();
    for seed in [3, 17] {
        let first = run(seed, &cfg).unwrap_or_else(|f| panic!("{f}"));
        let again = run(seed, &cfg).unwrap_or_else(|f| panic!("{f}"));
        assert_eq!(first, again, "seed {seed}");
    }
    assert_ne!(
        run(3, &cfg).unwrap().fingerprint,
        run(4, &cfg).unwrap().fingerprint,
        "different seeds, different runs"
    );
}

/// The simulation is an instrument: with a bug put in on purpose, some seed among the
/// first few fails, and says which invariant broke.
#[test]
fn bugs_put_in_on_purpose_are_caught() {
    for (bug, broken) in [
        (InjectedBug::SessionSkipsGapFill, "has a hole"),
        (InjectedBug::ClientIgnoresLastSeq, "missing"),
        (InjectedBug::RetryWithNewId, "stored 2 times"),
    ] {
        let cfg = SimConfig {
            bug: Some(bug),
            ..SimConfig::default()
        };
        let failure = (0..30)
            .find_map(|seed| run(seed, &cfg).err())
            .unwrap_or_else(|| panic!("{bug:?} was not caught within 30 seeds"));
        assert!(failure.reason.contains(broken), "{bug:?}: {failure}");
    }
}
