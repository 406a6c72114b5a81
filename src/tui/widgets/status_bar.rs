//! The footer: mode, key hints generated from the keymap, status message; and the
//! header badges.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::action::Scope;
use crate::tui::app::App;
use crate::tui::text::{truncate, width};

/// Draws the footer in NORMAL / FORM / CONFIRM modes.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let mut spans = vec![
        Span::styled(format!(" {} ", app.mode().label()), r.tab_active),
        Span::raw(" "),
    ];
    let mut used = width(app.mode().label()) + 3;
    let status = app.status.as_ref().map(|s| (s.text.clone(), s.is_error));
    let status_w = status
        .as_ref()
        .map(|s| width(&s.0).min(area.width as usize / 2) + 1)
        .unwrap_or(0);
    let budget = (area.width as usize).saturating_sub(used + status_w);
    if !app.pending_keys.is_empty() {
        let p: Vec<String> = app.pending_keys.iter().map(|c| c.to_string()).collect();
        let t = format!("{}… ", p.join(" "));
        used += width(&t);
        spans.push(Span::styled(t, r.key_hint));
    }
    let scopes = app.scopes();
    let mut hints = Vec::new();
    for s in &scopes {
        hints.extend(app.keymap.hints(*s));
    }
    if !scopes.contains(&Scope::Global) && scopes.len() == 1 && scopes[0] != Scope::Confirm {
        hints.extend(
            app.keymap
                .hints(Scope::Global)
                .into_iter()
                .filter(|h| h.1 == "help"),
        );
    }
    let mut seen = Vec::new();
    let mut hint_w = 0;
    for (keys, label, action) in hints {
        if seen.contains(&label) {
            continue;
        }
        seen.push(label);
        let ro = action.is_write() && app.settings.readonly;
        let k = keys.split(' ').next().unwrap_or("").to_string();
        let piece_w = width(&k) + width(label) + 3;
        if hint_w + piece_w > budget {
            break;
        }
        hint_w += piece_w;
        spans.push(Span::styled(k, r.key_hint));
        spans.push(Span::styled(
            format!(" {label}"),
            if ro { r.muted } else { r.base },
        ));
        spans.push(Span::raw("  "));
    }
    used += hint_w;
    if let Some((text, is_error)) = status {
        let max = (area.width as usize).saturating_sub(used + 1);
        let t = truncate(&text, max);
        let pad = (area.width as usize).saturating_sub(used + width(&t) + 1);
        spans.push(Span::raw(" ".repeat(pad)));
        spans.push(Span::styled(t, if is_error { r.error } else { r.info }));
        spans.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(spans)).style(r.base), area);
}
