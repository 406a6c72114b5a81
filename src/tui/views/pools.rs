//! Pools (console spec section 3.2): pool list, live tail, protein detail.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState, Wrap};
use ratatui::Frame;

use crate::tui::app::{App, Detail, PoolsFocus};
use crate::tui::source::{Location, SourceState};
use crate::tui::text::{fit, fit_right, iec, sanitize, si, truncate};
use crate::tui::theme::Theme;
use crate::tui::ui;
use crate::tui::views::overview::badge;
use crate::tui::widgets::{hexdump, rate_spark};

/// Draws the Pools view: list on top, tail below.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let wanted = app.pools.filtered().len() as u16 + 3;
    let list_h = if area.height < 30 {
        7
    } else {
        wanted.clamp(7, 12)
    };
    let [list, tail] =
        Layout::vertical([Constraint::Length(list_h), Constraint::Min(4)]).areas(area);
    draw_list(f, list, app);
    draw_tail(f, tail, app);
}

fn fill_bar(pct: f64, w: usize) -> String {
    let full = ((pct / 100.0) * w as f64).round() as usize;
    let full = full.min(w);
    format!("{}{}", "█".repeat(full), "░".repeat(w - full))
}

fn draw_list(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let focused = app.pools.focus == PoolsFocus::List;
    let pools = app.pools.filtered();
    let mut title = vec![ui::title(
        format!(" pools ({}) ", app.pools.list.len()),
        focused,
        &app.theme,
    )];
    if !app.pools.name_filter.is_empty() {
        title.push(Span::styled(
            format!(
                " filter: {} ({}/{}) ",
                sanitize(&app.pools.name_filter.text),
                pools.len(),
                app.pools.list.len()
            ),
            r.info,
        ));
    }
    let block = ui::pane(Line::from(title), focused, &app.theme);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if app.pools.list.is_empty() {
        let mut lines = vec![Line::styled(
            format!("no pools in {}", sanitize(&app.pools.dir)),
            r.base,
        )];
        if let SourceState::Down { error } = &app.pool_stats.state {
            lines.push(Line::styled(
                truncate(&sanitize(error), inner.width as usize),
                r.error,
            ));
        }
        lines.push(Line::styled(
            "press c to create one, or run `tidepool --demo` for a live demo pool",
            r.muted,
        ));
        ui::empty_state(f, inner, lines, r.base);
        return;
    }
    let wide = inner.width >= 100;
    let w = inner.width as usize;
    let name_w = if wide { 20 } else { 16 };
    let mut lines = Vec::new();
    let header = if wide {
        format!(
            "  {} {} {} {} {} {} {}",
            fit("name", name_w),
            fit("where", 18),
            fit_right("capacity", 10),
            fit("fill", 15),
            fit_right("entries", 9),
            fit_right("rate", 8),
            fit("", 12)
        )
    } else {
        format!(
            "  {} {} {} {}",
            fit("name", name_w),
            fit_right("fill", 5),
            fit_right("rate", 7),
            "state"
        )
    };
    lines.push(Line::styled(truncate(&header, w), r.muted));
    let rows = inner.height.saturating_sub(1) as usize;
    let start = app.pools.sel.saturating_sub(rows.saturating_sub(1));
    for (i, p) in pools.iter().enumerate().skip(start).take(rows) {
        let sel = i == app.pools.sel;
        let pct = if p.capacity > 0 {
            p.used as f64 * 100.0 / p.capacity as f64
        } else {
            0.0
        };
        let entries = match (p.oldest, p.newest) {
            (Some(o), Some(n)) => n.saturating_sub(o) + 1,
            _ => 0,
        };
        let spark = app.pools.rates.get(&p.name);
        let rate = spark.map(|s| s.current()).unwrap_or(0);
        let where_ = match &p.location {
            Location::Local => "local".to_string(),
            Location::Demo => "local (demo)".to_string(),
            Location::Remote { addr, tls } => {
                format!("{}{}", addr, if *tls { " TLS" } else { "" })
            }
        };
        let marker = if sel { "▶ " } else { "  " };
        let base = if sel { r.selection } else { r.base };
        let mut spans = vec![Span::styled(
            format!("{marker}{} ", fit(&sanitize(&p.name), name_w)),
            base,
        )];
        if wide {
            spans.push(Span::styled(
                format!(
                    "{} {} ",
                    fit(&sanitize(&where_), 18),
                    fit_right(&iec(p.capacity), 10)
                ),
                base,
            ));
            spans.push(Span::styled(
                fill_bar(pct, 9),
                if sel { base } else { r.spark },
            ));
            spans.push(Span::styled(
                format!(" {} ", fit_right(&format!("{pct:.0}%"), 4)),
                base,
            ));
            spans.push(Span::styled(
                format!(
                    "{} {} ",
                    fit_right(&si(entries as f64), 9),
                    fit_right(&format!("{}/s", si(rate as f64)), 8)
                ),
                base,
            ));
            let sp = spark
                .map(|s| rate_spark::line(s.samples.iter(), 12))
                .unwrap_or_else(|| " ".repeat(12));
            spans.push(Span::styled(sp, if sel { base } else { r.spark }));
            spans.push(Span::raw(" "));
        } else {
            spans.push(Span::styled(
                format!(
                    "{} {} ",
                    fit_right(&format!("{pct:.0}%"), 5),
                    fit_right(&format!("{}/s", si(rate as f64)), 7)
                ),
                base,
            ));
        }
        let state = match &p.location {
            Location::Remote { tls, .. } => SourceState::Up { tls: *tls },
            _ => app.pool_stats.state.clone(),
        };
        let (state_text, state_style, _) = badge(&state, &app.theme);
        spans.push(Span::styled(state_text, state_style));
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), inner);
    scrollbar(f, inner, pools.len(), app.pools.sel, rows);
}

