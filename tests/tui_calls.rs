//! The Calls view against live engines on loopback: the `--demo` source (an
//! in-process AMP server with the interop schema's canned responder and a
//! simpy.io mock server, both on 127.0.0.1 port 0) feeds a real `App` through
//! the bridge; calls typed into the form come back answered. Bounded loops,
//! no fixed sleeps.

use std::time::{Duration, Instant};

use tidepool::net::shutdown::Shutdown;
use tidepool::tui::app::App;
use tidepool::tui::calls::source::{self, Link};
use tidepool::tui::calls::{self, Calls, Status};
use tidepool::tui::event::AppEvent;
use tidepool::tui::shots::{draw, keys, text};
use tidepool::tui::theme::Theme;

/// Feeds bridge events into the app and its requests to the bridge until
/// `done` holds or the deadline passes.
async fn pump(app: &mut App, link: &mut Link, secs: u64, done: impl Fn(&App) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        for cmd in std::mem::take(&mut app.calls.outbox) {
            link.send(cmd).expect("queued");
        }
        if done(app) {
            return true;
        }
        if let Ok(Some(ev)) =
            tokio::time::timeout(Duration::from_millis(200), link.events.recv()).await
        {
            app.handle(AppEvent::Calls(ev));
        }
        app.now += 0.01;
    }
    done(app)
}

