//! `tidepool serve --rpc` and `tidepool rpc call` as processes: output and
//! exit codes (0 ok, 1 transport, 2 usage, 3 readonly, 4 FAILURE reply).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tidepool() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tidepool"))
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve() -> (Server, String) {
    serve_with(&[])
}

fn serve_with(extra: &[&str]) -> (Server, String) {
    let mut child = tidepool()
        .args(["serve", "--rpc", "--rpc-listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let stderr = child.stderr.take().expect("piped");
    let server = Server(child);
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(addr) = line.strip_prefix("rpc: simpy.io JSON-RPC on ") {
            let addr = addr.trim().to_owned();
            std::thread::spawn(move || for _ in lines {});
            return (server, addr);
        }
    }
    panic!("server did not announce its address");
}

fn call(args: &[&str]) -> (Option<i32>, String, String) {
    let out = tidepool()
        .arg("rpc")
        .arg("call")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rpc_call_prints_results_and_maps_exit_codes() {
    let (_server, addr) = serve();
    let (code, out, err) = call(&[
        &addr,
        "greet",
        "[\"rust\"]",
        "--kwargs",
        "{\"punct\": \"?\"}",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "\"hi rust?\"\n");
    let (code, out, _) = call(&[&addr, "math/mul", "[6, 7]"]);
    assert_eq!((code, out.as_str()), (Some(0), "42\n"));
    let (code, _, _) = call(&[&addr, "callback", "[\"cli\"]"]);
    assert_eq!(code, Some(0));
    let (code, out, err) = call(&[&addr, "fail", "[\"bad input\"]"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("ValueError: bad input"), "{err}");
    let (code, _, err) = call(&[&addr, "nosuch"]);
    assert_eq!(code, Some(4));
    assert!(err.contains("Failed to resolve path nosuch"), "{err}");
    let (code, _, err) = call(&[&addr, "echo", "{not json"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, _) = call(&["--readonly", &addr, "echo", "[1]"]);
    assert_eq!(code, Some(3));
}

#[test]
fn rpc_call_to_a_closed_port_fails_with_1() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let (code, _, err) = call(&[&addr, "echo", "[1]"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.starts_with("error: rpc call: connecting to"), "{err}");
}

#[test]
fn custom_types_shift_ids_like_simpyio() {
    // The peer layout `types = (Point,)`, `converters = (thermo,)`: Point is
    // wire id 0, proxy 1, thermo 2, exposed 3.
    let (_server, addr) = serve_with(&["--rpc-types", "Point", "--rpc-converters", "thermo"]);
    let layout = ["--types", "Point", "--converters", "thermo"];
    let mut args = vec![addr.as_str(), "echo", r#"[{"__type__": [0, [1, 2.5]]}]"#];
    args.extend(layout);
    let (code, out, err) = call(&args);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), r#"{"__type__": [0, [1, 2.5]]}"#);
    assert!(err.contains("custom type Point"), "{err}");
    // A proxy of the server's `math` comes back as an exposed object (3).
    let mut args = vec![addr.as_str(), "echo", r#"[{"__type__": [1, "math"]}]"#];
    args.extend(layout);
    let (code, out, err) = call(&args);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), r#"{"__type__": [3, "math"]}"#);
    // An id outside the declared layout is refused before sending.
    let mut args = vec![addr.as_str(), "echo", r#"[{"__type__": [4, 1]}]"#];
    args.extend(layout);
    assert_eq!(call(&args).0, Some(2));
    // Without the layout the server's table is not ours: id 2 is unknown to
    // us, and our proxy (0) is a Point to the server.
    let (code, _, _) = call(&[&addr, "echo", r#"[{"__type__": [2, 1]}]"#]);
    assert_eq!(code, Some(2));
}