fn scrollbar(f: &mut Frame, inner: Rect, len: usize, pos: usize, rows: usize) {
    if len > rows && inner.height > 0 {
        let mut st = ScrollbarState::new(len).position(pos);
        // drawn over the pane's right border, so rows keep their full width
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

fn tail_title(app: &App, focused: bool) -> Line<'static> {
    let r = &app.theme.roles;
    let t = &app.pools.tail;
    let name = t
        .pool
        .as_deref()
        .map(sanitize)
        .unwrap_or_else(|| "–".into());
    let mut spans = vec![ui::title(format!(" tail {name} "), focused, &app.theme)];
    if t.follow {
        spans.push(Span::styled(" following ", r.ok));
    } else {
        let n = if t.paused_new >= 99_000 {
            "99k".to_string()
        } else {
            t.paused_new.to_string()
        };
        spans.push(Span::styled(format!(" PAUSED +{n} "), r.paused));
    }
    if !t.filter.is_empty() {
        spans.push(Span::styled(
            format!(
                " filter: {} ({}/{}) ",
                sanitize(&t.filter.text),
                t.visible.len(),
                t.ring.len()
            ),
            r.info,
        ));
    }
    if t.dropped > 0 {
        spans.push(Span::styled(
            format!(" dropped {} ", si(t.dropped as f64)),
            r.warn,
        ));
    }
    Line::from(spans)
}

fn draw_tail(f: &mut Frame, area: Rect, app: &App) {
    let r = &app.theme.roles;
    let focused = app.pools.focus == PoolsFocus::Tail;
    let block = ui::pane(tail_title(app, focused), focused, &app.theme);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let t = &app.pools.tail;
    if t.pool.is_none() {
        ui::empty_state(
            f,
            inner,
            vec![Line::from("select a pool to tail it")],
            r.muted,
        );
        return;
    }
    if t.visible.is_empty() {
        let msg = if t.ring.is_empty() {
            "waiting for proteins…"
        } else {
            "no protein matches the filter (Esc clears it)"
        };
        ui::empty_state(f, inner, vec![Line::from(msg)], r.muted);
        return;
    }
    let w = inner.width as usize;
    let show_size = w >= 90;
    let idx_w = 8;
    let time_w = 12;
    let ing_n_w = 3;
    let size_w = if show_size { 8 } else { 0 };
    let fixed = 2 + idx_w + 1 + time_w + 1 + ing_n_w + 1 + size_w + usize::from(show_size);
    let rest = w.saturating_sub(fixed + 1);
    let desc_w = (rest * 55 / 100).max(10);
    let ing_w = rest.saturating_sub(desc_w + 1);
    let mut header = format!(
        "  {} {} {} {} {}",
        fit_right("index", idx_w),
        fit("time", time_w),
        fit("descrips", desc_w),
        fit_right("#i", ing_n_w),
        fit("ingests", ing_w)
    );
    if show_size {
        header.push_str(&format!(" {}", fit_right("size", size_w)));
    }
    let rows = inner.height.saturating_sub(1) as usize;
    let n = t.visible.len();
    let start = t.window_start(rows);
    let mut lines = vec![Line::styled(truncate(&header, w), r.muted)];
    for pos in start..(start + rows).min(n) {
        let Some(row) = t.visible_row(pos) else {
            continue;
        };
        let sel = pos == t.sel && (focused || !t.follow);
        let st = if sel { r.selection } else { r.base };
        let marker = if sel { "▶ " } else { "  " };
        let mut spans = vec![
            Span::styled(
                format!("{marker}{} ", fit_right(&row.index.to_string(), idx_w)),
                st,
            ),
            Span::styled(
                format!("{} ", ui::clock(row.timestamp, app.settings.utc_offset)),
                if sel { st } else { r.muted },
            ),
            Span::styled(format!("{} ", fit(&row.descrips, desc_w)), st),
            Span::styled(
                format!("{} ", fit_right(&row.ingest_count.to_string(), ing_n_w)),
                st,
            ),
            Span::styled(fit(&row.ingests, ing_w), if sel { st } else { r.muted }),
        ];
        if show_size {
            spans.push(Span::styled(
                format!(" {}", fit_right(&iec(row.size as u64), size_w)),
                st,
            ));
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), inner);
    scrollbar(f, inner, n, t.sel, rows);
}

/// Splits a slaw-YAML line into styled spans (keys, tags, numbers, strings).
pub fn yaml_line(line: &str, theme: &Theme) -> Line<'static> {
    let r = &theme.roles;
    let mut spans = Vec::new();
    let (indent, rest) = line.split_at(line.len() - line.trim_start().len());
    spans.push(Span::raw(indent.to_string()));
    let mut rest = rest.to_string();
    if let Some(stripped) = rest.strip_prefix("- ") {
        spans.push(Span::styled("- ", r.muted));
        rest = stripped.to_string();
    }
    if rest.starts_with('%') || rest.starts_with("---") || rest.starts_with("...") {
        spans.push(Span::styled(rest, r.yaml_tag));
        return Line::from(spans);
    }
    let (key, value) = match rest
        .find(": ")
        .or_else(|| rest.ends_with(':').then(|| rest.len() - 1))
    {
        Some(i) if !rest.starts_with('"') && !rest.starts_with('!') => {
            let (k, v) = rest.split_at(i);
            (Some(k.to_string()), v[1..].to_string())
        }
        _ => (None, rest),
    };
    if let Some(k) = key {
        spans.push(Span::styled(k, r.yaml_key));
        spans.push(Span::styled(":", r.muted));
    }
    let mut v = value.as_str();
    let lead = v.len() - v.trim_start().len();
    spans.push(Span::raw(v[..lead].to_string()));
    v = &v[lead..];
    if v.starts_with('!') {
        let end = v.find(' ').unwrap_or(v.len());
        spans.push(Span::styled(v[..end].to_string(), r.yaml_tag));
        v = &v[end..];
    }
    let trimmed = v.trim();
    let st: Style = if trimmed.parse::<f64>().is_ok() || trimmed.starts_with("0x") {
        r.yaml_number
    } else {
        r.yaml_string
    };
    spans.push(Span::styled(v.to_string(), st));
    Line::from(spans)
}

