//! Calls (console spec section 3.4): targets (left), the selected target's
//! commands under them, the call form or the command's signature (top right)
//! and the history (bottom right). At 80×24 the targets shrink to a one-line
//! selector above the other panes. Pure function of `&App`; every peer text
//! was sanitised when it arrived.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::calls::{CallRow, Calls, CommandInfo, Focus, Kind, Status};
use crate::tui::text::{fit, fit_right, sanitize, truncate, width};
use crate::tui::theme::Theme;
use crate::tui::ui;
use crate::tui::views::overview::badge;
use crate::tui::widgets::input;

/// Latency in ms with 3 significant digits.
pub fn ms3(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        "-".into()
    } else if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// Draws the Calls view.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let c = &app.calls;
    if c.targets.is_empty() {
        let b = ui::pane(
            ui::title(" targets ".into(), true, &app.theme),
            true,
            &app.theme,
        );
        let inner = b.inner(area);
        f.render_widget(b, area);
        let r = &app.theme.roles;
        let mut lines = vec![Line::styled("no call targets configured", r.title)];
        if !c.note.is_empty() {
            lines.push(Line::styled(c.note.clone(), r.muted));
        }
        lines.extend([
            Line::styled(
                "add [[targets]] (kind = amp | rpc, addr) to config.toml",
                r.muted,
            ),
            Line::styled(
                "or run with --amp HOST:PORT, --rpc HOST:PORT or --demo",
                r.muted,
            ),
        ]);
        ui::empty_state(f, inner, lines, r.base);
        return;
    }
    let narrow = area.width < 100;
    let (targets, rest) = if narrow {
        let [t, r] = Layout::vertical([Constraint::Length(1), Constraint::Min(4)]).areas(area);
        (t, r)
    } else {
        let [t, r] = Layout::horizontal([Constraint::Length(32), Constraint::Min(20)]).areas(area);
        (t, r)
    };
    let (commands, right) = if narrow {
        let [cm, r] = Layout::horizontal([Constraint::Length(22), Constraint::Min(20)]).areas(rest);
        (cm, r)
    } else {
        let want = (c.targets.len() as u16 * 2 + 2).clamp(4, targets.height / 2);
        let [t, cm] =
            Layout::vertical([Constraint::Length(want), Constraint::Min(3)]).areas(targets);
        draw_targets(f, t, app);
        (cm, rest)
    };
    if narrow {
        draw_target_line(f, targets, app);
    }
    draw_commands(f, commands, app);
    let form_h = match &c.form {
        Some(form) => (form.fields.len() as u16 * 2 + 4).min(right.height.saturating_sub(5)),
        None if c.watch.is_some() => 11.min(right.height / 2),
        None => 7.min(right.height / 2),
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Length(form_h), Constraint::Min(3)]).areas(right);
    draw_form(f, top, app);
    if c.detail {
        draw_detail(f, bottom, app);
    } else {
        draw_history(f, bottom, app, narrow);
    }
}

fn marker(sel: bool) -> &'static str {
    if sel {
        "▶"
    } else {
        " "
    }
}

