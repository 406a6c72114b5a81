//! Hive (console spec section 3.3, hive spec section 9): a two-line strip with
//! the connection, ops/s and memory vs the limiter; the prefix browser (left);
//! the value viewer (right); the put / update form as an overlay. Pure drawing
//! of `app.hive`; every row and value line was sanitised when it was built.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};
use ratatui::Frame;

use crate::engine::hive::Expiry;
use crate::tui::app::App;
use crate::tui::hive::value::Tone;
use crate::tui::hive::{expiry_text, Focus, Row};
use crate::tui::source::SourceState;
use crate::tui::text::{fit, fit_right, iec, sanitize, sanitize_bytes, si, truncate, width};
use crate::tui::ui;
use crate::tui::views::overview::badge;
use crate::tui::widgets::{centered, input, rate_spark};

/// The message every pane of a not-yet-built engine shows (Calls, Groups).
pub fn not_built<'a>(app: &App, engine: &str, what: &str) -> Vec<Line<'a>> {
    let r = &app.theme.roles;
    vec![
        Line::styled("– off: not connected", r.badge_off),
        Line::styled(format!("the {engine} engine is not built yet"), r.muted),
        Line::styled(what.to_string(), r.muted),
    ]
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}

fn gauge(p: f64, w: usize) -> String {
    let full = ((p / 100.0) * w as f64).round().clamp(0.0, w as f64) as usize;
    format!("{}{}", "█".repeat(full), "░".repeat(w - full))
}

/// Draws the Hive view.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let [strip, panes] = Layout::vertical([Constraint::Length(2), Constraint::Min(4)]).areas(area);
    draw_strip(f, strip, app);
    let left_w = if area.width < 100 { 30 } else { 44 };
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(10)]).areas(panes);
    draw_keys(f, left, app);
    draw_value(f, right, app);
    if app.hive.form.is_some() {
        draw_form(f, area, app);
    }
}

fn draw_strip(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let h = &app.hive;
    let st = &h.snapshot.stats;
    let w = area.width as usize;
    let (b, bst, _) = badge(&h.state, &app.theme);
    let mut l1 = vec![
        Span::styled(format!(" {b} "), bst),
        Span::styled(
            format!(" {} ", truncate(&sanitize(&h.target), w / 2)),
            r.base,
        ),
    ];
    if h.has_stats {
        l1.push(Span::styled(
            format!(
                " {} {}  {} entries  file {}  batch p99 {} µs",
                sanitize(&st.backend),
                sanitize(&st.durability),
                si(st.live_entries as f64),
                iec(st.db_file_bytes),
                st.group_commit_p99_us
            ),
            r.muted,
        ));
    }
    let spark_w = if w >= 100 { 30 } else { 12 };
    let mem = pct(st.limiter_resident_bytes, st.limiter_max_bytes);
    let ent = pct(st.limiter_resident_entries, st.limiter_max_entries_count);
    let reads = st.cache_hits + st.cache_misses;
    let hit = if reads == 0 {
        "–".to_string()
    } else {
        format!("{:.0}%", pct(st.cache_hits, reads))
    };
    let mut l2 = vec![
        Span::styled(
            format!(" {}/s ops ", fit_right(&si(h.ops.current() as f64), 5)),
            r.base,
        ),
        Span::styled(rate_spark::line(h.ops.samples.iter(), spark_w), r.spark),
        Span::styled("  mem ", r.base),
        Span::styled(gauge(mem, 8), if mem >= 90.0 { r.warn } else { r.spark }),
        Span::styled(
            format!(
                " {}/{}  entries {}/{}",
                iec(st.limiter_resident_bytes),
                iec(st.limiter_max_bytes),
                si(st.limiter_resident_entries as f64),
                si(st.limiter_max_entries_count as f64),
            ),
            if mem >= 90.0 || ent >= 90.0 {
                r.warn
            } else {
                r.base
            },
        ),
        Span::styled(
            format!(
                "  hit {hit}  evict {}/s  errors {}",
                si(h.evictions.current() as f64),
                h.errors
            ),
            r.muted,
        ),
    ];
    if !h.has_stats {
        l2 = vec![Span::styled(" no stats yet", r.muted)];
    }
    f.render_widget(Paragraph::new(vec![Line::from(l1), Line::from(l2)]), area);
}