/// Draws the protein detail overlay.
pub fn draw_detail(f: &mut Frame, body: Rect, app: &App, d: &Detail) {
    let r = &app.theme.roles;
    let rect = ui::overlay_rect(body);
    f.render_widget(Clear, rect);
    let Some(row) = app.pools.tail.row(d.index) else {
        let b = ui::pane(
            ui::title(" protein ".into(), true, &app.theme),
            true,
            &app.theme,
        );
        let inner = b.inner(rect);
        f.render_widget(b, rect);
        ui::empty_state(
            f,
            inner,
            vec![Line::from("this protein left the tail buffer")],
            r.muted,
        );
        return;
    };
    let mode = if d.hex { "hex" } else { "YAML" };
    let title = Line::from(vec![
        ui::title(
            format!(" {} #{} ", sanitize(&row.item.pool), row.index),
            true,
            &app.theme,
        ),
        Span::styled(format!(" {mode} "), r.info),
        Span::styled(if d.wrap { " wrap " } else { "" }, r.muted),
    ]);
    let b = ui::pane(title, true, &app.theme);
    let inner = b.inner(rect);
    f.render_widget(b, rect);
    let [head, text] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    let p = &row.item.protein;
    f.render_widget(
        Paragraph::new(truncate(
            &format!(
                "{}  {}  {} descrips · {} ingests · rude {}",
                ui::clock(row.timestamp, app.settings.utc_offset),
                iec(row.size as u64),
                p.descrips.len(),
                p.ingests.len(),
                iec(p.rude.len() as u64)
            ),
            head.width as usize,
        ))
        .style(r.muted),
        head,
    );
    let rows = text.height as usize;
    // decoding for the overlay happens here for the visible window only; the
    // YAML text and raw bytes were produced once when the protein arrived
    let lines: Vec<Line> = if d.hex {
        // slaw-aware dump with a note on every header oct; plain hex for bytes that
        // are not a valid protein
        match crate::tui::local::annotated_hex(&row.item.raw) {
            Some(dump) => dump
                .lines()
                .skip(d.scroll)
                .take(rows)
                .map(|l| Line::styled(sanitize(l), r.base))
                .collect(),
            None => {
                let total = row.item.raw.len().div_ceil(16);
                let start = d.scroll.min(total.saturating_sub(1));
                (start..(start + rows).min(total))
                    .map(|i| Line::styled(hexdump::line(&row.item.raw, i * 16), r.base))
                    .collect()
            }
        }
    } else {
        row.item
            .yaml_text()
            .lines()
            .skip(d.scroll)
            .take(rows * 4)
            .map(|l| yaml_line(&sanitize(l), &app.theme))
            .collect()
    };
    let mut para = Paragraph::new(lines);
    if d.wrap {
        para = para.wrap(Wrap { trim: false });
    }
    f.render_widget(para, text);
}