fn demo_app(specs: &[source::Spec]) -> App {
    let mut app = App::new(Theme::mono(), Default::default(), Default::default());
    app.handle(AppEvent::Resize(120, 36));
    app.calls = Calls::new(specs.iter().map(|s| s.info.clone()).collect());
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_source_is_live_within_seconds() {
    let shutdown = Shutdown::new();
    let specs = calls::demo::start(&shutdown).await.expect("demo servers");
    assert_eq!(specs.len(), 2);
    let mut app = demo_app(&specs);
    let mut link = source::spawn(specs, &shutdown);
    // both targets come up and background traffic lands in the history,
    // answers and the UNHANDLED error of the unknown command included
    let live = pump(&mut app, &mut link, 20, |a| {
        let ok = |t: usize| {
            a.calls
                .history
                .iter()
                .any(|r| r.target == t && r.status == Status::Ok)
        };
        ok(0) && ok(1)
    })
    .await;
    assert!(live, "no demo traffic answered: {:?}", app.calls.history);
    let screen = {
        app.tab = tidepool::tui::app::Tab::Calls;
        text(&draw(&app))
    };
    assert!(screen.contains("demo-amp"), "{screen}");
    assert!(screen.contains("● up"), "{screen}");
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_typed_in_the_form_are_answered_by_both_engines() {
    let shutdown = Shutdown::new();
    let mut specs = calls::demo::start(&shutdown).await.expect("demo servers");
    for s in &mut specs {
        // only the console's own calls, so the history is predictable
        s.demo_traffic = false;
    }
    let mut app = demo_app(&specs);
    let mut link = source::spawn(specs, &shutdown);
    let up = pump(&mut app, &mut link, 10, |a| {
        a.calls
            .state
            .iter()
            .all(|s| matches!(s.state, tidepool::tui::source::SourceState::Up { .. }))
    })
    .await;
    assert!(up, "targets not up: {:?}", app.calls.state);

    // AMP Echo on demo-amp (commands sorted: Ask, ClientGreet, Divide, Echo)
    keys(&mut app, "4 l j j j n");
    assert!(app.calls.is_editing());
    app.handle(AppEvent::Paste("über \u{1b}[2J".into()));
    keys(&mut app, "ctrl-s esc");
    let answered = pump(&mut app, &mut link, 10, |a| {
        a.calls
            .history
            .front()
            .is_some_and(|r| r.status != Status::Pending)
    })
    .await;
    assert!(answered);
    let row = app.calls.history.front().cloned().expect("row");
    assert_eq!(row.command, "Echo");
    assert_eq!(row.status, Status::Ok, "{row:?}");
    // paste drops control characters; the echo comes back intact
    assert_eq!(row.summary, "text=über [2J");
    assert!(row.latency_ms.is_some());

    // an unknown raw command: UNHANDLED, the connection stays up
    keys(&mut app, "G n");
    app.handle(AppEvent::Paste("Frobnicate".into()));
    keys(&mut app, "tab");
    app.handle(AppEvent::Paste("level=3".into()));
    keys(&mut app, "ctrl-s esc");
    pump(&mut app, &mut link, 10, |a| {
        a.calls
            .history
            .front()
            .is_some_and(|r| r.status != Status::Pending)
    })
    .await;
    let row = app.calls.history.front().cloned().expect("row");
    assert_eq!(row.status, Status::Error, "{row:?}");
    assert!(row.summary.starts_with("UNHANDLED"), "{row:?}");

    // simpy.io: math/mul and a remote failure
    keys(&mut app, "h j j l j j j n");
    app.handle(AppEvent::Paste("[6, 7]".into()));
    keys(&mut app, "ctrl-s esc");
    pump(&mut app, &mut link, 10, |a| {
        a.calls
            .history
            .front()
            .is_some_and(|r| r.status != Status::Pending)
    })
    .await;
    let row = app.calls.history.front().cloned().expect("row");
    assert_eq!(
        (row.command.as_str(), row.status),
        ("math/mul", Status::Ok),
        "{row:?}"
    );
    assert_eq!(row.summary, "result=42");

    keys(&mut app, "j j n");
    app.handle(AppEvent::Paste("[\"boom\"]".into()));
    keys(&mut app, "ctrl-s esc");
    pump(&mut app, &mut link, 10, |a| {
        a.calls
            .history
            .front()
            .is_some_and(|r| r.status != Status::Pending)
    })
    .await;
    let row = app.calls.history.front().cloned().expect("row");
    assert_eq!(
        (row.command.as_str(), row.status),
        ("fail", Status::Error),
        "{row:?}"
    );
    assert!(row.summary.contains("boom"), "{row:?}");
    shutdown.trigger();
}

#[tokio::test]
async fn a_target_that_refuses_connections_retries_and_fails_calls() {
    let shutdown = Shutdown::new();
    // a port nothing listens on: bind, read the port, close
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let (specs, warnings) = source::specs(&[], &[], &[addr], None);
    assert!(warnings.is_empty());
    let mut app = demo_app(&specs);
    let mut link = source::spawn(specs, &shutdown);
    let retrying = pump(&mut app, &mut link, 10, |a| {
        matches!(
            a.calls.state[0].state,
            tidepool::tui::source::SourceState::Retry { .. }
        )
    })
    .await;
    assert!(retrying, "{:?}", app.calls.state);
    keys(&mut app, "4 l n");
    app.handle(AppEvent::Paste("echo".into()));
    keys(&mut app, "ctrl-s esc");
    pump(&mut app, &mut link, 10, |a| {
        a.calls
            .history
            .front()
            .is_some_and(|r| r.status != Status::Pending)
    })
    .await;
    let row = app.calls.history.front().cloned().expect("row");
    assert_eq!(row.status, Status::Failed, "{row:?}");
    assert!(row.summary.contains("not connected"), "{row:?}");
    shutdown.trigger();
}

#[test]
fn peer_text_never_reaches_the_screen_raw() {
    use tidepool::tui::calls::{CallsEvent, Outcome};
    let mut app = tidepool::tui::shots::app_for(Theme::mono(), "4 l l", 120, 36);
    let (target, seq) = (0, 999);
    app.handle(AppEvent::Calls(CallsEvent::Started {
        target,
        seq,
        request: tidepool::tui::calls::Request::Amp {
            command: "Frob\x1b[2J".into(),
            args: Default::default(),
            shown: vec![("k\r".into(), "v\u{7f}".into())],
        },
    }));
    app.handle(AppEvent::Calls(CallsEvent::Finished {
        target,
        seq,
        latency: Duration::from_millis(3),
        outcome: Outcome::Remote {
            code: "EVIL\x1b]0;pwned\x07".into(),
            description: "line\r\n\u{9b}31mred".into(),
        },
    }));
    for script in ["", "enter"] {
        keys(&mut app, script);
        let buf = draw(&app);
        for cell in buf.content() {
            assert!(
                !cell.symbol().chars().any(|c| c.is_control()),
                "{:?}",
                cell.symbol()
            );
        }
        assert!(text(&buf).contains("\\x1b]0;pwned\\x07"), "{}", text(&buf));
    }
}

fn test_pki() -> (
    std::sync::Arc<rustls::ServerConfig>,
    std::sync::Arc<rustls::ClientConfig>,
) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).expect("root");
    let server = tidepool::net::tls::server_config_from_der(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("der"),
        None,
    )
    .expect("server config");
    let client = tidepool::net::tls::client_config_from_roots(roots).expect("client config");
    (server, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amp_target_over_tls_shows_tls_and_answers() {
    use std::sync::Arc;
    use tidepool::engine::amp::catalog::Catalog;
    use tidepool::engine::amp::io as amp_io;
    use tidepool::engine::amp::responder::Canned;
    use tidepool::net::transport::Listener;
    let (server_tls, client_tls) = test_pki();
    let shutdown = Shutdown::new();
    let catalog = Catalog::from_toml(calls::demo::INTEROP_SCHEMA, "interop").expect("schema");
    let listener = Listener::bind_tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let mut server_opts = tidepool::net::server::Options::new("amp");
    server_opts.tls = Some(server_tls);
    tokio::spawn(amp_io::serve(
        listener,
        shutdown.child(),
        server_opts,
        Arc::new(Canned::new(catalog.clone())),
        amp_io::Options::default(),
        Arc::new(amp_io::Counters::default()),
    ));
    let mut spec = source::spec(
        "amp",
        &addr,
        Some("secure".into()),
        catalog,
        &[],
        calls::DEFAULT_TIMEOUT,
    )
    .expect("spec");
    spec.tls = Some((client_tls, "localhost".into()));
    spec.info.tls = true;
    let mut app = demo_app(std::slice::from_ref(&spec));
    let mut link = source::spawn(vec![spec], &shutdown);
    let up = pump(&mut app, &mut link, 10, |a| {
        matches!(
            a.calls.state[0].state,
            tidepool::tui::source::SourceState::Up { tls: true }
        )
    })
    .await;
    assert!(up, "{:?}", app.calls.state);
    keys(&mut app, "4 l j j j n");
    app.handle(AppEvent::Paste("over tls".into()));
    keys(&mut app, "ctrl-s esc");
    pump(&mut app, &mut link, 10, |a| {
        a.calls
            .history
            .front()
            .is_some_and(|r| r.status != Status::Pending)
    })
    .await;
    let row = app.calls.history.front().cloned().expect("row");
    assert_eq!(row.summary, "text=over tls", "{row:?}");
    let screen = text(&draw(&app));
    assert!(screen.contains("● up TLS"), "{screen}");
    shutdown.trigger();
}

#[test]
fn history_saves_as_json_lines_oldest_first() {
    let mut app = tidepool::tui::shots::app_for(Theme::mono(), "", 120, 36);
    app.saved.clear();
    calls::save_history(&mut app, Some("h.jsonl".into()));
    let (name, body) = app.saved.last().cloned().expect("save request");
    assert_eq!(name, "h.jsonl");
    let rows: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(rows.len(), app.calls.history.len());
    assert_eq!(rows[0]["command"], "Sum");
    assert_eq!(rows[0]["request"]["a"], "17");
    assert_eq!(rows[0]["status"], "ok");
    let err = rows
        .iter()
        .find(|r| r["command"] == "Divide")
        .expect("error row");
    assert_eq!(err["reply"][0], "error code: ZERO_DIVISION");
}