fn draw_targets(f: &mut Frame, area: Rect, app: &App) {
    let c = &app.calls;
    let focused = c.focus == Focus::Targets && c.form.is_none();
    let b = ui::pane(
        ui::title(
            format!(" targets ({}) ", c.targets.len()),
            focused,
            &app.theme,
        ),
        focused,
        &app.theme,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let r = &app.theme.roles;
    let w = inner.width as usize;
    let per = 2usize;
    let fits = (inner.height as usize / per).max(1);
    let start = c.sel_target.saturating_sub(fits.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, (t, st)) in c
        .targets
        .iter()
        .zip(&c.state)
        .enumerate()
        .skip(start)
        .take(fits)
    {
        let sel = i == c.sel_target;
        let (btext, bstyle, _) = badge(&st.state, &app.theme);
        let name_w = w.saturating_sub(width(&btext) + 6);
        let row_style = if sel && focused { r.selection } else { r.base };
        lines.push(Line::from(vec![
            Span::styled(format!("{}{} ", marker(sel), t.kind.label()), row_style),
            Span::styled(fit(&sanitize(&t.name), name_w), row_style),
            Span::raw(" "),
            Span::styled(btext, bstyle),
        ]));
        let tls = if t.tls { " TLS" } else { "" };
        let counts = format!("{} calls", st.calls);
        let addr_w = w.saturating_sub(width(&counts) + 3);
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {}", fit(&format!("{}{tls}", sanitize(&t.addr)), addr_w)),
                r.muted,
            ),
            Span::styled(format!(" {counts}"), r.muted),
        ]));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_target_line(f: &mut Frame, area: Rect, app: &App) {
    let c = &app.calls;
    let r = &app.theme.roles;
    let focused = c.focus == Focus::Targets && c.form.is_none();
    let Some((t, st)) = c.targets.get(c.sel_target).zip(c.state.get(c.sel_target)) else {
        return;
    };
    let (btext, bstyle, _) = badge(&st.state, &app.theme);
    let style = if focused { r.selection } else { r.title };
    let head = format!(
        "{} target {}/{} ",
        marker(focused),
        c.sel_target + 1,
        c.targets.len()
    );
    let name = format!(
        " {} {} {} ",
        t.kind.label(),
        sanitize(&t.name),
        sanitize(&t.addr)
    );
    let used = width(&head) + width(&btext) + 2;
    let line = Line::from(vec![
        Span::styled(head, r.base),
        Span::styled(
            truncate(&name, (area.width as usize).saturating_sub(used)),
            style,
        ),
        Span::raw(" "),
        Span::styled(btext, bstyle),
    ]);
    f.render_widget(Paragraph::new(line).style(r.base), area);
}

fn draw_commands(f: &mut Frame, area: Rect, app: &App) {
    let c = &app.calls;
    let focused = c.focus == Focus::Commands && c.form.is_none();
    let Some(t) = c.target() else { return };
    let title = match t.kind {
        Kind::Amp => " commands ",
        Kind::Rpc => " methods ",
    };
    let b = ui::pane(
        ui::title(title.into(), focused, &app.theme),
        focused,
        &app.theme,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let r = &app.theme.roles;
    let w = inner.width as usize;
    let rows = inner.height as usize;
    let start = c.sel_command.saturating_sub(rows.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, cmd) in t.commands.iter().enumerate().skip(start).take(rows) {
        let sel = i == c.sel_command;
        let blocked = app.settings.readonly && !cmd.readonly_safe();
        let tag = if cmd.readonly_safe() { "" } else { "write" };
        let st = if sel && focused {
            r.selection
        } else if blocked {
            r.muted
        } else {
            r.base
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{}{}",
                    marker(sel),
                    fit(&sanitize(&cmd.name()), w.saturating_sub(7))
                ),
                st,
            ),
            Span::styled(fit_right(tag, 6), r.muted),
        ]));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn field_lines(cmd: &CommandInfo, app: &App) -> Vec<Line<'static>> {
    let r = &app.theme.roles;
    let mut v = Vec::new();
    let safe = if cmd.readonly_safe() {
        Span::styled("readonly-safe", r.ok)
    } else if app.settings.readonly {
        Span::styled("write — refused under --readonly", r.readonly)
    } else {
        Span::styled("write (not readonly_safe)", r.warn)
    };
    v.push(Line::from(vec![
        Span::styled(sanitize(&cmd.name()), r.title),
        Span::raw("  "),
        safe,
    ]));
    v.push(Line::from(vec![
        Span::styled("arguments  ", r.muted),
        Span::styled(sanitize(&cmd.signature()), r.base),
    ]));
    if let CommandInfo::Amp {
        response,
        errors,
        requires_answer,
        ..
    } = cmd
    {
        let resp = if !requires_answer {
            "none (sent without _ask)".to_string()
        } else {
            response
                .iter()
                .map(|f| format!("{}: {}", f.name, f.ty))
                .collect::<Vec<_>>()
                .join(", ")
        };
        v.push(Line::from(vec![
            Span::styled("answer     ", r.muted),
            Span::styled(sanitize(&resp), r.base),
        ]));
        if !errors.is_empty() {
            v.push(Line::from(vec![
                Span::styled("errors     ", r.muted),
                Span::styled(sanitize(&errors.join(", ")), r.base),
            ]));
        }
    }
    v
}

