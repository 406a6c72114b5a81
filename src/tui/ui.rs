//! `render(&App, &mut Frame)`: header, body by tab, footer, overlays (console spec
//! section 2). Pure function of the state; layout recomputed on every draw.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::app::{App, Mode, Overlay, Tab};
use crate::tui::source::SourceState;
use crate::tui::text::width;
use crate::tui::theme::Theme;
use crate::tui::views;
use crate::tui::widgets::{self, confirm, input, status_bar};

/// Smallest usable terminal.
pub const MIN_SIZE: (u16, u16) = (60, 18);

/// Draws the whole screen.
pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    let r = &app.theme.roles;
    f.render_widget(Block::default().style(r.base), area);
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = format!(
            "terminal too small: {}×{}, need {}×{}",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        let y = area.height / 2;
        f.render_widget(
            Paragraph::new(msg).style(r.warn).centered(),
            Rect {
                y,
                height: 1.min(area.height),
                ..area
            },
        );
        return;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, header, app);
    match app.tab {
        Tab::Overview => views::overview::draw(f, body, app),
        Tab::Pools => views::pools::draw(f, body, app),
        Tab::Hive => views::hive::draw(f, body, app),
        Tab::Calls => views::calls::draw(f, body, app),
        Tab::Groups => views::groups::draw(f, body, app),
        Tab::Log => views::log::draw(f, body, app),
    }
    match &app.overlay {
        Some(Overlay::Help { scroll }) => views::help::draw(f, body, app, *scroll),
        Some(Overlay::Detail(d)) => views::pools::draw_detail(f, body, app, d),
        Some(Overlay::Form(form)) => views::form::draw(f, body, app, form),
        None => {}
    }
    if let Some(c) = &app.confirm {
        confirm::draw(f, body, c, &app.theme);
    }
    match &app.line {
        Some(l) => {
            let prefix = if l.mode == Mode::Filter { "/" } else { ":" };
            let under = l.error.as_ref().map(|(_, w)| {
                (
                    w.as_str(),
                    r.error.add_modifier(ratatui::style::Modifier::UNDERLINED),
                )
            });
            let mut input_area = footer;
            if let Some((msg, _)) = &l.error {
                let msg = crate::tui::text::truncate(msg, footer.width as usize / 2);
                let mw = width(&msg) as u16 + 2;
                input_area.width = footer.width.saturating_sub(mw);
                f.render_widget(
                    Paragraph::new(format!(" {msg} ")).style(r.error),
                    Rect {
                        x: footer.x + input_area.width,
                        width: mw,
                        ..footer
                    },
                );
            }
            input::draw(f, input_area, prefix, &l.input, r.input, true, under);
            if let Some((cands, sel, _)) = &l.completion {
                draw_completion(f, body, cands, *sel, &app.theme);
            }
        }
        None => status_bar::draw(f, footer, app),
    }
}

fn draw_completion(f: &mut Frame, body: Rect, cands: &[String], sel: usize, theme: &Theme) {
    let h = (cands.len() as u16 + 2).min(body.height).min(10);
    let w = cands.iter().map(|c| width(c)).max().unwrap_or(4) as u16 + 4;
    let rect = Rect {
        x: body.x + 1,
        y: body.bottom().saturating_sub(h),
        width: w.min(body.width),
        height: h,
    };
    f.render_widget(Clear, rect);
    let lines: Vec<Line> = cands
        .iter()
        .enumerate()
        .skip(sel.saturating_sub(h.saturating_sub(3) as usize))
        .map(|(i, c)| {
            if i == sel {
                Line::styled(format!("▶{c}"), theme.roles.selection)
            } else {
                Line::styled(format!(" {c}"), theme.roles.base)
            }
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.roles.border_focused)
                .style(theme.roles.base),
        ),
        rect,
    );
}

