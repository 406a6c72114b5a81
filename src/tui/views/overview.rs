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
    v.push(calls_card(app, "AMP"));
    v.push(calls_card(app, "simpy.io RPC"));
    v.push(groups_card(app));
    v
}

/// The AMP or simpy.io card: targets up, calls/s and p50 latency, totals.
fn calls_card(app: &App, name: &'static str) -> Card {
    let kind = if name == "AMP" {
        crate::tui::calls::Kind::Amp
    } else {
        crate::tui::calls::Kind::Rpc
    };
    let t = app.calls.totals(kind);
    let r = &app.theme.roles;
    let (badge_text, style) = if t.configured == 0 {
        ("– off  no targets configured".to_string(), r.badge_off)
    } else if t.up == t.configured {
        (
            format!("● up  {}/{} targets", t.up, t.configured),
            r.badge_up,
        )
    } else if t.up > 0 || t.last_error.is_none() {
        (
            format!("↻ {}/{} targets up", t.up, t.configured),
            r.badge_retry,
        )
    } else {
        (
            format!("✕ down  0/{} targets up", t.configured),
            r.badge_down,
        )
    };
    let p50 = t
        .p50_ms
        .map(|m| format!("  p50 {} ms", crate::tui::views::calls::ms3(m)))
        .unwrap_or_default();
    Card {
        name,
        badge: (badge_text, style),
        rate: format!("{}/s calls{p50}", si(t.rate.current() as f64)),
        counters: format!(
            "total {}  ok {}  errors {}  failed {}",
            si(t.calls as f64),
            si(t.ok as f64),
            t.errors,
            t.failures
        ),
        spark: (t.configured > 0).then_some(t.rate),
        error: t.last_error,
    }
}

fn groups_card(app: &App) -> Card {
    let g = &app.groups;
    let (b, st, err) = badge(&crate::tui::views::groups::state(app), &app.theme);
    let members: usize = g.groups.values().map(|r| r.members.len()).sum();
    Card {
        name: "Groups",
        badge: (
            if g.attached {
                format!("{b}  {}", crate::tui::text::sanitize(&g.stats.daemon))
            } else {
                format!("{b}  no daemon (--groups-daemon)")
            },
            st,
        ),
        rate: format!("{}/s events", si(g.rate.current() as f64)),
        counters: format!(
            "groups {}  members {}  msgs {}  views {}  rejects {}",
            g.groups.len(),
            members,
            si(g.stats.messages_in as f64),
            g.stats.memberships,
            g.stats.rejects
        ),
        spark: g.attached.then(|| g.rate.clone()),
        error: err.or_else(|| g.last_error.clone()),
    }
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
