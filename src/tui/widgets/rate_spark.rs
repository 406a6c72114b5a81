//! A one-line text sparkline of per-second rates (block characters, single width).

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` samples as a sparkline, scaled to their maximum; padded on the
/// left with spaces when there are fewer samples.
pub fn line<'a>(
    samples: impl DoubleEndedIterator<Item = &'a u64> + ExactSizeIterator,
    width: usize,
) -> String {
    let n = samples.len();
    let skip = n.saturating_sub(width);
    let vals: Vec<u64> = samples.skip(skip).copied().collect();
    let max = vals.iter().copied().max().unwrap_or(0);
    let mut out = " ".repeat(width.saturating_sub(vals.len()));
    for v in vals {
        let c = match (v * 7).checked_div(max) {
            Some(i) => BARS[(i as usize).min(7)],
            None => BARS[0],
        };
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn scales_to_max_and_pads() {
        assert_eq!(super::line([0u64, 7, 14].iter(), 5), "  ▁▄█");
        assert_eq!(super::line([5u64; 10].iter(), 3), "███");
        assert_eq!(super::line([].iter(), 2), "  ");
    }
}