/// Engines up / configured, for the header badge.
pub fn engines_up(app: &App) -> (usize, usize) {
    let up = matches!(
        app.pool_stats.state,
        SourceState::Local | SourceState::Up { .. }
    );
    let hive = app.hive.is_connected();
    let hive_configured = !matches!(app.hive.state, SourceState::Off);
    // AMP and simpy.io count as one engine each once a target is configured;
    // up when every target of it is
    let (mut up, mut total) = (
        usize::from(up) + usize::from(hive),
        1 + usize::from(hive_configured),
    );
    for kind in [crate::tui::calls::Kind::Amp, crate::tui::calls::Kind::Rpc] {
        let t = app.calls.totals(kind);
        if t.configured > 0 {
            total += 1;
            up += usize::from(t.up == t.configured);
        }
    }
    (up, total)
}

fn draw_header(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let short = area.width < 70;
    let mut left = vec![Span::styled(" tidepool ", r.title), Span::raw(" ")];
    for t in Tab::ALL {
        let mut label = format!(
            " {} {} ",
            t.index() + 1,
            if short { t.short() } else { t.label() }
        );
        if t == Tab::Log && app.log.unseen > 0 {
            label = format!(
                " {} {}·{} ",
                t.index() + 1,
                if short { t.short() } else { t.label() },
                app.log.unseen
            );
        }
        let st = if t == app.tab {
            r.tab_active
        } else {
            r.tab_inactive
        };
        left.push(Span::styled(label, st));
    }
    let mut right: Vec<Span> = Vec::new();
    let pending = app.pending_writes().len();
    if pending > 0 {
        right.push(Span::styled(format!(" ✎ {pending} "), r.warn));
        right.push(Span::raw(" "));
    }
    if app.settings.readonly {
        right.push(Span::styled(" READONLY ", r.readonly));
        right.push(Span::raw(" "));
    }
    let (up, total) = engines_up(app);
    let st = if up == total {
        r.badge_up
    } else {
        r.badge_retry
    };
    right.push(Span::styled(format!("● {up}/{total} "), st));
    let lw: usize = left.iter().map(|s| width(&s.content)).sum();
    let rw: usize = right.iter().map(|s| width(&s.content)).sum();
    let pad = (area.width as usize).saturating_sub(lw + rw);
    left.push(Span::raw(" ".repeat(pad)));
    left.extend(right);
    f.render_widget(Paragraph::new(Line::from(left)).style(r.base), area);
}

/// A bordered pane block; the focused one uses `border_focused` and a bold title.
pub fn pane<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    let r = &theme.roles;
    Block::default()
        .borders(Borders::ALL)
        .border_style(if focused { r.border_focused } else { r.border })
        .title(title)
        .style(r.base)
}

/// Pane title span.
pub fn title(text: String, focused: bool, theme: &Theme) -> Span<'static> {
    let st = if focused {
        theme.roles.title
    } else {
        theme.roles.base
    };
    Span::styled(text, st)
}

/// An empty state: message lines centred vertically in the pane.
pub fn empty_state(f: &mut Frame, inner: Rect, lines: Vec<Line<'_>>, style: Style) {
    let h = lines.len() as u16;
    let y = inner.y + inner.height.saturating_sub(h) / 2;
    let rect = Rect {
        y,
        height: h.min(inner.height),
        ..inner
    };
    f.render_widget(
        Paragraph::new(lines)
            .style(style)
            .centered()
            .wrap(ratatui::widgets::Wrap { trim: true }),
        rect,
    );
}

/// `HH:MM:SS.mmm` for a Unix time, shifted by `offset` seconds.
pub fn clock(t: f64, offset: i64) -> String {
    if !t.is_finite() || t < 0.0 {
        return "--:--:--.---".into();
    }
    let ms_total = (t * 1000.0) as i64 + offset * 1000;
    let ms = ms_total.rem_euclid(1000);
    let s = ms_total.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        ms
    )
}

/// The overlay rectangle: centred, at most 90 % of the body.
pub fn overlay_rect(body: Rect) -> Rect {
    widgets::centered(body, 90, 90, 20, 8)
}

#[cfg(test)]
mod tests {
    #[test]
    fn clock_formats() {
        assert_eq!(super::clock(3723.5, 0), "01:02:03.500");
        assert_eq!(super::clock(0.0, 3600), "01:00:00.000");
        assert_eq!(super::clock(f64::NAN, 0), "--:--:--.---");
    }
}
