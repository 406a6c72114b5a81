//! Scripted screenshot states (console spec section 10): each view built from the
//! fixture app, driven by a short key script, drawn into a `TestBackend`.

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

use crate::tui::app::App;
use crate::tui::event::AppEvent;
use crate::tui::keymap::Chord;
use crate::tui::theme::Theme;
use crate::tui::{demo, ui};

/// Views `tidepool screenshot` renders, with the key script that reaches each.
pub const SHOTS: &[(&str, &str)] = &[
    ("overview", ""),
    ("pools", "2 l k k k"),
    ("detail", "2 l k k enter"),
    ("hive", "3"),
    ("calls", "4"),
    ("groups", "5"),
    ("log", "6"),
    ("help", "2 l ?"),
];

/// Feeds a space-separated key script (`2 l k enter`, `ctrl-s`) to the app.
pub fn keys(app: &mut App, script: &str) {
    for k in script.split_whitespace() {
        if let Some(c) = Chord::parse(k) {
            app.handle(AppEvent::Key(c.to_event()));
        }
    }
}

/// The fixture app after `script`, at `w`×`h`.
pub fn app_for(theme: Theme, script: &str, w: u16, h: u16) -> App {
    let mut app = demo::fixture_app(theme, false);
    app.handle(AppEvent::Resize(w, h));
    keys(&mut app, script);
    app.outbox.clear();
    app
}

/// Draws `app` into a fresh `TestBackend` of its size.
pub fn draw(app: &App) -> Buffer {
    let (w, h) = app.size;
    let mut t = match Terminal::new(TestBackend::new(w, h)) {
        Ok(t) => t,
        // TestBackend construction cannot fail; an empty buffer keeps this total
        Err(_) => return Buffer::empty(ratatui::layout::Rect::new(0, 0, w, h)),
    };
    let _ = t.draw(|f| ui::render(app, f));
    t.backend().buffer().clone()
}

/// Buffer as plain text lines (for snapshots and tmux-like assertions).
pub fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut x = 0;
        while x < buf.area.width {
            let sym = buf.cell((x, y)).map(|c| c.symbol()).unwrap_or(" ");
            line.push_str(sym);
            x += unicode_width::UnicodeWidthStr::width(sym).max(1) as u16;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The SVG of one named shot.
pub fn svg(name: &str, theme: &Theme, w: u16, h: u16) -> Option<String> {
    let (_, script) = SHOTS.iter().find(|(n, _)| *n == name)?;
    let app = app_for(theme.clone(), script, w, h);
    Some(crate::tui::svg::render(&draw(&app), theme))
}

/// File name: `<view>.svg` for dark 120×36, suffixed otherwise.
pub fn file_name(view: &str, theme: &str, w: u16, h: u16) -> String {
    let mut n = view.to_string();
    if theme != "dark" {
        n.push('-');
        n.push_str(theme);
    }
    if (w, h) != (120, 36) {
        n.push_str(&format!("-{w}x{h}"));
    }
    n.push_str(".svg");
    n
}
