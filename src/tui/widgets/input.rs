//! Drawing a tui-input line with its cursor, scrolled to fit.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use tui_input::Input;

use crate::tui::text::sanitize;

/// Draws `prefix` + the input in `area`, placing the terminal cursor when `focused`.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    prefix: &str,
    input: &Input,
    style: Style,
    focused: bool,
    underline: Option<(&str, Style)>,
) {
    let pw = prefix.chars().count() as u16;
    let avail = area.width.saturating_sub(pw + 1) as usize;
    let scroll = input.visual_scroll(avail);
    let value = sanitize(input.value());
    let shown: String = value.chars().skip(scroll).collect();
    let mut spans = vec![Span::styled(prefix.to_string(), style)];
    match underline
        .and_then(|(w, st)| (!w.is_empty()).then_some((w, st)))
        .and_then(|(w, st)| shown.find(w).map(|i| (i, w, st)))
    {
        Some((i, w, st)) => {
            spans.push(Span::styled(shown[..i].to_string(), style));
            spans.push(Span::styled(shown[i..i + w.len()].to_string(), st));
            spans.push(Span::styled(shown[i + w.len()..].to_string(), style));
        }
        None => spans.push(Span::styled(shown, style)),
    }
    f.render_widget(Paragraph::new(Line::from(spans)).style(style), area);
    if focused {
        let x = (input.visual_cursor().saturating_sub(scroll)) as u16 + pw;
        f.set_cursor_position((area.x + x.min(area.width.saturating_sub(1)), area.y));
    }
}
