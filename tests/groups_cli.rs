//! The binary end to end: `tidepool serve --groups` on port 0 with its Unix
//! socket in a temp dir, `tidepool group watch` over the Unix socket and
//! `tidepool group send` over TCP, plus the exit codes of refusals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn tidepool() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tidepool"))
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's pipe, readable with a deadline.
fn lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = rx
            .recv_timeout(T)
            .unwrap_or_else(|_| panic!("no line with {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

#[test]
fn serve_watch_and_send_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = tidepool()
        .args([
            "serve",
            "--groups",
            "--groups-listen",
            "127.0.0.1:0",
            "--groups-socket-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = lines(serve.stderr.take().unwrap());
    let serve = Killed(serve);
    let line = wait_for(&err, "listening on 127.0.0.1:");
    let port: u16 = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("port in the listening line");
    assert!(
        dir.path().join(port.to_string()).exists(),
        "unix socket named after the port"
    );
    let tcp = format!("{port}@127.0.0.1");

    let mut watch = tidepool()
        .args([
            "group", "watch", "ops", "--count", "3", "--name", "w", "--daemon",
        ])
        .arg(port.to_string())
        .arg("--socket-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = lines(watch.stdout.take().unwrap());
    let watch = Killed(watch);
    let first = wait_for(&out, "JOIN");
    assert!(first.contains("#w#localhost in ops"), "{first}");

    let sent = tidepool()
        .args([
            "group",
            "send",
            "ops",
            "hello there",
            "--service",
            "safe",
            "--msg-type",
            "-3",
            "--daemon",
            &tcp,
        ])
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let msg = wait_for(&out, "MESSAGE");
    assert!(
        msg.contains("(safe, type -3, 11 bytes): hello there"),
        "{msg}"
    );

    let readonly = tidepool()
        .args(["group", "send", "ops", "x", "--readonly", "--daemon", &tcp])
        .output()
        .unwrap();
    assert_eq!(readonly.status.code(), Some(3));
    let bad = tidepool()
        .args(["group", "send", "#nope", "x", "--daemon", &tcp])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ILLEGAL_GROUP"));
    let dup = tidepool()
        .args(["group", "send", "ops", "x", "--name", "w", "--daemon", &tcp])
        .output()
        .unwrap();
    assert_eq!(
        dup.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&dup.stderr)
    );
    assert!(String::from_utf8_lossy(&dup.stderr).contains("REJECT_NOT_UNIQUE"));
    drop(watch);
    drop(serve);
}

#[test]
fn bench_groups_quick_prints_its_table() {
    let mut child = tidepool()
        .args(["bench", "groups", "--quick"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(child.stdout.take().unwrap());
    let child = Killed(child);
    let row = wait_for(&out, "join/leave cycles");
    assert!(row.contains('x') || row.contains('-'), "{row}");
    drop(child);
}
