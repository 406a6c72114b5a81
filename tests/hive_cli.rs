//! `tidepool hive …` end to end: exit codes and the wrpme name and number on
//! stderr (style guide section 4, hive spec section 3).

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn tidepool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tidepool"))
        .args(args)
        .env("TIDEPOOL_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn embedded_target_round_trip_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let target = format!("embedded:{}", dir.path().display());
    let t = target.as_str();
    let ok = tidepool(&["hive", "put", "--hive", t, "user:1", "ann"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let again = tidepool(&["hive", "put", "--hive", t, "user:1", "bob"]);
    assert_eq!(again.status.code(), Some(4));
    assert!(
        stderr(&again).contains("alias_already_exists (9)"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        stdout(&tidepool(&["hive", "get", "--hive", t, "user:1"])),
        "ann"
    );
    let file = dir.path().join("value.bin");
    std::fs::write(&file, b"from a file").unwrap();
    let upd = tidepool(&[
        "hive",
        "update",
        "--hive",
        t,
        "user:2",
        &format!("@{}", file.display()),
    ]);
    assert!(upd.status.success(), "{}", stderr(&upd));
    assert_eq!(
        stdout(&tidepool(&["hive", "get", "--hive", t, "user:2"])),
        "from a file"
    );
    assert_eq!(
        stdout(&tidepool(&["hive", "ls", "--hive", t, "user:"])),
        "user:1\nuser:2\n"
    );
    let cas = tidepool(&["hive", "cas", "--hive", t, "user:1", "carl", "nope"]);
    assert_eq!(cas.status.code(), Some(4));
    assert!(stderr(&cas).contains("unmatched_content (30)"));
    assert_eq!(stdout(&cas), "ann");
    let cas = tidepool(&["hive", "cas", "--hive", t, "user:1", "carl", "ann"]);
    assert!(cas.status.success());
    assert!(tidepool(&["hive", "del", "--hive", t, "user:1"])
        .status
        .success());
    let missing = tidepool(&["hive", "get", "--hive", t, "user:1"]);
    assert_eq!(missing.status.code(), Some(4));
    assert!(
        stderr(&missing).contains("alias_not_found (8)"),
        "{}",
        stderr(&missing)
    );
    let empty = tidepool(&["hive", "get", "--hive", t, ""]);
    assert_eq!(empty.status.code(), Some(2));
    assert!(stderr(&empty).contains("invalid_input (13)"));
    let ro = tidepool(&["hive", "put", "--readonly", "--hive", t, "x", "y"]);
    assert_eq!(ro.status.code(), Some(3));
    let info = tidepool(&["hive", "info", "--hive", t]);
    assert!(
        stdout(&info).contains("backend:embedded"),
        "{}",
        stdout(&info)
    );
    assert!(stdout(&info).contains("db0:keys=1"), "{}", stdout(&info));
}

#[test]
fn resp_target_and_refused_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidepool"))
        .args([
            "serve",
            "--hive",
            "--listen",
            "127.0.0.1:0",
            "--transient",
            "--hive-data",
        ])
        .arg(dir.path())
        .env("TIDEPOOL_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Some(a) = line.strip_prefix("hive: listening on ") {
                let _ = tx.send(a.trim().to_string());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).expect("listening");
    let t = format!("resp://{addr}");
    assert!(tidepool(&["hive", "put", "--hive", &t, "k", "v"])
        .status
        .success());
    assert_eq!(stdout(&tidepool(&["hive", "get", "--hive", &t, "k"])), "v");
    let missing = tidepool(&["hive", "del", "--hive", &t, "nope"]);
    assert_eq!(missing.status.code(), Some(4));
    assert!(
        stderr(&missing).contains("alias_not_found (8)"),
        "{}",
        stderr(&missing)
    );
    let _ = child.kill();
    let _ = child.wait();
    let refused = tidepool(&["hive", "get", "--hive", &t, "k"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("connection_refused (14)"),
        "{}",
        stderr(&refused)
    );
    let bad = tidepool(&["hive", "get", "--hive", "gopher://x:1", "k"]);
    assert!(
        stderr(&bad).contains("invalid_protocol (4)"),
        "{}",
        stderr(&bad)
    );
}
