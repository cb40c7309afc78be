//! Runs the Python tests (`python/tests/test_*.py`, with pytest) against the extension module this
//! package builds, as the `tickvault` and `vnpy_tickvault` packages a wheel would install.
//!
//! Needs a Python with numpy and pytest (and, for the vn.py conformance suite, the packages in
//! `requirements-test.txt`). Without them the test prints why and passes, unless
//! `TICKVAULT_REQUIRE_PYTHON` is set (as `.ci/run` does), when it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> String {
    std::env::var("TICKVAULT_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// The extension module cargo built for this test run: the library also builds as an rlib, so
/// `cargo test` builds it (and its cdylib, `lib_tickvault.so`, in `deps/` beside this test)
/// from the current sources whenever they change.
fn extension() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let name = format!(
        "{}_tickvault{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    deps.join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_dir(&path, &to.join(entry.file_name()));
            }
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn python_tests_pass() {
    let python = python();
    let required = std::env::var_os("TICKVAULT_REQUIRE_PYTHON").is_some();
    let probe = Command::new(&python)
        .args(["-c", "import numpy, pytest"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        let why = format!(
            "{python} with numpy and pytest is needed (pip install -r python/requirements-test.txt)"
        );
        assert!(!required, "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = tempfile::tempdir().unwrap();
    copy_dir(&here.join("pysrc"), site.path());
    let lib = extension();
    assert!(lib.exists(), "{} was not built", lib.display());
    std::fs::copy(&lib, site.path().join("tickvault/_tickvault.so")).unwrap();
    let tests = here.join("tests");
    let path = std::env::join_paths([site.path(), &tests]).unwrap();
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
        .arg(&tests)
        .env("PYTHONPATH", path)
        // vnpy_sqlite, the reference, is only right when the process zone is the database zone.
        .env("TZ", "Asia/Shanghai")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(site.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "pytest failed:\n{text}");
    if required {
        assert!(
            !text.contains("SKIPPED"),
            "a Python test was skipped:\n{text}"
        );
    }
}
