//! Tidy: the architecture's rules, checked on the source text (in the manner of
//! rust-analyzer's `tidy.rs`). The functional core (`shared/`) knows nothing of Spin,
//! HTTP or a runtime, reads no clock and no environment, and keeps floats out of money;
//! ARCHITECTURE.md names only paths that exist.

use std::path::{Path, PathBuf};

fn core_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn repo_dir() -> PathBuf {
    core_dir().join("..")
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A file's code outside its tests: test files and `tests/` folders are skipped, and a
/// file's text stops at its first `#[cfg(test)]` (the house puts tests last).
fn non_test_code(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    let in_tests_dir = path.components().any(|c| c.as_os_str() == "tests");
    if name.ends_with("_tests.rs") || name == "tests.rs" || in_tests_dir {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    // Comments may name what the code must not do.
    Some(
        code.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn offenders(files: &[PathBuf], banned: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for f in files {
        let Some(code) = non_test_code(f) else {
            continue;
        };
        for (i, line) in code.lines().enumerate() {
            for b in banned {
                if line.contains(b) {
                    found.push(format!("{}:{}: `{b}`", f.display(), i + 1));
                }
            }
        }
    }
    found
}

#[test]
fn the_core_depends_on_no_runtime() {
    let manifest = std::fs::read_to_string(core_dir().join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dev-dependencies]")
        .next()
        .unwrap_or_default();
    let banned = [
        "spin",
        "wasmtime",
        "wit-bindgen",
        "wasi",
        "http",
        "hyper",
        "reqwest",
        "tokio",
        "redis",
        "rusqlite",
    ];
    let found: Vec<&str> = deps
        .lines()
        .filter_map(|l| l.split(['=', '.', ' ']).next())
        .filter(|name| banned.iter().any(|b| name.starts_with(b)))
        .collect();
    assert!(found.is_empty(), "shared/ depends on {found:?}");
}

#[test]
fn the_core_reads_no_clock_and_no_environment() {
    let banned = [
        "Utc::now(",
        "Local::now(",
        "SystemTime::now(",
        "Instant::now(",
        "std::env::",
        "env::var",
        "std::fs::",
        "std::net::",
        "std::process::",
    ];
    let found = offenders(&rust_files(&core_dir().join("src")), &banned);
    assert!(
        found.is_empty(),
        "time comes in as an argument, I/O lives in the shells:\n{}",
        found.join("\n")
    );
}

#[test]
fn money_pricing_and_reconciliation_use_no_floats() {
    let src = core_dir().join("src");
    let mut files = vec![src.join("money.rs")];
    files.extend(rust_files(&src.join("pricing")));
    files.extend(rust_files(&src.join("reconcile")));
    let found = offenders(&files, &["f32", "f64", "as_f64", "to_f64"]);
    assert!(
        found.is_empty(),
        "money is rust_decimal::Decimal end to end:\n{}",
        found.join("\n")
    );
}

/// Every path ARCHITECTURE.md names in backticks exists: a path with a folder relative
/// to the repository (or to `shared/src/`, where the code map is written from), a bare
/// file name somewhere in the repository.
#[test]
fn architecture_names_only_paths_that_exist() {
    let text = std::fs::read_to_string(repo_dir().join("ARCHITECTURE.md")).unwrap();
    let missing = missing_paths(&text);
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

#[test]
fn the_path_check_sees_a_stale_name() {
    let text = "See `shared/src/order/book.rs`, `book.rs`, `functions/<name>/src/lib.rs`, \
                `/jobs/`, `shared/src/order/gone.rs` and `gone_too.rs`.";
    assert_eq!(
        missing_paths(text),
        vec!["shared/src/order/gone.rs", "gone_too.rs"]
    );
}

fn missing_paths(text: &str) -> Vec<String> {
    let repo = repo_dir();
    let all_files: Vec<PathBuf> = ["shared", "functions", "tests", "scripts", "docs", "wit"]
        .iter()
        .flat_map(|d| walk(&repo.join(d)))
        .collect();
    let mut missing = Vec::new();
    for token in text.split('`').skip(1).step_by(2) {
        let looks_like_path = !token.contains([' ', '<', '{', '*'])
            && !token.starts_with('/')
            && !token.starts_with("../")
            && !token.starts_with('.')
            && (token.ends_with(".rs")
                || token.ends_with(".md")
                || token.ends_with(".toml")
                || (token.ends_with('/') && token.len() > 1));
        if !looks_like_path {
            continue;
        }
        let exists = if token.trim_end_matches('/').contains('/') {
            [repo.join(token), repo.join("shared/src").join(token)]
                .iter()
                .any(|p| p.exists())
        } else {
            let name = token.trim_end_matches('/');
            repo.join(name).exists()
                || all_files.iter().any(|f| {
                    f.ancestors()
                        .any(|a| a.file_name().is_some_and(|n| n == name))
                })
        };
        if !exists {
            missing.push(token.to_string());
        }
    }
    missing
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        if d.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}
