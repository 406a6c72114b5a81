//! The pool commands against `tidepool serve --pools` through tcp:// URIs:
//! the real binary on both ends, loopback only, port 0.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tidepool(pools: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidepool"));
    c.env("OB_POOLS_DIR", pools).env_remove("OB_ETC_PATH");
    c
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve --pools --listen 127.0.0.1:0` and reads the port it printed.
fn serve(pools: &std::path::Path) -> (Server, String) {
    let mut child = tidepool(pools)
        .args(["serve", "--pools", "--listen", "127.0.0.1:0", "--no-tls"])
        .env("HOME", pools)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = BufReader::new(stderr).lines();
    loop {
        assert!(
            Instant::now() < deadline,
            "server never said where it listens"
        );
        let line = lines.next().expect("server stderr open").expect("utf-8");
        if let Some(at) = line.find("tcp://") {
            let uri = line[at..].split_whitespace().next().unwrap().to_string();
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return (server, uri);
        }
    }
}

#[test]
fn pool_commands_work_on_tcp_uris() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let run = |args: &[&str]| {
        let out = tidepool(dir.path()).args(args).output().expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let pool = format!("{base}remote/one");
    let (code, _, err) = run(&["pool", "create", "--size", "64K", &pool]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = run(&["pool", "ls", &base]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "remote/one");
    // A protein file from the slaw engine, then one built from -d/-i.
    let file = dir.path().join("p.bin");
    let p = tidepool::engine::slaw::Protein::new(
        tidepool::engine::slaw::Slaw::strings(["hello"]),
        tidepool::engine::slaw::Slaw::map([("n", tidepool::engine::slaw::Slaw::i64(42))]),
    );
    std::fs::write(&file, tidepool::engine::slaw::encode_protein(&p)).unwrap();
    let (code, out, err) = run(&["deposit", &pool, "--raw", file.to_str().unwrap(), "-v"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("deposited index 0"), "{out}");
    let (code, out, err) = run(&["deposit", &pool, "-d", "again", "-i", "n:43", "-v"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("deposited index 1"), "{out}");
    let (code, out, err) = run(&["nth", &pool, "0", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("hello"), "{out}");
    let (code, out, err) = run(&["tail", &pool, "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("hello"), "{out}");
    let (code, out, err) = run(&["pool", "info", &pool]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("mmap"), "{out}");
    // A retort from the server is exit 4 with its name.
    let (code, _, err) = run(&["nth", &pool, "99"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("POOL_NO_SUCH_PROTEIN"), "{err}");
    let (code, _, err) = run(&["deposit", "--readonly", &pool, "-d", "x"]);
    assert_eq!(code, Some(3), "{err}");
    let (code, _, err) = run(&["pool", "rm", &pool]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&["pool", "rm", &pool]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("POOL_NO_SUCH_POOL"), "{err}");
}
