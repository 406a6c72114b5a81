//! Whole-app event scripts (console spec section 11): each `tests/scripts/*.txt`
//! feeds keys and fake engine events to the app and asserts on the screen and on
//! the engine commands sent. One more test drives the real main loop headless with
//! channels the test owns.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use tidepool::tui::app::App;
use tidepool::tui::event::AppEvent;
use tidepool::tui::keymap::Chord;
use tidepool::tui::shots::{app_for, draw, text};
use tidepool::tui::source::{PoolCmd, PoolEvent, Protein, Retort};
use tidepool::tui::theme::Theme;

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"')
}

fn run_script(name: &str, body: &str) {
    let mut app: App = app_for(Theme::mono(), "", 100, 30);
    let mut sent: VecDeque<PoolCmd> = VecDeque::new();
    let mut calls_sent: VecDeque<tidepool::tui::calls::CallsCmd> = VecDeque::new();
    for (n, line) in body.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let ctx = format!("{name}:{}: {line}", n + 1);
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        sent.extend(app.outbox.drain(..));
        calls_sent.extend(app.calls.outbox.drain(..));
        let screen = || text(&draw(&app));
        match cmd {
            "readonly" => app.settings.readonly = true,
            "key" => {
                for k in rest.split_whitespace() {
                    let c = Chord::parse(k).unwrap_or_else(|| panic!("{ctx}: bad key {k}"));
                    app.handle(AppEvent::Key(c.to_event()));
                }
            }
            "type" => app.handle(AppEvent::Paste(rest.to_string())),
            "tick" => {
                let n: u32 = rest.parse().unwrap_or(1);
                for _ in 0..n {
                    app.now += 1.0;
                    app.handle(AppEvent::Tick);
                }
            }
            "resize" => {
                let v: Vec<u16> = rest
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                app.handle(AppEvent::Resize(v[0], v[1]));
            }
            "engine" if rest.starts_with("calls.") => {
                app.handle(AppEvent::Calls(calls_event(&ctx, rest)));
            }
            "expect-call-cmd" => {
                let got = calls_sent.pop_front().map(|c| c.describe());
                assert_eq!(got.as_deref(), Some(rest.trim()), "{ctx}");
            }
            "expect-no-call-cmd" => {
                assert!(calls_sent.is_empty(), "{ctx}: calls sent: {calls_sent:?}")
            }
            "engine" => {
                let w: Vec<&str> = rest.split_whitespace().collect();
                let ev = match w.as_slice() {
                    ["pools.protein", pool, idx, descrips] => {
                        PoolEvent::Protein(tidepool::tui::demo::item(
                            pool,
                            idx.parse().expect("index"),
                            tidepool::tui::demo::FIXED_NOW + 1.0,
                            Protein {
                                descrips: descrips.split(',').map(str::to_string).collect(),
                                ..Protein::default()
                            },
                        ))
                    }
                    ["pools.protein", pool, idx] => PoolEvent::Protein(tidepool::tui::demo::item(
                        pool,
                        idx.parse().expect("index"),
                        tidepool::tui::demo::FIXED_NOW + 1.0,
                        Protein::default(),
                    )),
                    ["pools.dropped", pool, n] => PoolEvent::Dropped {
                        pool: pool.to_string(),
                        count: n.parse().expect("count"),
                    },
                    ["pools.deposited", pool, idx] => PoolEvent::Deposited {
                        pool: pool.to_string(),
                        result: Ok(idx.parse().expect("index")),
                    },
                    ["pools.deposited", pool, retort, code] => PoolEvent::Deposited {
                        pool: pool.to_string(),
                        result: Err(Retort {
                            name: retort.to_string(),
                            code: code.parse().expect("code"),
                        }),
                    },
                    ["pools.admin", verb, pool, "ok"] => PoolEvent::Admin {
                        what: format!("{verb} {pool}"),
                        result: Ok(()),
                    },
                    _ => panic!("{ctx}: unknown engine event"),
                };
                app.handle(AppEvent::Pool(ev));
            }
            "expect" => {
                let s = screen();
                assert!(s.contains(unquote(rest)), "{ctx}: not on screen:\n{s}");
            }
            "expect-not" => {
                let s = screen();
                assert!(
                    !s.contains(unquote(rest)),
                    "{ctx}: unexpectedly on screen:\n{s}"
                );
            }
            "expect-mode" => assert_eq!(app.mode().label(), rest.trim(), "{ctx}"),
            "expect-cmd" => {
                let got = sent.pop_front().map(|c| c.describe());
                assert_eq!(got.as_deref(), Some(rest.trim()), "{ctx}");
            }
            "expect-no-cmd" => assert!(sent.is_empty(), "{ctx}: commands sent: {sent:?}"),
            "expect-quit" => assert!(app.quit, "{ctx}"),
            "snapshot" => insta::assert_snapshot!(format!("script_{}", rest.trim()), screen()),
            other => panic!("{ctx}: unknown step {other}"),
        }
    }
}

