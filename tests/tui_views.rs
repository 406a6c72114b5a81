//! Snapshot tests of every console view and state at 80×24 and 120×36, in mono and
//! in the dark theme (console spec section 11), plus cell-style checks per theme.

use ratatui::style::Modifier;
use tidepool::tui::app::App;
use tidepool::tui::event::AppEvent;
use tidepool::tui::form::Form;
use tidepool::tui::shots::{app_for, draw, keys, text};
use tidepool::tui::source::{PoolEvent, PoolStats, SourceState};
use tidepool::tui::theme::Theme;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 36)];

/// (name, key script, extra setup)
type Setup = fn(&mut App);

fn none(_: &mut App) {}

fn empty(app: &mut App) {
    app.handle(AppEvent::Pool(PoolEvent::List(Vec::new())));
    app.pools.tail.pool = None;
    app.pools.tail.ring.clear();
    app.pools.tail.visible.clear();
}

fn error(app: &mut App) {
    empty(app);
    app.handle(AppEvent::PoolStats(PoolStats {
        state: SourceState::Down {
            error: "local pool engine not built yet (/var/ob/pools); try --demo".into(),
        },
        ..PoolStats::default()
    }));
}

fn paused(app: &mut App) {
    let mut g = tidepool::tui::demo::Generator::new(9);
    for i in 4187..4199u64 {
        app.handle(AppEvent::Pool(PoolEvent::Protein(
            tidepool::tui::demo::item(
                "demo",
                i,
                tidepool::tui::demo::FIXED_NOW + (i - 4186) as f64 * 0.2,
                g.protein(),
            ),
        )));
    }
}

fn readonly(app: &mut App) {
    app.settings.readonly = true;
}

fn form_error(app: &mut App) {
    keys(app, "2 l");
    let mut f = Form::deposit("demo");
    f.fields[1].input = tui_input::Input::new("[arf, airports".into());
    f.fields[2].input = tui_input::Input::new("{pid: !i64 10457}".into());
    f.edited = true;
    app.overlay = Some(tidepool::tui::app::Overlay::Form(f));
}

fn create_error(app: &mut App) {
    keys(app, "2");
    let mut f = Form::create("new-pool", "12x");
    f.edited = true;
    app.overlay = Some(tidepool::tui::app::Overlay::Form(f));
}

fn watching(app: &mut App) {
    keys(app, "4 l l j w");
    if let Some(w) = &mut app.calls.watch {
        w.latencies = (0..40u64).map(|i| 800 + (i * 37 % 11) * 90).collect();
        w.seqs = (300..340).collect();
        w.misses = 1;
    }
}

fn rpc_target(app: &mut App) {
    keys(app, "4");
    app.calls.sel_target = 2;
    app.calls.focus = tidepool::tui::calls::Focus::Commands;
}

fn no_targets(app: &mut App) {
    app.calls = tidepool::tui::calls::Calls::default();
}

const STATES: &[(&str, &str, Setup)] = &[
    ("overview", "", none),
    ("overview_frozen", "f", none),
    ("pools", "2 l", none),
    ("pools_empty", "2", empty),
    ("pools_error", "2", error),
    ("pools_paused", "2 l f", paused),
    ("pools_filtered", "2 l / a r f enter", none),
    ("pools_filter_typing", "2 l / = a r f", none),
    ("pools_list_focus", "2 j", none),
    ("detail_yaml", "2 l k enter", none),
    ("detail_hex", "2 l k enter v", none),
    ("deposit_form_error", "", form_error),
    ("create_form_error", "", create_error),
    ("confirm_dispose", "2 D", none),
    ("help", "2 l ?", none),
    ("readonly", "2 l d", readonly),
    ("command_line", ": t a", none),
    ("command_error", ": f r o b enter", none),
    ("hive", "3", none),
    ("calls", "4", none),
    ("calls_commands", "4 l j j", none),
    ("calls_history", "4 l l j j", none),
    ("calls_detail", "4 l l j j enter", none),
    ("calls_form", "4 l j j j j j j n 1 2 x tab", none),
    ("calls_form_rpc", "n tab", rpc_target),
    ("calls_target_line", "4 l", none),
    ("calls_readonly", "4 l k G n", readonly),
    ("calls_empty", "4", no_targets),
    ("calls_help", "4 l ?", none),
    ("calls_watch", "", watching),
    ("groups", "5", none),
    ("groups_messages", "5 m", none),
    ("groups_paused", "5 j f", none),
    ("groups_leave_confirm", "5 L", none),
    ("log", "6", none),
    ("log_paused_filtered", "6 k / p o o l enter", none),
];

