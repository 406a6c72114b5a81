//! The dashboard's command line: no terminal → one line and exit 2; `--help`
//! documents every flag; `screenshot` writes SVGs.

use std::process::{Command, Stdio};

fn tidepool() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tidepool"))
}

#[test]
fn without_a_terminal_the_dashboard_names_headless_commands_and_exits_2() {
    for args in [&[][..], &["dashboard"][..], &["--demo"][..]] {
        let out = tidepool()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("tidepool tail"), "{err}");
        assert!(out.stdout.is_empty(), "drew into a pipe");
    }
}

#[test]
fn dashboard_help_documents_every_flag() {
    let out = tidepool()
        .args(["dashboard", "--help"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--demo",
        "--demo-rate",
        "--theme",
        "--pools-dir",
        "--mouse",
        "--fps",
        "--color",
        "--tail-cap",
        "--readonly",
        "--config",
        "--log-file",
        "--no-color",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}

#[test]
fn screenshot_command_writes_svgs_and_rejects_bad_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tidepool()
        .args([
            "screenshot",
            "--view",
            "pools",
            "--theme",
            "all",
            "--size",
            "80x24",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for t in ["", "-light", "-high-contrast", "-mono"] {
        let p = dir.path().join(format!("pools{t}-80x24.svg"));
        let svg = std::fs::read_to_string(&p).expect("svg written");
        assert!(svg.starts_with("<svg"));
    }
    let out = tidepool()
        .args(["screenshot", "--size", "big"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
