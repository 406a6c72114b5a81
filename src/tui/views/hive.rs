//! Hive (console spec section 3.3): the layout is ready; the engine is not built yet.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::ui;

/// The message every pane of a not-yet-built engine shows.
pub fn not_built<'a>(app: &App, engine: &str, what: &str) -> Vec<Line<'a>> {
    let r = &app.theme.roles;
    vec![
        Line::styled("– off: not connected", r.badge_off),
        Line::styled(format!("the {engine} engine is not built yet"), r.muted),
        Line::styled(what.to_string(), r.muted),
    ]
}

/// Draws the Hive view.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let left_w = if area.width < 100 { 30 } else { 40 };
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(10)]).areas(area);
    let b = ui::pane(
        ui::title(" keys ".into(), true, &app.theme),
        true,
        &app.theme,
    );
    let inner = b.inner(left);
    f.render_widget(b, left);
    ui::empty_state(
        f,
        inner,
        not_built(app, "hive", "keys load here by prefix"),
        app.theme.roles.base,
    );
    let b = ui::pane(
        ui::title(" value ".into(), false, &app.theme),
        false,
        &app.theme,
    );
    let inner = b.inner(right);
    f.render_widget(b, right);
    ui::empty_state(
        f,
        inner,
        not_built(
            app,
            "hive",
            "values show as auto / hex / UTF-8 / slaw / JSON",
        ),
        app.theme.roles.base,
    );
}
