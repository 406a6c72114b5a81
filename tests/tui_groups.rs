//! The Groups view: engine events fed as data drive the group list, members and
//! timeline; keys queue join/leave/send (refused under --readonly); and the
//! `--demo` source produces live membership and messages on loopback.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tidepool::engine::groups::codec::{GroupId, Name};
use tidepool::engine::groups::handle::Event;
use tidepool::engine::groups::protocol::{Cause, Message, Service};
use tidepool::tui::app::{App, Tab};
use tidepool::tui::event::AppEvent;
use tidepool::tui::groups::{self, GroupsCmd, Link};
use tidepool::tui::shots::{app_for, draw, keys, text};
use tidepool::tui::theme::Theme;

fn name(s: &str) -> Name {
    Name::new(s).expect("legal name")
}

fn view(group: &str, cause: Cause, index: i32, members: &[&str]) -> AppEvent {
    let members: Vec<Name> = members.iter().map(|m| name(m)).collect();
    AppEvent::Groups(Event::Message(Message::Membership {
        group: name(group),
        cause,
        group_id: GroupId {
            proc_id: 1,
            time: 2,
            index,
        },
        vs_sets: vec![members.clone()],
        local_set: Some(0),
        members,
    }))
}

fn blank_app() -> App {
    let mut app = app_for(Theme::mono(), "", 120, 36);
    app.groups = Default::default();
    app.groups.attached = true;
    app
}

#[test]
fn membership_events_build_groups_members_and_a_timeline_with_causes() {
    let mut app = blank_app();
    app.handle(view("lobby", Cause::Join, 1, &["#a#d1", "#me#d1"]));
    app.handle(view("lobby", Cause::Join, 2, &["#a#d1", "#me#d1", "#b#d2"]));
    app.handle(view("lobby", Cause::Disconnect, 3, &["#me#d1", "#b#d2"]));
    app.handle(AppEvent::Groups(Event::Message(Message::SelfLeave {
        group: name("other"),
    })));
    let g = &app.groups;
    assert_eq!(g.groups.len(), 1);
    assert_eq!(g.groups["lobby"].members, vec!["#me#d1", "#b#d2"]);
    let causes: Vec<&str> = g.timeline.iter().map(|t| t.cause).collect();
    assert_eq!(causes, ["JOIN", "JOIN", "DISCONNECT", "SELF-LEAVE"]);
    assert_eq!(g.timeline[1].changed, vec!["#b#d2"], "who joined");
    assert_eq!(g.timeline[2].changed, vec!["#a#d1"], "who went away");
    assert_eq!(g.timeline[2].group_id.as_deref(), Some("1:2:3"));
    assert_eq!(g.timeline[2].members, 2);

    keys(&mut app, "5");
    let screen = text(&draw(&app));
    assert!(screen.contains("DISCONNECT"), "{screen}");
    assert!(screen.contains("members of lobby"), "{screen}");
}

#[test]
fn messages_are_bounded_and_their_payloads_sanitised() {
    let mut app = blank_app();
    for i in 0..(groups::GROUPS_RING + 10) {
        app.handle(AppEvent::Groups(Event::Message(Message::Regular {
            service: Service::Agreed.bits(),
            sender: name("#s#d"),
            groups: vec![name("lobby")],
            msg_type: 7,
            endian_mismatch: false,
            data: Bytes::from(format!("\x1b[31mred {i}\x07")),
        })));
    }
    let g = &app.groups;
    assert_eq!(g.messages.len(), groups::GROUPS_RING);
    let last = g.messages.back().expect("a message");
    assert_eq!(last.service, "agreed");
    assert_eq!(last.msg_type, 7);
    assert!(!last.preview.contains('\x1b') && !last.preview.contains('\x07'));
    assert!(last.preview.contains("red"), "{}", last.preview);
    keys(&mut app, "5 m");
    let screen = text(&draw(&app));
    assert!(screen.contains("messages (1000)"), "{screen}");
}

#[test]
fn keys_queue_join_leave_and_send_and_readonly_refuses_them() {
    let mut app = blank_app();
    app.handle(view("lobby", Cause::Join, 1, &["#me#d1"]));
    keys(&mut app, "5 J");
    let typed = app.line.as_ref().map(|l| l.input.value().to_string());
    assert_eq!(typed.as_deref(), Some("join "));
    keys(&mut app, "e c h o enter");
    assert_eq!(app.groups.outbox, vec![GroupsCmd::Join("echo".into())]);
    app.groups.outbox.clear();

    keys(&mut app, "s h i enter");
    assert_eq!(
        app.groups.outbox,
        vec![GroupsCmd::Send {
            group: "lobby".into(),
            text: "hi".into()
        }]
    );
    app.groups.outbox.clear();

    // leaving asks first; No sends nothing, Yes queues it
    keys(&mut app, "L n");
    assert!(app.groups.outbox.is_empty());
    keys(&mut app, "L y");
    assert_eq!(app.groups.outbox, vec![GroupsCmd::Leave("lobby".into())]);

    let mut ro = blank_app();
    ro.settings.readonly = true;
    ro.handle(view("lobby", Cause::Join, 1, &["#me#d1"]));
    keys(&mut ro, "5 s");
    assert!(ro.line.is_none(), "send is not even offered");
    keys(&mut ro, ": s e n d space l o b b y space x enter");
    keys(&mut ro, ": j o i n space z enter");
    assert!(ro.groups.outbox.is_empty());
    let status = ro
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(status.contains("read-only"), "{status}");
}

#[test]
fn without_a_daemon_the_view_says_how_to_get_one() {
    let mut app = blank_app();
    app.groups.attached = false;
    keys(&mut app, ": j o i n space x enter");
    assert!(app.groups.outbox.is_empty());
    keys(&mut app, "5");
    assert_eq!(app.tab, Tab::Groups);
    let screen = text(&draw(&app));
    assert!(screen.contains("--groups-daemon"), "{screen}");
}

#[test]
fn the_demo_source_shows_live_membership_and_messages() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let shutdown = tidepool::net::shutdown::Shutdown::new();
        let addr = groups::spawn_demo(&shutdown).await.expect("demo daemon");
        let watch: Vec<String> = groups::DEMO_GROUPS.iter().map(|g| g.to_string()).collect();
        let mut link = Link::connect(addr, "console", &watch);
        let mut app = blank_app();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ev = tokio::time::timeout(
                Duration::from_millis(200),
                groups::next_event(&mut link.handle),
            )
            .await;
            if let Ok(Some(ev)) = ev {
                app.handle(AppEvent::Groups(ev));
            }
            let g = &app.groups;
            let joins = g.timeline.iter().filter(|t| t.cause == "JOIN").count();
            if joins >= 3 && !g.messages.is_empty() && g.groups.len() == 3 {
                break;
            }
        }
        let g = &app.groups;
        assert_eq!(g.groups.len(), 3, "{:?}", g.groups.keys());
        assert!(
            g.groups["telemetry"]
                .members
                .iter()
                .any(|m| m.contains("sensor1")),
            "{:?}",
            g.groups["telemetry"].members
        );
        let m = g.messages.back().expect("a demo message");
        assert!(m.preview.contains("celsius"), "{}", m.preview);
        shutdown.trigger();
    });
}
