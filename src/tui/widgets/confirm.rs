//! The confirm dialog: says what will happen, names the target, defaults to No.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::app::Confirm;
use crate::tui::theme::Theme;

/// Draws `c` centred in `area`.
pub fn draw(f: &mut Frame, area: Rect, c: &Confirm, theme: &Theme) {
    let r = &theme.roles;
    let h = (c.lines.len() as u16 + 5).min(area.height);
    let rect = super::centered(area, 60, 0, 40, h);
    f.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(r.border_focused)
        .title(Span::styled(format!(" {} ", c.title), r.title))
        .style(r.base);
    let mut lines: Vec<Line> = c.lines.iter().map(|l| Line::from(l.as_str())).collect();
    lines.push(Line::from(""));
    let (no, yes) = if c.yes_selected {
        (r.base, r.selection)
    } else {
        (r.selection, r.base)
    };
    let mark = |sel: bool| if sel { "▶" } else { " " };
    lines.push(Line::from(vec![
        Span::styled(format!("{}[ No ]", mark(!c.yes_selected)), no),
        Span::raw("   "),
        Span::styled(format!("{}[ Yes ]", mark(c.yes_selected)), yes),
        Span::styled("   y yes · n/Esc no", r.muted),
    ]));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}