/// Watch mode: what is repeated, latency figures and a sparkline.
fn watch_lines(app: &App, w: usize) -> Vec<Line<'static>> {
    let r = &app.theme.roles;
    let Some(watch) = &app.calls.watch else {
        return Vec::new();
    };
    let target = app
        .calls
        .targets
        .get(watch.target)
        .map(|t| sanitize(&t.name))
        .unwrap_or_default();
    let ms = |us: u64| ms3(us as f64 / 1e3);
    let last = watch
        .latencies
        .back()
        .map(|u| ms(*u))
        .unwrap_or_else(|| "-".into());
    let p50 = crate::tui::calls::median(watch.latencies.iter().map(|u| *u as f64))
        .map(|u| ms(u as u64))
        .unwrap_or_else(|| "-".into());
    let max = watch
        .latencies
        .iter()
        .max()
        .map(|u| ms(*u))
        .unwrap_or_else(|| "-".into());
    vec![
        Line::from(vec![
            Span::styled(" WATCH ", r.paused),
            Span::styled(
                truncate(
                    &format!(
                        " {} → {target} every {:.0} s  (w stops)",
                        watch.command, watch.every
                    ),
                    w.saturating_sub(7),
                ),
                r.title,
            ),
        ]),
        Line::styled(
            truncate(
                &format!(
                    "last {last} ms  p50 {p50} ms  max {max} ms  calls {}  no reply {}",
                    watch.seqs.len(),
                    watch.misses
                ),
                w,
            ),
            r.base,
        ),
        Line::styled(
            crate::tui::widgets::rate_spark::line(watch.latencies.iter(), w.min(60)),
            r.spark,
        ),
    ]
}

