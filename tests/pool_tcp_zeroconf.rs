//! Zeroconf end to end: `serve --pools --zeroconf` announces `_pool-server._tcp`
//! and `pool ls --zeroconf` finds it, then lists the pools at the announced
//! URI. Runs only inside a private network namespace (`unshare -rn`) whose
//! only interface is a loopback with multicast switched on, so no multicast
//! ever leaves this machine; skipped with a message where user namespaces are
//! not available. The record building and parsing are unit-tested in
//! `engine::pool_tcp::zeroconf`.
#![cfg(feature = "zeroconf")]

use std::process::Command;

/// The script run inside the namespace: loopback up with multicast, a server
/// announcing itself, browses polled until the announcement shows up (bounded),
/// then the pools listed through the announced URI.
const SCRIPT: &str = r#"
set -eu
ip link set lo up
ip link set lo multicast on
"$TP" pool create zc-pool
"$TP" serve --pools --listen 127.0.0.1:0 --no-tls --zeroconf \
    --zeroconf-name "test pools" --zeroconf-subtypes west,lab 2>"$DIR/serve.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
n=0
until grep -q "announcing" "$DIR/serve.log"; do
  n=$((n + 1)); [ "$n" -lt 300 ] || { cat "$DIR/serve.log" >&2; exit 3; }
  sleep 0.1
done
n=0
until "$TP" pool ls --zeroconf --wait 1 >"$DIR/browse.out" && grep -q "test pools" "$DIR/browse.out"; do
  n=$((n + 1)); [ "$n" -lt 15 ] || { cat "$DIR/serve.log" >&2; exit 4; }
done
cat "$DIR/browse.out"
uri=$(grep "test pools" "$DIR/browse.out" | cut -f1)
echo "pools at $uri:"
"$TP" pool ls "$uri"
"#;

fn namespaces_work() -> Result<(), String> {
    let out = Command::new("unshare")
        .args(["-rn", "sh", "-c", "ip link set lo up"])
        .output()
        .map_err(|e| format!("unshare not runnable: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "no private network namespace (unshare -rn): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[test]
fn announced_server_is_browsed_and_reachable_in_a_private_netns() {
    if let Err(why) = namespaces_work() {
        println!("skipping pool_tcp_zeroconf: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("unshare")
        .args(["-rn", "sh", "-c", SCRIPT])
        .env("TP", env!("CARGO_BIN_EXE_tidepool"))
        .env("DIR", dir.path())
        .env("OB_POOLS_DIR", dir.path())
        .env("HOME", dir.path())
        .env_remove("OB_ETC_PATH")
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("test pools"))
        .unwrap_or_else(|| panic!("not browsed:\n{stdout}\n{stderr}"));
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields.len(), 3, "{line}");
    assert!(fields[0].starts_with("tcp://127.0.0.1:"), "{line}");
    assert_eq!(fields[1], "test pools");
    // The TXT strings are the subtypes, as libPlasma's announcer sends them.
    assert_eq!(fields[2], "west,lab");
    assert!(
        stdout.lines().any(|l| l == "zc-pool"),
        "pools not listed through the announced uri:\n{stdout}"
    );
}