/// `calls.state T up|down TEXT`, `calls.answer T SEQ MS k=v…`,
/// `calls.error T SEQ MS CODE TEXT…`, `calls.failure T SEQ MS TEXT` (`\n` for
/// line breaks), `calls.timeout T SEQ`.
fn calls_event(ctx: &str, rest: &str) -> tidepool::tui::calls::CallsEvent {
    use tidepool::tui::calls::{CallsEvent, FailKind, Outcome};
    use tidepool::tui::source::SourceState;
    let w: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| -> u64 {
        w.get(i)
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("{ctx}: number at {i}"))
    };
    let ms = |i: usize| -> Duration {
        Duration::from_secs_f64(w.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0) / 1e3)
    };
    let tail = |i: usize| {
        w.get(i..)
            .map(|t| t.join(" "))
            .unwrap_or_default()
            .replace("\\n", "\n")
    };
    let target = num(1) as usize;
    match w.first().copied() {
        Some("calls.state") => CallsEvent::State {
            target,
            state: match w.get(2).copied() {
                Some("up") => SourceState::Up { tls: false },
                _ => SourceState::Down { error: tail(3) },
            },
        },
        Some("calls.answer") => CallsEvent::Finished {
            target,
            seq: num(2),
            latency: ms(3),
            outcome: Outcome::Answer(
                w[4..]
                    .iter()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        },
        Some("calls.error") => CallsEvent::Finished {
            target,
            seq: num(2),
            latency: ms(3),
            outcome: Outcome::Remote {
                code: w.get(4).unwrap_or(&"").to_string(),
                description: tail(5),
            },
        },
        Some("calls.failure") => CallsEvent::Finished {
            target,
            seq: num(2),
            latency: ms(3),
            outcome: Outcome::Remote {
                code: "FAILURE".into(),
                description: tail(4),
            },
        },
        Some("calls.timeout") => CallsEvent::Finished {
            target,
            seq: num(2),
            latency: Duration::ZERO,
            outcome: Outcome::Failed {
                kind: FailKind::Timeout,
                text: "no answer within 10.0 s".into(),
            },
        },
        _ => panic!("{ctx}: unknown calls event"),
    }
}

#[test]
fn every_script_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("scripts dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    names.sort();
    assert!(names.len() >= 5);
    for p in names {
        let body = std::fs::read_to_string(&p).expect("script");
        run_script(&p.file_name().expect("name").to_string_lossy(), &body);
    }
}