fn render_state(theme: Theme, script: &str, setup: Setup, w: u16, h: u16) -> String {
    let mut app = app_for(theme, "", w, h);
    setup(&mut app);
    keys(&mut app, script);
    text(&draw(&app))
}

#[test]
fn every_view_and_state_in_mono() {
    for (name, script, setup) in STATES {
        for (w, h) in SIZES {
            let screen = render_state(Theme::mono(), script, *setup, w, h);
            insta::assert_snapshot!(format!("mono_{name}_{w}x{h}"), screen);
        }
    }
}

#[test]
fn main_views_in_dark() {
    for (name, script, setup) in STATES.iter().filter(|s| {
        matches!(
            s.0,
            "overview"
                | "pools"
                | "pools_paused"
                | "detail_yaml"
                | "hive"
                | "calls"
                | "calls_form"
                | "groups"
                | "log"
        )
    }) {
        for (w, h) in SIZES {
            let screen = render_state(Theme::dark(), script, *setup, w, h);
            insta::assert_snapshot!(format!("dark_{name}_{w}x{h}"), screen);
        }
    }
}

#[test]
fn too_small_terminal_says_so() {
    let screen = render_state(Theme::mono(), "2", none, 57, 16);
    assert!(
        screen.contains("terminal too small: 57×16, need 60×18"),
        "{screen}"
    );
}

fn find(buf: &ratatui::buffer::Buffer, needle: &str) -> Option<(u16, u16)> {
    let t = text(buf);
    for (y, line) in t.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            let x = line[..byte].chars().count();
            return Some((x as u16, y as u16));
        }
    }
    None
}

#[test]
fn selection_badges_and_paused_carry_theme_styles() {
    for name in ["dark", "light", "high-contrast", "mono"] {
        let theme = Theme::builtin(name).expect("theme");
        let mut app = app_for(theme.clone(), "2 l f", 120, 36);
        paused(&mut app);
        let buf = draw(&app);
        let (x, y) = find(&buf, "PAUSED +12").expect("paused badge");
        let cell = buf.cell((x, y)).expect("cell");
        assert_eq!(
            cell.style().add_modifier,
            theme.roles.paused.add_modifier,
            "{name}"
        );
        assert_eq!(cell.fg, theme.roles.paused.fg.unwrap_or(cell.fg), "{name}");
        let (x, y) = find(&buf, "▶ ").expect("selection marker");
        let cell = buf.cell((x, y)).expect("cell");
        assert!(
            cell.modifier.contains(Modifier::BOLD)
                || cell.bg == theme.roles.selection.bg.unwrap_or(cell.bg),
            "{name}: selection not styled"
        );
        let (x, y) = find(&buf, "◆ local").expect("badge");
        let cell = buf.cell((x, y)).expect("cell");
        assert_eq!(
            cell.fg,
            theme.roles.badge_local.fg.unwrap_or(cell.fg),
            "{name}"
        );
    }
}

#[test]
fn untrusted_descrips_never_reach_the_screen_raw() {
    let mut app = app_for(Theme::mono(), "2 l", 120, 36);
    app.handle(AppEvent::Pool(PoolEvent::Protein(
        tidepool::tui::demo::item(
            "demo",
            5000,
            tidepool::tui::demo::FIXED_NOW,
            tidepool::tui::source::Protein {
                descrips: vec!["evil\x1b]0;pwned\x07".into(), "\x1b[2J".into()],
                ingests: vec![("k\r".into(), "v\u{9b}".into())],
                rude: Vec::new(),
            },
        ),
    )));
    let buf = draw(&app);
    for cell in buf.content() {
        assert!(
            !cell.symbol().chars().any(|c| c.is_control()),
            "{:?}",
            cell.symbol()
        );
    }
    assert!(text(&buf).contains("evil\\x1b]0;pwned\\x07"));
}
