//! Small reusable pieces of the console's screen.

pub mod confirm;
pub mod hexdump;
pub mod input;
pub mod rate_spark;
pub mod ring;
pub mod status_bar;

use ratatui::layout::Rect;

/// A rectangle centred in `area`, `pct_w`/`pct_h` percent of it, at least `min_w`×`min_h`
/// (clamped to the area).
pub fn centered(area: Rect, pct_w: u16, pct_h: u16, min_w: u16, min_h: u16) -> Rect {
    let w = (area.width * pct_w / 100).max(min_w).min(area.width);
    let h = (area.height * pct_h / 100).max(min_h).min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