fn scrollbar(f: &mut Frame, inner: Rect, len: usize, pos: usize, rows: usize) {
    if len > rows && inner.height > 0 {
        let mut st = ScrollbarState::new(len).position(pos);
        let track = Rect {
            x: inner.right(),
            y: inner.y,
            width: 1,
            height: inner.height,
        };
        f.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(None)
                .end_symbol(None),
            track,
            &mut st,
        );
    }
}

fn state_lines<'a>(app: &App) -> Option<Vec<Line<'a>>> {
    let r = &app.theme.roles;
    let h = &app.hive;
    match &h.state {
        SourceState::Off => Some(vec![
            Line::styled("– off: no hive", r.badge_off),
            Line::styled("start with --hive TARGET or --demo", r.muted),
        ]),
        SourceState::Connecting => Some(vec![Line::styled(
            format!("○ opening {}", sanitize(&h.target)),
            r.badge_retry,
        )]),
        SourceState::Down { error } => Some(vec![
            Line::styled("✕ down", r.badge_down),
            Line::styled(sanitize(error), r.error),
        ]),
        _ => None,
    }
}

fn draw_keys(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let h = &app.hive;
    let focused = h.focus == Focus::Keys;
    let path = if h.path.is_empty() {
        "/".to_string()
    } else {
        sanitize_bytes(&h.path)
    };
    let mut title = vec![ui::title(
        format!(
            " keys {} ({}{}) ",
            path,
            h.keys.len(),
            if h.next.is_some() { "+" } else { "" }
        ),
        focused,
        &app.theme,
    )];
    if !h.filter_text.is_empty() {
        title.push(Span::styled(
            format!(" filter: {} ", sanitize(&h.filter_text)),
            r.info,
        ));
    }
    let block = ui::pane(Line::from(title), focused, &app.theme);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if let Some(lines) = state_lines(app) {
        ui::empty_state(f, inner, lines, r.base);
        return;
    }
    if h.rows.is_empty() {
        let msg = if !h.loaded || h.listing {
            "loading keys…".to_string()
        } else if h.filter_text.is_empty() {
            "no keys yet — press a to put one".to_string()
        } else {
            format!("no keys match {}", sanitize(&h.filter_text))
        };
        ui::empty_state(f, inner, vec![Line::styled(msg, r.muted)], r.base);
        return;
    }
    let w = inner.width as usize;
    let rows = inner.height as usize;
    let start = h.sel.saturating_sub(rows.saturating_sub(1));
    let right_w = 12;
    let mut lines = Vec::new();
    for (i, row) in h.rows.iter().enumerate().skip(start).take(rows) {
        let sel = i == h.sel;
        let marker = if sel { "▶" } else { " " };
        let base = if sel { r.selection } else { r.base };
        let label_w = w.saturating_sub(right_w + 2);
        let line = match row {
            Row::Folder { label, count, .. } => Line::from(vec![
                Span::styled(
                    format!("{marker}{}", fit(&format!("{label}…"), label_w)),
                    base,
                ),
                Span::styled(
                    format!(" {}", fit_right(&format!("{count} keys"), right_w)),
                    if sel { base } else { r.muted },
                ),
            ]),
            Row::Key { alias, label } => {
                let meta = h.keys.get(alias).and_then(|m| m.as_ref());
                let size = meta.map(|m| iec(m.size)).unwrap_or_else(|| "…".into());
                let (exp, exp_style) = match meta.map(|m| m.expiry) {
                    Some(e @ Expiry::At(_)) => match expiry_text(e, app.now) {
                        Some((t, left)) => (
                            format!("⏱{t}"),
                            if left < 60 {
                                r.error
                            } else if left < 3600 {
                                r.warn
                            } else {
                                r.muted
                            },
                        ),
                        None => (String::new(), r.muted),
                    },
                    _ => (String::new(), r.muted),
                };
                let ew = width(&exp);
                let sw = right_w.saturating_sub(ew + usize::from(ew > 0));
                Line::from(vec![
                    Span::styled(format!("{marker}{}", fit(label, label_w)), base),
                    Span::styled(
                        format!(" {}", fit_right(&size, sw)),
                        if sel { base } else { r.base },
                    ),
                    Span::styled(
                        if ew > 0 {
                            format!(" {exp}")
                        } else {
                            String::new()
                        },
                        if sel { base } else { exp_style },
                    ),
                ])
            }
            Row::More => Line::styled(
                format!(
                    "{marker}{}",
                    fit(
                        if h.listing {
                            "… loading"
                        } else {
                            "… load more (.)"
                        },
                        w.saturating_sub(1)
                    )
                ),
                if sel { base } else { r.info },
            ),
        };
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), inner);
    scrollbar(f, inner, h.rows.len(), h.sel, rows);
}

