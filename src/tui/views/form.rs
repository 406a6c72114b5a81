//! Form overlays: deposit, create, resize (console spec sections 3.2 and 6).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::form::Form;
use crate::tui::text::{fit, truncate};
use crate::tui::ui;
use crate::tui::widgets::{centered, input};

/// Draws a form.
pub fn draw(f: &mut Frame, body: Rect, app: &App, form: &Form) {
    let r = &app.theme.roles;
    let h = form.fields.len() as u16 * 2 + 6;
    let rect = centered(body, 80, 0, 50, h);
    f.render_widget(Clear, rect);
    let b = ui::pane(
        ui::title(format!(" {} ", form.title()), true, &app.theme),
        true,
        &app.theme,
    );
    let inner = b.inner(rect);
    f.render_widget(b, rect);
    let label_w = 11u16;
    let check = form.summary();
    let err_field = check.as_ref().err().map(|e| e.0);
    for (i, fl) in form.fields.iter().enumerate() {
        let y = inner.y + i as u16 * 2;
        if y >= inner.bottom() {
            break;
        }
        let focused = i == form.focus && app.confirm.is_none();
        let marker = if focused { "▶" } else { " " };
        f.render_widget(
            Paragraph::new(Span::styled(
                format!("{marker}{}", fit(fl.label, label_w as usize - 1)),
                if focused { r.title } else { r.base },
            )),
            Rect {
                x: inner.x,
                y,
                width: label_w,
                height: 1,
            },
        );
        let hint_w = (fl.hint.len() as u16 + 1).min(inner.width / 3);
        let field_w = inner.width.saturating_sub(label_w + hint_w + 1);
        input::draw(
            f,
            Rect {
                x: inner.x + label_w,
                y,
                width: field_w,
                height: 1,
            },
            "",
            &fl.input,
            if focused {
                r.input
            } else {
                r.input.add_modifier(ratatui::style::Modifier::DIM)
            },
            focused,
            None,
        );
        f.render_widget(
            Paragraph::new(Span::styled(truncate(fl.hint, hint_w as usize), r.muted)),
            Rect {
                x: inner.x + label_w + field_w + 1,
                y,
                width: hint_w,
                height: 1,
            },
        );
        if err_field == Some(i) {
            if let Err((_, msg)) = &check {
                if y + 1 < inner.bottom() {
                    f.render_widget(
                        Paragraph::new(Span::styled(
                            truncate(&format!("✕ {msg}"), field_w as usize),
                            r.error,
                        )),
                        Rect {
                            x: inner.x + label_w,
                            y: y + 1,
                            width: field_w,
                            height: 1,
                        },
                    );
                }
            }
        }
    }
    let y = inner.y + form.fields.len() as u16 * 2;
    let mut lines = Vec::new();
    if let Ok(s) = &check {
        lines.push(Line::styled(s.clone(), r.ok));
    } else {
        lines.push(Line::styled("fix the field marked ✕ to send", r.muted));
    }
    match &form.result {
        Some(Ok(m)) => lines.push(Line::styled(format!("✓ {m}"), r.ok)),
        Some(Err(e)) => lines.push(Line::styled(format!("✕ {e}"), r.error)),
        None => lines.push(Line::from("")),
    }
    let send = app
        .keymap
        .key_for(
            crate::tui::action::Scope::Form,
            crate::tui::action::Action::FormSend,
        )
        .unwrap_or_default();
    lines.push(Line::from(vec![
        Span::styled(format!("{send} "), r.key_hint),
        Span::styled("send  ", r.base),
        Span::styled("Tab ", r.key_hint),
        Span::styled("next field  ", r.base),
        Span::styled("Esc ", r.key_hint),
        Span::styled("close", r.base),
    ]));
    if y < inner.bottom() {
        f.render_widget(
            Paragraph::new(lines),
            Rect {
                x: inner.x + 1,
                y,
                width: inner.width.saturating_sub(1),
                height: inner.bottom() - y,
            },
        );
    }
}
