//! Counters and sliding-window rates that engines publish through `watch` channels.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A rate over a sliding window, fed with event counts at given instants.
///
/// Time is passed in so the type stays deterministic in tests.
#[derive(Clone, Debug)]
pub struct Rate {
    window: Duration,
    samples: VecDeque<(Instant, u64)>,
    total: u64,
}

impl Rate {
    /// A rate measured over `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            samples: VecDeque::new(),
            total: 0,
        }
    }

    /// Records `count` events at `now`.
    pub fn record(&mut self, now: Instant, count: u64) {
        self.samples.push_back((now, count));
        self.total += count;
        self.expire(now);
    }

    /// Events per second over the window ending at `now`.
    pub fn per_second(&mut self, now: Instant) -> f64 {
        self.expire(now);
        self.total as f64 / self.window.as_secs_f64()
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, count)) = self.samples.front() {
            if now.duration_since(at) <= self.window {
                break;
            }
            self.samples.pop_front();
            self.total -= count;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_forgets_events_older_than_the_window() {
        let start = Instant::now();
        let mut rate = Rate::new(Duration::from_secs(1));
        rate.record(start, 10);
        rate.record(start + Duration::from_millis(500), 10);
        assert_eq!(rate.per_second(start + Duration::from_millis(900)), 20.0);
        assert_eq!(rate.per_second(start + Duration::from_millis(1200)), 10.0);
        assert_eq!(rate.per_second(start + Duration::from_secs(3)), 0.0);
    }
}
