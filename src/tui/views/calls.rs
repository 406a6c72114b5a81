//! Calls (console spec section 3.4): the layout is ready; the AMP and simpy.io
//! engines are not built yet.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::ui;
use crate::tui::views::hive::not_built;

/// Draws the Calls view.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let base = app.theme.roles.base;
    let (targets, right) = if area.width < 100 {
        let [t, r] = Layout::vertical([Constraint::Length(3), Constraint::Min(5)]).areas(area);
        (t, r)
    } else {
        let [t, r] = Layout::horizontal([Constraint::Length(36), Constraint::Min(20)]).areas(area);
        (t, r)
    };
    let [form, history] =
        Layout::vertical([Constraint::Percentage(40), Constraint::Min(4)]).areas(right);
    let b = ui::pane(
        ui::title(" targets ".into(), true, &app.theme),
        true,
        &app.theme,
    );
    let inner = b.inner(targets);
    f.render_widget(b, targets);
    if targets.height > 4 {
        ui::empty_state(
            f,
            inner,
            not_built(app, "AMP / simpy.io", "AMP and RPC peers from the config"),
            base,
        );
    } else {
        f.render_widget(
            ratatui::widgets::Paragraph::new("– off: AMP / simpy.io engines not built yet")
                .style(app.theme.roles.badge_off),
            inner,
        );
    }
    let b = ui::pane(
        ui::title(" call ".into(), false, &app.theme),
        false,
        &app.theme,
    );
    let inner = b.inner(form);
    f.render_widget(b, form);
    ui::empty_state(
        f,
        inner,
        not_built(app, "AMP / simpy.io", "command picker and argument form"),
        base,
    );
    let b = ui::pane(
        ui::title(" history ".into(), false, &app.theme),
        false,
        &app.theme,
    );
    let inner = b.inner(history);
    f.render_widget(b, history);
    ui::empty_state(
        f,
        inner,
        not_built(app, "AMP / simpy.io", "calls, status and latency"),
        base,
    );
}
