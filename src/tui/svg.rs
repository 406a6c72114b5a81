//! TestBackend buffer → SVG (console spec section 10). No dependencies; output is
//! byte-identical for the same buffer and theme.

use std::fmt::Write as _;

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use crate::tui::theme::Theme;

const FONT_SIZE: f64 = 14.0;
const CELL_W: f64 = 8.4;
const CELL_H: f64 = 17.0;

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn xterm256(i: u8, theme: &Theme) -> (u8, u8, u8) {
    match i {
        0..=15 => theme.ansi[i as usize],
        16..=231 => {
            let i = i - 16;
            let step = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (step(i / 36), step((i / 6) % 6), step(i % 6))
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
    }
}

fn resolve(c: Color, default: (u8, u8, u8), theme: &Theme) -> (u8, u8, u8) {
    let ansi = |i: usize| theme.ansi[i];
    match c {
        Color::Reset => default,
        Color::Black => ansi(0),
        Color::Red => ansi(1),
        Color::Green => ansi(2),
        Color::Yellow => ansi(3),
        Color::Blue => ansi(4),
        Color::Magenta => ansi(5),
        Color::Cyan => ansi(6),
        Color::Gray => ansi(7),
        Color::DarkGray => ansi(8),
        Color::LightRed => ansi(9),
        Color::LightGreen => ansi(10),
        Color::LightYellow => ansi(11),
        Color::LightBlue => ansi(12),
        Color::LightMagenta => ansi(13),
        Color::LightCyan => ansi(14),
        Color::White => ansi(15),
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) => xterm256(i, theme),
    }
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[derive(PartialEq, Clone, Copy)]
struct Look {
    fg: (u8, u8, u8),
    bg: (u8, u8, u8),
    bold: bool,
    italic: bool,
    underline: bool,
    strike: bool,
    dim: bool,
}

/// The theme's default foreground and background (terminal default colours).
pub fn defaults(theme: &Theme) -> ((u8, u8, u8), (u8, u8, u8)) {
    let base = theme.roles.base;
    let fg = base
        .fg
        .map(|c| resolve(c, theme.ansi[7], theme))
        .unwrap_or(theme.ansi[7]);
    let bg = base
        .bg
        .map(|c| resolve(c, theme.ansi[0], theme))
        .unwrap_or(theme.ansi[0]);
    (fg, bg)
}

/// Renders `buf` as an SVG document.
pub fn render(buf: &Buffer, theme: &Theme) -> String {
    let (dfg, dbg) = defaults(theme);
    let area = buf.area;
    let w = f64::from(area.width) * CELL_W;
    let h = f64::from(area.height) * CELL_H;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.1}\" height=\"{h:.1}\" viewBox=\"0 0 {w:.1} {h:.1}\">"
    );
    let _ = writeln!(
        out,
        "<style>text{{font-family:\"DejaVu Sans Mono\",\"JetBrains Mono\",monospace;font-size:{FONT_SIZE}px;white-space:pre}}</style>"
    );
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
        hex(dbg)
    );
    for y in 0..area.height {
        // cells of this row: (x, symbol, look, width)
        let mut cells: Vec<(u16, String, Look)> = Vec::new();
        let mut x = 0;
        while x < area.width {
            let Some(cell) = buf.cell((area.x + x, area.y + y)) else {
                x += 1;
                continue;
            };
            let m = cell.modifier;
            let mut fg = resolve(cell.fg, dfg, theme);
            let mut bg = resolve(cell.bg, dbg, theme);
            if m.contains(Modifier::REVERSED) {
                std::mem::swap(&mut fg, &mut bg);
            }
            let sym = if m.contains(Modifier::HIDDEN) {
                " ".to_string()
            } else {
                cell.symbol().to_string()
            };
            let cw = unicode_width::UnicodeWidthStr::width(sym.as_str()).max(1) as u16;
            cells.push((
                x,
                sym,
                Look {
                    fg,
                    bg,
                    bold: m.contains(Modifier::BOLD),
                    italic: m.contains(Modifier::ITALIC),
                    underline: m.contains(Modifier::UNDERLINED),
                    strike: m.contains(Modifier::CROSSED_OUT),
                    dim: m.contains(Modifier::DIM),
                },
            ));
            // a wide character's continuation cell is skipped
            x += cw;
        }
        let ty = f64::from(y) * CELL_H;
        // background runs
        let mut i = 0;
        while i < cells.len() {
            let bg = cells[i].2.bg;
            let start = cells[i].0;
            let mut j = i;
            while j + 1 < cells.len() && cells[j + 1].2.bg == bg {
                j += 1;
            }
            let end = cells.get(j + 1).map(|c| c.0).unwrap_or(area.width);
            if bg != dbg {
                let _ = writeln!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{ty:.1}\" width=\"{:.1}\" height=\"{CELL_H:.1}\" fill=\"{}\"/>",
                    f64::from(start) * CELL_W,
                    f64::from(end - start) * CELL_W,
                    hex(bg)
                );
            }
            i = j + 1;
        }
        // text runs of equal style
        let mut i = 0;
        while i < cells.len() {
            let look = cells[i].2;
            let start = cells[i].0;
            let mut text = String::new();
            let mut j = i;
            while j < cells.len() && cells[j].2 == look {
                text.push_str(&cells[j].1);
                j += 1;
            }
            if !text.trim().is_empty() {
                let mut attrs = format!("fill=\"{}\"", hex(look.fg));
                if look.bold {
                    attrs.push_str(" font-weight=\"bold\"");
                }
                if look.italic {
                    attrs.push_str(" font-style=\"italic\"");
                }
                match (look.underline, look.strike) {
                    (true, true) => attrs.push_str(" text-decoration=\"underline line-through\""),
                    (true, false) => attrs.push_str(" text-decoration=\"underline\""),
                    (false, true) => attrs.push_str(" text-decoration=\"line-through\""),
                    _ => {}
                }
                if look.dim {
                    attrs.push_str(" opacity=\"0.6\"");
                }
                let _ = write!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" {attrs} xml:space=\"preserve\">",
                    f64::from(start) * CELL_W,
                    ty + CELL_H * 0.8
                );
                escape(&text, &mut out);
                out.push_str("</text>\n");
            }
            i = j;
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn four_by_two_buffer_exact() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 2));
        buf.set_string(0, 0, "a<", Style::default().fg(Color::Rgb(255, 0, 0)));
        buf.set_string(2, 0, "b", Style::default().add_modifier(Modifier::BOLD));
        buf.set_string(0, 1, "世", Style::default().bg(Color::Rgb(0, 0, 255)));
        let theme = Theme::mono();
        let svg = render(&buf, &theme);
        let expected = concat!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"33.6\" height=\"34.0\" viewBox=\"0 0 33.6 34.0\">\n",
            "<style>text{font-family:\"DejaVu Sans Mono\",\"JetBrains Mono\",monospace;font-size:14px;white-space:pre}</style>\n",
            "<rect x=\"0\" y=\"0\" width=\"33.6\" height=\"34.0\" fill=\"#000000\"/>\n",
            "<text x=\"0.0\" y=\"13.6\" fill=\"#ff0000\" xml:space=\"preserve\">a&lt;</text>\n",
            "<text x=\"16.8\" y=\"13.6\" fill=\"#d0d0d0\" font-weight=\"bold\" xml:space=\"preserve\">b</text>\n",
            "<rect x=\"0.0\" y=\"17.0\" width=\"16.8\" height=\"17.0\" fill=\"#0000ff\"/>\n",
            "<text x=\"0.0\" y=\"30.6\" fill=\"#d0d0d0\" xml:space=\"preserve\">世</text>\n",
            "</svg>\n",
        );
        assert_eq!(svg, expected);
    }
}
