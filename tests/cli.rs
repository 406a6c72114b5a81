//! The binary's command line: exit codes and error output.

use std::process::Command;

fn tidepool() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tidepool"))
}

#[test]
fn version_prints_the_crate_version() {
    let out = tidepool().arg("version").output().expect("runs");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");
}

#[test]
fn unknown_flag_is_a_usage_error_with_exit_2() {
    let out = tidepool().arg("--no-such-flag").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}
