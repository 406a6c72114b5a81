//! Groups (console spec section 3.5): groups with member counts, the selected
//! group's members, the membership timeline and, with `m`, the messages pane.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::engine::groups::handle::ConnState;
use crate::tui::app::App;
use crate::tui::source::SourceState;
use crate::tui::text::{si, truncate};
use crate::tui::ui;
use crate::tui::views::overview::badge;

/// The connection state as the shared badge shows it.
pub fn state(app: &App) -> SourceState {
    let g = &app.groups;
    if !g.attached {
        return SourceState::Off;
    }
    match g.stats.state {
        ConnState::Connected => SourceState::Up { tls: false },
        ConnState::Connecting => SourceState::Connecting,
        ConnState::Closed => SourceState::Down {
            error: g.last_error.clone().unwrap_or_else(|| "closed".into()),
        },
    }
}

fn cause_style(app: &App, cause: &str) -> Style {
    let r = &app.theme.roles;
    match cause {
        "JOIN" => r.cause_join,
        "LEAVE" => r.cause_leave,
        "DISCONNECT" | "DISCONNECTED" => r.cause_disconnect,
        "NETWORK" => r.cause_network,
        "SELF-LEAVE" => r.cause_self_leave,
        _ => r.cause_transition,
    }
}

/// Draws the Groups view.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let g = &app.groups;
    let [head, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(4)]).areas(area);
    let (b, bst, _) = badge(&state(app), &app.theme);
    let daemon = if g.attached {
        g.stats.daemon.clone()
    } else {
        "none".into()
    };
    let me = g
        .stats
        .private_group
        .as_ref()
        .map(|n| crate::tui::text::sanitize(&n.as_str()))
        .unwrap_or_else(|| "–".into());
    let mut head_spans = vec![
        Span::styled(" daemon: ", r.muted),
        Span::styled(crate::tui::text::sanitize(&daemon), r.base),
        Span::styled("   me: ", r.muted),
        Span::styled(me, r.base),
        Span::raw("   "),
        Span::styled(b, bst),
        Span::styled(
            format!(
                "   in {}  out {}  views {}  {}/s",
                si(g.stats.messages_in as f64),
                si(g.stats.messages_out as f64),
                g.stats.memberships,
                si(g.rate.current() as f64)
            ),
            r.muted,
        ),
    ];
    if let Some(e) = &g.last_error {
        head_spans.push(Span::styled(format!("   {e}"), r.error));
    }
    f.render_widget(Paragraph::new(Line::from(head_spans)), head);

    if !g.attached {
        let b = ui::pane(
            ui::title(" groups ".into(), true, &app.theme),
            true,
            &app.theme,
        );
        let inner = b.inner(rest);
        f.render_widget(b, rest);
        ui::empty_state(
            f,
            inner,
            vec![
                Line::styled("– off: no Spread daemon configured", r.badge_off),
                Line::styled(
                    "start with --groups-daemon PORT@HOST (and --groups-watch G1,G2), or --demo",
                    r.muted,
                ),
            ],
            r.base,
        );
        return;
    }

    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Min(4)]).areas(rest);
    let [list, members] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Min(10)]).areas(top);
    draw_list(f, list, app);
    draw_members(f, members, app);
    if g.show_messages {
        let [tl, msgs] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Min(3)]).areas(bottom);
        draw_timeline(f, tl, app);
        draw_messages(f, msgs, app);
    } else {
        draw_timeline(f, bottom, app);
    }
}