fn draw_form(f: &mut Frame, area: Rect, app: &App) {
    let c = &app.calls;
    let r = &app.theme.roles;
    let Some(t) = c.target() else { return };
    let Some(form) = &c.form else {
        let b = ui::pane(
            ui::title(" call ".into(), false, &app.theme),
            false,
            &app.theme,
        );
        let inner = b.inner(area);
        f.render_widget(b, area);
        let mut lines = watch_lines(app, inner.width as usize);
        match c.command() {
            Some(cmd) => lines.extend(field_lines(cmd, app)),
            None => lines.push(Line::styled("no commands known for this target", r.muted)),
        }
        lines.push(Line::styled(
            "n or Enter on a command opens the form",
            r.muted,
        ));
        f.render_widget(Paragraph::new(lines), inner);
        return;
    };
    let b = ui::pane(
        ui::title(
            format!(" call {} → {} ", sanitize(&form.title), sanitize(&t.name)),
            true,
            &app.theme,
        ),
        true,
        &app.theme,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let label_w = form
        .fields
        .iter()
        .map(|fl| width(&fl.name))
        .max()
        .unwrap_or(4)
        .clamp(4, 14)
        + 2;
    let mut y = inner.y;
    for (i, fl) in form.fields.iter().enumerate() {
        if y >= inner.bottom() {
            break;
        }
        let focused = i == form.focus && app.confirm.is_none();
        let ty = format!(" {}{}", fl.kind.label(), if fl.optional { "?" } else { "" });
        let ty_w = (width(&ty) as u16).min(inner.width / 3);
        let label = Span::styled(
            format!(
                "{}{}",
                marker(focused),
                fit(&sanitize(&fl.name), label_w - 1)
            ),
            if focused { r.title } else { r.base },
        );
        f.render_widget(
            Paragraph::new(label),
            Rect {
                x: inner.x,
                y,
                width: label_w as u16,
                height: 1,
            },
        );
        let field_w = inner.width.saturating_sub(label_w as u16 + ty_w);
        input::draw(
            f,
            Rect {
                x: inner.x + label_w as u16,
                y,
                width: field_w,
                height: 1,
            },
            "",
            &fl.input,
            if focused { r.input } else { r.base },
            focused,
            None,
        );
        f.render_widget(
            Paragraph::new(Span::styled(truncate(&ty, ty_w as usize), r.muted)),
            Rect {
                x: inner.x + label_w as u16 + field_w,
                y,
                width: ty_w,
                height: 1,
            },
        );
        y += 1;
        if y >= inner.bottom() {
            break;
        }
        if let Some(e) = &fl.error {
            let show = fl.error.is_some() && (!fl.input.value().is_empty() || focused);
            if show {
                f.render_widget(
                    Paragraph::new(Span::styled(
                        truncate(
                            &format!("{}✕ {}", " ".repeat(label_w), sanitize(e)),
                            inner.width as usize,
                        ),
                        r.error,
                    )),
                    Rect {
                        x: inner.x,
                        y,
                        width: inner.width,
                        height: 1,
                    },
                );
            }
        }
        y += 1;
    }
    let status = match &form.result {
        Some(Ok(m)) => Span::styled(sanitize(m), r.ok),
        Some(Err(m)) => Span::styled(sanitize(m), r.error),
        None if form.is_valid() => Span::styled("valid — Ctrl-s sends", r.ok),
        None => Span::styled("fix the fields marked ✕ to send", r.muted),
    };
    if y < inner.bottom() {
        f.render_widget(
            Paragraph::new(status),
            Rect {
                x: inner.x,
                y: inner.bottom() - 1,
                width: inner.width,
                height: 1,
            },
        );
    }
}

fn status_style(s: Status, theme: &Theme) -> Style {
    let r = &theme.roles;
    match s {
        Status::Pending => r.info,
        Status::Ok => r.ok,
        Status::Error => r.error,
        Status::Timeout | Status::Failed => r.warn,
        Status::Abandoned => r.muted,
    }
}

fn history_title(c: &Calls) -> String {
    if !c.history_filter.is_empty() {
        return format!(
            " history  filter: {} ({}/{}) ",
            sanitize(&c.history_filter.text),
            c.shown().len(),
            c.history.len()
        );
    }
    let pending = c
        .history
        .iter()
        .filter(|r| r.status == Status::Pending)
        .count();
    if pending > 0 {
        format!(" history ({}, {pending} pending) ", c.history.len())
    } else {
        format!(" history ({}) ", c.history.len())
    }
}

fn draw_history(f: &mut Frame, area: Rect, app: &App, narrow: bool) {
    let c = &app.calls;
    let focused = c.focus == Focus::History && c.form.is_none();
    let b = ui::pane(
        ui::title(history_title(c), focused, &app.theme),
        focused,
        &app.theme,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let r = &app.theme.roles;
    if c.shown().is_empty() {
        let msg = if c.history.is_empty() {
            "no calls yet — pick a command and press n"
        } else {
            "no call matches the filter — Esc clears it"
        };
        ui::empty_state(f, inner, vec![Line::styled(msg, r.muted)], r.base);
        return;
    }
    let w = inner.width as usize;
    // the target column goes first when the pane is narrow
    let narrow = narrow || w < 76;
    let rows = inner.height.saturating_sub(1) as usize;
    let (tw, cw) = if narrow { (0, 12) } else { (12, 14) };
    let fixed = 1 + 9 + tw + cw + 10 + 9;
    let sum_w = w.saturating_sub(fixed);
    let mut head = format!(" {}", fit("time", 9));
    if !narrow {
        head.push_str(&fit("target", tw));
    }
    head.push_str(&fit("command", cw));
    head.push_str(&fit("status", 10));
    head.push_str(&fit_right("ms", 8));
    head.push(' ');
    head.push_str("reply");
    let mut lines = vec![Line::styled(truncate(&head, w), r.muted)];
    let start = c.sel_history.saturating_sub(rows.saturating_sub(1));
    for (i, row) in c.shown().into_iter().enumerate().skip(start).take(rows) {
        lines.push(history_line(
            app,
            row,
            i == c.sel_history,
            focused,
            narrow,
            (tw, cw, sum_w),
        ));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn history_line(
    app: &App,
    row: &CallRow,
    sel: bool,
    focused: bool,
    narrow: bool,
    (tw, cw, sum_w): (usize, usize, usize),
) -> Line<'static> {
    let r = &app.theme.roles;
    let c = &app.calls;
    let base = if sel && focused { r.selection } else { r.base };
    let time = ui::clock(row.at, app.settings.utc_offset);
    let mut spans = vec![Span::styled(
        format!("{}{}", marker(sel), fit(time.get(..8).unwrap_or(&time), 9)),
        base,
    )];
    if !narrow {
        let t = c
            .targets
            .get(row.target)
            .map(|t| t.name.as_str())
            .unwrap_or("?");
        spans.push(Span::styled(fit(&sanitize(t), tw), base));
    }
    spans.push(Span::styled(fit(&row.command, cw), base));
    spans.push(Span::styled(
        fit(row.status.label(), 10),
        status_style(row.status, &app.theme),
    ));
    let lat = row.latency_ms.map(ms3).unwrap_or_else(|| "-".into());
    spans.push(Span::styled(format!("{} ", fit_right(&lat, 8)), base));
    let summary_style = match row.status {
        Status::Error => r.error,
        Status::Timeout | Status::Failed => r.warn,
        _ => r.muted,
    };
    spans.push(Span::styled(truncate(&row.summary, sum_w), summary_style));
    Line::from(spans)
}

fn draw_detail(f: &mut Frame, area: Rect, app: &App) {
    let c = &app.calls;
    let r = &app.theme.roles;
    let Some(row) = c.selected_row() else { return };
    let b = ui::pane(
        ui::title(
            format!(" call #{} — Enter/Esc back ", row.seq),
            true,
            &app.theme,
        ),
        true,
        &app.theme,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let t = c.targets.get(row.target);
    let mut lines = vec![Line::from(vec![
        Span::styled(row.command.clone(), r.title),
        Span::styled(
            format!(
                " → {} ({} {})",
                t.map(|t| sanitize(&t.name)).unwrap_or_default(),
                t.map(|t| t.kind.label()).unwrap_or(""),
                t.map(|t| sanitize(&t.addr)).unwrap_or_default()
            ),
            r.base,
        ),
    ])];
    lines.push(Line::from(vec![
        Span::styled(
            format!("sent {}  ", ui::clock(row.at, app.settings.utc_offset)),
            r.muted,
        ),
        Span::styled(
            row.status.label().to_string(),
            status_style(row.status, &app.theme),
        ),
        Span::styled(
            format!(
                "  latency {}",
                row.latency_ms
                    .map(|m| format!("{} ms", ms3(m)))
                    .unwrap_or_else(|| "-".into())
            ),
            r.muted,
        ),
    ]));
    lines.push(Line::styled("request", r.title));
    if row.request.is_empty() {
        lines.push(Line::styled("  (no arguments)", r.muted));
    }
    for (k, v) in &row.request {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k} = "), r.muted),
            Span::styled(v.clone(), r.base),
        ]));
    }
    lines.push(Line::styled("reply", r.title));
    if row.reply.is_empty() {
        lines.push(Line::styled(format!("  {}", row.status.label()), r.muted));
    }
    let st = if row.status == Status::Error {
        r.error
    } else {
        r.base
    };
    for l in &row.reply {
        lines.push(Line::styled(format!("  {l}"), st));
    }
    f.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        inner,
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn latency_has_three_significant_digits() {
        assert_eq!(super::ms3(1.234), "1.23");
        assert_eq!(super::ms3(12.34), "12.3");
        assert_eq!(super::ms3(123.4), "123");
        assert_eq!(super::ms3(f64::NAN), "-");
    }
}
