//! Log (console spec section 3.6): the console's own records.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::event::Level;
use crate::tui::text::{fit, sanitize, truncate};
use crate::tui::ui;

/// Draws the Log view.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let log = &app.log;
    let mut title = vec![
        ui::title(format!(" log {} ", sanitize(&log.path)), true, &app.theme),
        Span::styled(format!(" ≥{} ", log.min_level.name()), r.info),
    ];
    if log.follow {
        title.push(Span::styled(" following ", r.ok));
    } else {
        title.push(Span::styled(
            format!(" PAUSED +{} ", log.paused_new),
            r.paused,
        ));
    }
    if !log.filter.is_empty() {
        title.push(Span::styled(
            format!(" filter: {} ", sanitize(&log.filter.text)),
            r.info,
        ));
    }
    let block = ui::pane(Line::from(title), true, &app.theme);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let shown = log.shown();
    if shown.is_empty() {
        ui::empty_state(
            f,
            inner,
            vec![Line::from("no log records at this level")],
            r.muted,
        );
        return;
    }
    let rows = inner.height as usize;
    let end = shown
        .len()
        .saturating_sub(log.scroll_back.min(shown.len().saturating_sub(1)));
    let start = end.saturating_sub(rows);
    let w = inner.width as usize;
    let narrow = w < 100;
    let lines: Vec<Line> = shown[start..end]
        .iter()
        .map(|l| {
            let lvl_style = match l.level {
                Level::Error => r.error,
                Level::Warn => r.warn,
                Level::Info => r.info,
                _ => r.muted,
            };
            let mut spans = vec![
                Span::styled(
                    format!("{} ", ui::clock(l.time, app.settings.utc_offset)),
                    r.muted,
                ),
                Span::styled(format!("{} ", fit(l.level.name(), 5)), lvl_style),
            ];
            if !narrow {
                spans.push(Span::styled(format!("{} ", fit(&l.target, 24)), r.muted));
            }
            let used: usize = spans.iter().map(|s| s.width()).sum();
            let msg = if log.wrap {
                l.message.clone()
            } else {
                truncate(&l.message, w.saturating_sub(used))
            };
            spans.push(Span::styled(msg, r.base));
            Line::from(spans)
        })
        .collect();
    let mut p = Paragraph::new(lines);
    if log.wrap {
        p = p.wrap(Wrap { trim: false });
    }
    f.render_widget(p, inner);
}