fn tone(app: &App, t: Tone) -> Style {
    let r = &app.theme.roles;
    match t {
        Tone::Base => r.base,
        Tone::Muted => r.muted,
        Tone::Error => r.error,
        Tone::Info => r.info,
    }
}

fn draw_value(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let h = &app.hive;
    let focused = h.focus == Focus::Value;
    let title = ui::title(format!(" value · {} ", h.mode.label()), focused, &app.theme);
    let block = ui::pane(title, focused, &app.theme);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if state_lines(app).is_some() {
        return;
    }
    if let Some(slices) = &h.slices {
        let msg = format!(
            "loading {} slices of {}: {} received",
            slices.count,
            sanitize_bytes(&slices.base),
            slices.got.len()
        );
        ui::empty_state(f, inner, vec![Line::styled(msg, r.muted)], r.base);
        return;
    }
    let Some(alias) = h.selected_key().cloned() else {
        let msg = match h.selected() {
            Some(Row::Folder { label, count, .. }) => {
                format!("{label} holds {count} keys loaded so far — Enter opens it")
            }
            _ => "select a key to see its value".into(),
        };
        ui::empty_state(f, inner, vec![Line::styled(msg, r.muted)], r.base);
        return;
    };
    let label = sanitize_bytes(&alias);
    let value = h
        .value
        .as_ref()
        .filter(|v| v.alias == alias || v.slices.is_some());
    if let Some(e) = &h.value_error {
        ui::empty_state(
            f,
            inner,
            vec![
                Line::styled(label, r.base),
                Line::styled(format!("✕ {e}"), r.error),
            ],
            r.base,
        );
        return;
    }
    let Some(v) = value else {
        ui::empty_state(
            f,
            inner,
            vec![Line::styled(format!("loading {label}…"), r.muted)],
            r.base,
        );
        return;
    };
    let w = inner.width as usize;
    let meta = h.keys.get(&alias).and_then(|m| m.as_ref());
    let mut head = vec![
        Span::styled(v.label.clone(), r.title),
        Span::styled(format!("  {}", iec(v.size)), r.base),
    ];
    if let Some(n) = v.slices {
        head.push(Span::styled(format!("  {n} slices"), r.info));
    }
    if w >= 60 {
        head.push(Span::styled(format!("  {}", v.format.label()), r.info));
        let exp = match meta.map(|m| m.expiry) {
            Some(e @ Expiry::At(ms)) => {
                let left = expiry_text(e, app.now);
                let when = ui::clock(ms as f64 / 1000.0, 0);
                let (t, s) = left.unwrap_or_default();
                Some((
                    format!("  expires {when} UTC ({t})"),
                    if s < 60 {
                        r.error
                    } else if s < 3600 {
                        r.warn
                    } else {
                        r.muted
                    },
                ))
            }
            Some(_) => Some(("  never expires".to_string(), r.muted)),
            None => None,
        };
        if let Some((t, st)) = exp {
            head.push(Span::styled(t, st));
        }
        if meta.and_then(|m| m.resident) == Some(true) {
            head.push(Span::styled("  resident", r.muted));
        }
    }
    let rows = inner.height.saturating_sub(1) as usize;
    let mut lines = vec![Line::from(head)];
    let start = h.scroll.min(v.lines.len().saturating_sub(1));
    for l in v.lines.iter().skip(start).take(rows) {
        lines.push(Line::styled(truncate(&l.text, w), tone(app, l.tone)));
    }
    if v.more_lines > 0 && lines.len() <= rows {
        lines.push(Line::styled(
            format!("… {} more lines not shown", v.more_lines),
            r.muted,
        ));
    }
    f.render_widget(Paragraph::new(lines), inner);
    let body = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    scrollbar(f, body, v.lines.len(), start, rows);
}

