//! Replays every input the fuzz targets ever crashed on (tests/fuzz/regressions/<target>/*) and the
//! committed fuzz corpus (tests/fuzz/corpus/<target>/*) through the same entry points the libFuzzer
//! targets call (tests/fuzz/harness.rs), so plain `cargo test` keeps the fixes without nightly.

#[path = "fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz")
        .join(kind);
    let mut n = 0;
    for (target, run) in harness::TARGETS {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        let mut files: Vec<_> = dir.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        // FUZZ_CASE=<part of a path> replays only the matching cases (to find which one fails)
        let only = std::env::var("FUZZ_CASE").unwrap_or_default();
        for f in files
            .into_iter()
            .filter(|f| f.to_string_lossy().contains(&only))
        {
            let data = std::fs::read(&f).expect("a readable case");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} panics on {}", f.display());
            n += 1;
        }
    }
    n
}

#[test]
fn fuzz_regressions_replay_without_panicking() {
    // The directory exists once the first crash was fixed; until then there is nothing to replay.
    let n = replay("regressions");
    eprintln!("{n} regression cases replayed");
}

#[test]
fn fuzz_corpus_replays_without_panicking() {
    let n = replay("corpus");
    assert!(n > 0, "the committed corpus is empty");
}