#[tokio::test]
async fn main_loop_draws_forwards_commands_and_quits() {
    use futures::StreamExt;
    use ratatui::backend::TestBackend;
    use tidepool::tui::{run_loop, LoopEnd, LoopOpts};
    use tokio_util::sync::CancellationToken;

    let mut term = ratatui::Terminal::new(TestBackend::new(100, 30)).expect("terminal");
    let mut app = App::new(Theme::mono(), Default::default(), Default::default());
    let (mut handle, mut end) = tidepool::tui::source::pools_channel();
    let (_log_tx, mut logs) = tokio::sync::mpsc::channel(8);
    let (key_tx, key_rx) =
        tokio::sync::mpsc::channel::<std::io::Result<crossterm::event::Event>>(8);
    let mut input = tokio_stream_from(key_rx).boxed();
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = LoopOpts {
        fps: 60,
        save_dir: dir.path().to_path_buf(),
    };
    let engine = tokio::spawn(async move {
        end.events
            .send(PoolEvent::List(vec![tidepool::tui::source::PoolInfo {
                name: "p".into(),
                location: tidepool::tui::source::Location::Demo,
                capacity: 1 << 20,
                used: 0,
                oldest: None,
                newest: None,
            }]))
            .await
            .expect("send");
        // the console asks to tail the only pool
        let cmd = tokio::time::timeout(Duration::from_secs(5), end.cmd.recv())
            .await
            .expect("in time");
        assert_eq!(
            cmd,
            Some(PoolCmd::Tail {
                pool: "p".into(),
                backlog: 200
            })
        );
        for i in 0..3 {
            end.events
                .send(PoolEvent::Protein(tidepool::tui::demo::item(
                    "p",
                    i,
                    0.0,
                    Protein::default(),
                )))
                .await
                .expect("send");
        }
        for k in ['2', 'q'] {
            let ev = crossterm::event::Event::Key(crossterm::event::KeyEvent::from(
                crossterm::event::KeyCode::Char(k),
            ));
            key_tx.send(Ok(ev)).await.expect("key");
        }
        end
    });
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        run_loop(
            &mut term,
            &mut app,
            &mut input,
            &mut handle,
            &mut tidepool::tui::calls::source::Link::none(),
            &mut tidepool::tui::groups::Link::none(),
            &mut logs,
            &stop,
            &opts,
        ),
    )
    .await
    .expect("loop ends in time");
    assert_eq!(r, Ok(LoopEnd::Quit));
    let _end = engine.await.expect("engine task");
    assert_eq!(app.pools.tail.ring.len(), 3);
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

mod random_input {
    use super::*;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "j",
        "k",
        "h",
        "l",
        "g",
        "G",
        "f",
        "d",
        "D",
        "c",
        "R",
        "r",
        "v",
        "w",
        "[",
        "]",
        "s",
        "y",
        "n",
        "q",
        "?",
        ":",
        "/",
        "enter",
        "esc",
        "tab",
        "backtab",
        "ctrl-s",
        "ctrl-c",
        "ctrl-d",
        "ctrl-u",
        "pgup",
        "pgdn",
        "home",
        "end",
        "backspace",
        "a",
        "x",
        "+",
        "-",
        "up",
        "down",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
        #[test]
        fn any_key_sequence_never_panics(
            keys in proptest::collection::vec(0..KEYS.len(), 0..40),
            paste in ".{0,40}",
            w in 20u16..140,
            h in 5u16..50,
        ) {
            let mut app = app_for(Theme::mono(), "", w, h);
            for (i, k) in keys.iter().enumerate() {
                if let Some(c) = Chord::parse(KEYS[*k]) {
                    app.handle(AppEvent::Key(c.to_event()));
                }
                if i % 7 == 0 {
                    app.handle(AppEvent::Paste(paste.clone()));
                    app.handle(AppEvent::Pool(PoolEvent::Protein(tidepool::tui::demo::item(
                        "demo",
                        5000 + i as u64,
                        0.0,
                        Protein { descrips: vec![paste.clone()], ..Protein::default() },
                    ))));
                }
                app.quit = false;
                app.outbox.clear();
                let _ = draw(&app);
            }
        }
    }
}
