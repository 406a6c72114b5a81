//! Groups (console spec section 3.5): the layout is ready; the groups engine is not
//! built yet.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::ui;
use crate::tui::views::hive::not_built;

/// Draws the Groups view.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let base = r.base;
    let [head, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(4)]).areas(area);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" daemon: ", r.muted),
            Span::styled("none", base),
            Span::styled("   name: ", r.muted),
            Span::styled("–", base),
            Span::raw("   "),
            Span::styled("– off", r.badge_off),
        ])),
        head,
    );
    let [top, timeline] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Min(4)]).areas(rest);
    let [groups, members] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Min(10)]).areas(top);
    for (rect, title, what, focused) in [
        (groups, " groups ", "joined and watched groups", true),
        (members, " members ", "members of the selected group", false),
        (
            timeline,
            " timeline ",
            "JOIN / LEAVE / DISCONNECT / NETWORK events",
            false,
        ),
    ] {
        let b = ui::pane(
            ui::title(title.into(), focused, &app.theme),
            focused,
            &app.theme,
        );
        let inner = b.inner(rect);
        f.render_widget(b, rect);
        ui::empty_state(f, inner, not_built(app, "groups", what), base);
    }
}
