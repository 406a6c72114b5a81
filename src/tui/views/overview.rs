//! Overview (console spec section 3.1): one card per engine.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use crate::tui::app::{App, Spark};
use crate::tui::source::{PoolStats, SourceState};
use crate::tui::text::{si, truncate};
use crate::tui::theme::Theme;
use crate::tui::ui;
use crate::tui::widgets::rate_spark;

/// One engine card.
pub struct Card {
    /// Card field.
    pub name: &'static str,
    /// Card field.
    pub badge: (String, Style),
    /// Card field.
    pub rate: String,
    /// Card field.
    pub counters: String,
    /// Card field.
    pub spark: Option<Spark>,
    /// Card field.
    pub error: Option<String>,
}

/// The connection badge: symbol and word, never colour alone.
pub fn badge(state: &SourceState, theme: &Theme) -> (String, Style, Option<String>) {
    let r = &theme.roles;
    match state {
        SourceState::Off => ("– off".into(), r.badge_off, None),
        SourceState::Local => ("◆ local".into(), r.badge_local, None),
        SourceState::Up { tls: false } => ("● up".into(), r.badge_up, None),
        SourceState::Up { tls: true } => ("● up TLS".into(), r.badge_up, None),
        SourceState::Connecting => ("○ connecting".into(), r.badge_retry, None),
        SourceState::Retry { in_secs, error } => (
            format!("↻ retry {in_secs}s"),
            r.badge_retry,
            Some(error.clone()),
        ),
        SourceState::Down { error } => ("✕ down".into(), r.badge_down, Some(error.clone())),
    }
}

fn cards(app: &App) -> Vec<Card> {
    let (stats, spark): (&PoolStats, &Spark) = match &app.overview_snapshot {
        Some((s, sp)) => (s, sp),
        None => (&app.pool_stats, &app.pool_rate),
    };
    let (b, st, err) = badge(&stats.state, &app.theme);
    let n = app.pools.list.len();
    let mut v = vec![Card {
        name: "Pools",
        badge: (
            format!("{b}  {n} pool{}", if n == 1 { "" } else { "s" }),
            st,
        ),
        rate: format!("{}/s proteins", si(spark.current() as f64)),
        counters: format!(
            "total {}  deposits {}  errors {}  dropped {}",
            si(stats.proteins as f64),
            si(stats.deposits as f64),
            stats.errors,
            stats.dropped
        ),
        spark: Some(spark.clone()),
        error: err,
    }];
    v.push(crate::tui::views::hive::card(app));
    for (name, what) in [
        ("AMP", "calls/s"),
        ("simpy.io RPC", "calls/s"),
        ("Groups", "events/s"),
    ] {
        let (b, st, _) = badge(&SourceState::Off, &app.theme);
        v.push(Card {
            name,
            badge: (format!("{b}  engine not built yet"), st),
            rate: format!("– {what}"),
            counters: "not connected".into(),
            spark: None,
            error: None,
        });
    }
    v
}

/// Draws the Overview.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let cards = cards(app);
    let two = area.width >= 100;
    let compact = area.height < 30;
    let rects: Vec<Rect> = if two {
        let rows = Layout::vertical([Constraint::Ratio(1, 3); 3]).split(area);
        let mut v = Vec::new();
        for row in rows.iter() {
            let cols = Layout::horizontal([Constraint::Ratio(1, 2); 2]).split(*row);
            v.extend(cols.iter().copied());
        }
        v
    } else {
        let h = if compact { 4 } else { 6 };
        Layout::vertical(vec![Constraint::Length(h); 5])
            .split(area)
            .to_vec()
    };
    let r = &app.theme.roles;
    for (i, (card, rect)) in cards.iter().zip(rects.iter()).enumerate() {
        let focused = i == app.overview_sel;
        let mut title = vec![ui::title(format!(" {} ", card.name), focused, &app.theme)];
        if focused {
            title.insert(0, Span::styled("▶", r.title));
        }
        if i == 0 && app.overview_frozen {
            title.push(Span::styled(" FROZEN ", r.paused));
        }
        let block = if two || !compact {
            ui::pane(Line::from(title), focused, &app.theme)
        } else {
            Block::default()
                .borders(Borders::TOP)
                .border_style(if focused { r.border_focused } else { r.border })
                .title(Line::from(title))
                .style(r.base)
        };
        let inner = block.inner(*rect);
        f.render_widget(block, *rect);
        let w = inner.width as usize;
        let mut lines = vec![Line::from(Span::styled(
            truncate(&card.badge.0, w),
            card.badge.1,
        ))];
        let spark_w = if compact && !two { 30 } else { w.min(60) };
        lines.push(Line::from(vec![
            Span::styled(truncate(&card.rate, w), r.base),
            Span::raw("  "),
            Span::styled(
                truncate(&card.counters, w.saturating_sub(card.rate.len() + 2)),
                r.muted,
            ),
        ]));
        match &card.spark {
            Some(s) => lines.push(Line::styled(
                rate_spark::line(s.samples.iter(), spark_w),
                r.spark,
            )),
            None => lines.push(Line::styled("", r.muted)),
        }
        if !compact || two {
            if let Some(e) = &card.error {
                lines.push(Line::styled(
                    truncate(&crate::tui::text::sanitize(e), w),
                    r.error,
                ));
            }
        }
        f.render_widget(Paragraph::new(lines), inner);
    }
}
