//! The help overlay, generated from the keymap (console spec section 5).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use crate::tui::action::Scope;
use crate::tui::app::App;
use crate::tui::text::fit;
use crate::tui::ui;

/// Help lines: the current view's scopes first, then the input modes, then global.
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let r = &app.theme.roles;
    // help is drawn over the view, so describe the view beneath the overlay
    let mut scopes: Vec<Scope> = app
        .view_scopes()
        .into_iter()
        .filter(|s| *s != Scope::Global)
        .collect();
    if app.tab == crate::tui::app::Tab::Pools {
        for s in [Scope::PoolList, Scope::Tail, Scope::Detail] {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
    }
    if app.tab == crate::tui::app::Tab::Calls {
        for s in [
            Scope::CallTargets,
            Scope::CallTargetLine,
            Scope::CallCommands,
            Scope::CallHistory,
            Scope::CallForm,
        ] {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
    }
    scopes.extend([
        Scope::Global,
        Scope::Filter,
        Scope::Command,
        Scope::Form,
        Scope::Confirm,
    ]);
    let mut out = Vec::new();
    for s in scopes {
        let rows = app.keymap.help_rows(s);
        if rows.is_empty() {
            continue;
        }
        out.push(Line::styled(s.title().to_string(), r.title));
        for (keys, desc, action) in rows {
            let ro = action.is_write() && app.settings.readonly;
            out.push(Line::from(vec![
                Span::styled(format!("  {} ", fit(&keys, 22)), r.key_hint),
                Span::styled(desc.to_string(), if ro { r.muted } else { r.base }),
                Span::styled(if ro { " (read-only)" } else { "" }, r.readonly),
            ]));
        }
        out.push(Line::from(""));
    }
    out
}

/// Draws the help overlay.
pub fn draw(f: &mut Frame, body: Rect, app: &App, scroll: usize) {
    let rect = ui::overlay_rect(body);
    f.render_widget(Clear, rect);
    let b = ui::pane(
        ui::title(
            " help — keys come from the keymap ".into(),
            true,
            &app.theme,
        ),
        true,
        &app.theme,
    );
    let inner = b.inner(rect);
    f.render_widget(b, rect);
    let all = lines(app);
    let start = scroll.min(all.len().saturating_sub(1));
    let shown: Vec<Line> = all
        .into_iter()
        .skip(start)
        .take(inner.height as usize)
        .collect();
    f.render_widget(Paragraph::new(shown), inner);
}
