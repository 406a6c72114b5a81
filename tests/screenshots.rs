//! Committed screenshots are what `tidepool screenshot` produces now (console spec
//! section 10).

use std::path::Path;

#[test]
fn committed_screenshots_are_current() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written = tidepool::cli::screenshot::write_all(dir.path(), "all", "dark", (120, 36))
        .expect("renders");
    assert!(!written.is_empty());
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    for path in written {
        let name = path.file_name().expect("file name");
        let fresh = std::fs::read_to_string(&path).expect("fresh svg");
        let old = std::fs::read_to_string(committed.join(name)).unwrap_or_default();
        assert!(
            fresh == old,
            "screenshots/{} is out of date: run `tidepool screenshot --out screenshots/`",
            name.to_string_lossy()
        );
    }
}

#[test]
fn screenshots_are_byte_identical_across_runs() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    for d in [&a, &b] {
        tidepool::cli::screenshot::write_all(d.path(), "pools", "light", (80, 24))
            .expect("renders");
    }
    let name = "pools-light-80x24.svg";
    let x = std::fs::read(a.path().join(name)).expect("a");
    let y = std::fs::read(b.path().join(name)).expect("b");
    assert_eq!(x, y);
}