fn draw_list(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let g = &app.groups;
    let b = ui::pane(
        ui::title(format!(" groups ({}) ", g.groups.len()), true, &app.theme),
        true,
        &app.theme,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    if g.groups.is_empty() {
        ui::empty_state(
            f,
            inner,
            vec![Line::styled("no groups yet: J joins one", r.muted)],
            r.base,
        );
        return;
    }
    let w = inner.width as usize;
    let rows = inner.height as usize;
    let start = g.sel.saturating_sub(rows.saturating_sub(1));
    let lines: Vec<Line> = g
        .groups
        .iter()
        .enumerate()
        .skip(start)
        .take(rows)
        .map(|(i, (name, row))| {
            let when = row
                .changed_at
                .map(|t| ui::clock(t, app.settings.utc_offset)[..8].to_string())
                .unwrap_or_else(|| "–".into());
            let text = format!(
                "{:<w1$} {:>4}  {}",
                truncate(name, w.saturating_sub(15).max(4)),
                row.members.len(),
                when,
                w1 = w.saturating_sub(15).max(4)
            );
            let st = if i == g.sel { r.selection } else { r.base };
            Line::styled(truncate(&text, w), st)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_members(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let g = &app.groups;
    let sel = g.selected();
    let title = match sel {
        Some(n) => format!(" members of {} ", truncate(n, 24)),
        None => " members ".into(),
    };
    let b = ui::pane(ui::title(title, false, &app.theme), false, &app.theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(row) = sel.and_then(|n| g.groups.get(n)) else {
        return;
    };
    let me = g
        .stats
        .private_group
        .as_ref()
        .map(|n| crate::tui::text::sanitize(&n.as_str()));
    let w = inner.width as usize;
    let lines: Vec<Line> = row
        .members
        .iter()
        .take(inner.height as usize)
        .map(|m| {
            // private groups are `#name#daemon`
            let (name, daemon) = m
                .trim_start_matches('#')
                .split_once('#')
                .unwrap_or((m.as_str(), ""));
            let since = row
                .joined_at
                .get(m)
                .map(|t| format!("since {}", &ui::clock(*t, app.settings.utc_offset)[..8]))
                .unwrap_or_default();
            let mine = me.as_deref() == Some(m.as_str());
            let mut spans = vec![
                Span::styled(format!("{:<12}", truncate(name, 12)), r.base),
                Span::styled(format!(" @{:<10} ", truncate(daemon, 10)), r.muted),
                Span::styled(since, r.muted),
            ];
            if mine {
                spans.push(Span::styled(" (me)", r.title));
            }
            let line = Line::from(spans);
            if line.width() > w {
                Line::styled(truncate(&format!("{name} @{daemon}"), w), r.base)
            } else {
                line
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_timeline(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let g = &app.groups;
    let mut title = vec![ui::title(" timeline ".into(), false, &app.theme)];
    if g.paused {
        title.push(Span::styled(
            format!(" PAUSED +{} ", g.paused_new),
            r.paused,
        ));
    }
    let b = ui::pane(Line::from(title), false, &app.theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if g.timeline.is_empty() {
        ui::empty_state(
            f,
            inner,
            vec![Line::styled(
                "JOIN / LEAVE / DISCONNECT / NETWORK events of watched groups appear here",
                r.muted,
            )],
            r.base,
        );
        return;
    }
    let rows = inner.height as usize;
    // paused: hold the window where it was; new rows are counted, not shown
    let end = g.timeline.len().saturating_sub(g.paused_new);
    let start = end.saturating_sub(rows);
    let wide = inner.width >= 100;
    let w = inner.width as usize;
    let lines: Vec<Line> = g
        .timeline
        .range(start..end)
        .map(|t| {
            let mut spans = vec![
                Span::styled(
                    format!("{} ", ui::clock(t.time, app.settings.utc_offset)),
                    r.muted,
                ),
                Span::styled(format!("{:<12} ", truncate(&t.group, 12)), r.base),
                Span::styled(format!("{:<12} ", t.cause), cause_style(app, t.cause)),
                Span::styled(format!("{:>3} ", t.members), r.base),
            ];
            if wide {
                spans.push(Span::styled(
                    format!("{:<25} ", t.group_id.as_deref().unwrap_or("")),
                    r.muted,
                ));
            }
            let used: usize = spans.iter().map(|s| s.width()).sum();
            spans.push(Span::styled(
                truncate(&t.changed.join(" "), w.saturating_sub(used)),
                r.base,
            ));
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_messages(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let g = &app.groups;
    let b = ui::pane(
        ui::title(
            format!(" messages ({}) ", g.messages.len()),
            false,
            &app.theme,
        ),
        false,
        &app.theme,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let rows = inner.height as usize;
    let start = g.messages.len().saturating_sub(rows);
    let w = inner.width as usize;
    let lines: Vec<Line> = g
        .messages
        .range(start..)
        .map(|m| {
            let spans = vec![
                Span::styled(
                    format!("{} ", &ui::clock(m.time, app.settings.utc_offset)[..8]),
                    r.muted,
                ),
                Span::styled(format!("{:<18} ", truncate(&m.sender, 18)), r.base),
                Span::styled(format!("{:<12} ", truncate(&m.groups, 12)), r.base),
                Span::styled(format!("{:<7} {:>3} ", m.service, m.msg_type), r.muted),
            ];
            let used: usize = spans.iter().map(|s| s.width()).sum();
            let mut spans = spans;
            spans.push(Span::styled(
                truncate(&m.preview, w.saturating_sub(used)),
                r.base,
            ));
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}
