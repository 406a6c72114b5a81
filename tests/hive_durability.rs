//! kill -9 during a write storm (hive spec section 12): after a restart every
//! acknowledged write is present with its value.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidepool"))
        .args(["serve", "--hive", "--listen", "127.0.0.1:0", "--hive-data"])
        .arg(data)
        .env("TIDEPOOL_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tidepool serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // keep draining so the server never blocks on a full pipe
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("hive: listening on ") {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server printed its address");
    Server { child, addr }
}

async fn read_reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Ok(Some((reply, used))) = tidepool::engine::hive::codec::decode_reply(buf, 1 << 20) {
            buf.drain(..used);
            return Some(match reply {
                tidepool::engine::hive::codec::Reply::Bulk(b) => b.to_vec(),
                tidepool::engine::hive::codec::Reply::Simple(s) => s.into_bytes(),
                other => format!("{other:?}").into_bytes(),
            });
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());
    let addr = server.addr.clone();
    let mut writers = Vec::new();
    for w in 0..8 {
        let addr = addr.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let Ok(mut s) = TcpStream::connect(&addr).await else {
                return acked;
            };
            let mut buf = Vec::new();
            let started = Instant::now();
            // bounded in count and time; the kill usually ends it first
            for i in 0..20_000u32 {
                if started.elapsed() > Duration::from_secs(20) {
                    break;
                }
                let (k, v) = (format!("w{w}:{i}"), format!("value-{w}-{i}"));
                let cmd = format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                    k.len(),
                    v.len()
                );
                if s.write_all(cmd.as_bytes()).await.is_err() {
                    break;
                }
                match read_reply(&mut s, &mut buf).await {
                    Some(r) if r == b"OK" => acked.push((k, v)),
                    _ => break,
                }
            }
            acked
        }));
    }
    // wait until writes are flowing, then kill -9 mid-storm
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline
        && dir
            .path()
            .join("hive.redb")
            .metadata()
            .map(|m| m.len())
            .unwrap_or(0)
            < 200_000
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(acked.len() > 100, "storm too small: {}", acked.len());

    let server = start(dir.path());
    let mut s = TcpStream::connect(&server.addr).await.unwrap();
    let mut buf = Vec::new();
    for chunk in acked.chunks(200) {
        let mut cmds = Vec::new();
        for (k, _) in chunk {
            cmds.extend_from_slice(
                format!("*2\r\n$3\r\nGET\r\n${}\r\n{k}\r\n", k.len()).as_bytes(),
            );
        }
        s.write_all(&cmds).await.unwrap();
        for (k, v) in chunk {
            let got = read_reply(&mut s, &mut buf).await.expect("reply");
            assert_eq!(
                String::from_utf8_lossy(&got),
                *v,
                "acknowledged write {k} lost"
            );
        }
    }
    eprintln!(
        "{} acknowledged writes all present after kill -9",
        acked.len()
    );
}