fn draw_form(f: &mut Frame, body: Rect, app: &App) {
    let Some(form) = &app.hive.form else { return };
    let r = &app.theme.roles;
    let rect = centered(body, 80, 0, 50, 13);
    f.render_widget(Clear, rect);
    let b = ui::pane(
        ui::title(format!(" {} ", form.title()), true, &app.theme),
        true,
        &app.theme,
    );
    let inner = b.inner(rect);
    f.render_widget(b, rect);
    let label_w = 10u16;
    let check = form.check();
    let err = check.as_ref().err();
    for (i, fl) in form.fields.iter().enumerate() {
        let y = inner.y + i as u16 * 2;
        if y >= inner.bottom() {
            break;
        }
        let focused = i == form.focus && app.confirm.is_none();
        f.render_widget(
            Paragraph::new(Span::styled(
                format!("{}{}", if focused { "▶" } else { " " }, fit(fl.label, 9)),
                if focused { r.title } else { r.base },
            )),
            Rect {
                x: inner.x,
                y,
                width: label_w,
                height: 1,
            },
        );
        let hint_w = (width(fl.hint) as u16 + 1).min(inner.width / 3);
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
        let under = if i == 0 && form.key_error.is_some() {
            form.key_error.clone()
        } else {
            err.filter(|e| e.0 == i).map(|e| e.1.clone())
        };
        if let Some(msg) = under {
            if y + 1 < inner.bottom() {
                f.render_widget(
                    Paragraph::new(Span::styled(
                        truncate(&format!("✕ {}", sanitize(&msg)), field_w as usize),
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
    let y = inner.y + 6;
    let mut lines = Vec::new();
    match &check {
        Ok((_, content)) => lines.push(Line::styled(
            format!("ok: {} to store", iec(content.len() as u64)),
            r.ok,
        )),
        Err(_) => lines.push(Line::styled("fix the field marked ✕ to send", r.muted)),
    }
    match &form.result {
        Some(Ok(m)) => lines.push(Line::styled(format!("✓ {}", sanitize(m)), r.ok)),
        Some(Err(e)) => lines.push(Line::styled(format!("✕ {}", sanitize(e)), r.error)),
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
        Span::styled("send (asks first)  ", r.base),
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

/// The Hive card on the Overview: badge, ops/s, counters, last error.
pub fn card(app: &App) -> crate::tui::views::overview::Card {
    let h = &app.hive;
    let (b, st, err) = badge(&h.state, &app.theme);
    let s = &h.snapshot.stats;
    let connected = h.is_connected();
    crate::tui::views::overview::Card {
        name: "Hive",
        badge: (
            if connected {
                format!(
                    "{b}  {} keys  {}",
                    si(s.live_entries as f64),
                    sanitize(&h.target)
                )
            } else {
                format!("{b}  {}", sanitize(&h.target))
            },
            st,
        ),
        rate: format!("{}/s ops", si(h.ops.current() as f64)),
        counters: format!(
            "mem {}/{}  hit {}  errors {}",
            iec(s.limiter_resident_bytes),
            iec(s.limiter_max_bytes),
            {
                let reads = s.cache_hits + s.cache_misses;
                if reads == 0 {
                    "–".to_string()
                } else {
                    format!("{:.0}%", pct(s.cache_hits, reads))
                }
            },
            h.errors
        ),
        spark: connected.then(|| h.ops.clone()),
        error: err.or_else(|| h.last_error.clone()),
    }
}
