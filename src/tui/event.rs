//! Everything the main loop feeds into `App`: terminal input, engine events,
//! counters and the 1 Hz tick.

use crossterm::event::KeyEvent;

use crate::tui::source::{PoolEvent, PoolStats};
use crate::tui::widgets::ring::Weigh;

/// One input to the app.
#[derive(Debug, Clone)]
pub enum AppEvent {
    /// A key press.
    Key(KeyEvent),
    /// Bracketed paste: inserted into the focused input, never run as keys.
    Paste(String),
    /// The terminal was resized.
    Resize(u16, u16),
    /// The 1 Hz tick: advances sparklines, fades messages.
    Tick,
    /// An event from the pool engine.
    Pool(PoolEvent),
    /// New pool counters (from the watch channel).
    PoolStats(PoolStats),
    /// A log record of the console itself.
    Log(LogLine),
    /// A left click at (column, row), with `--mouse`.
    Click(u16, u16),
    /// An event from the Calls view's bridge (AMP / simpy.io targets).
    Calls(crate::tui::calls::CallsEvent),
    /// An event from the groups engine.
    Groups(crate::engine::groups::handle::Event),
    /// New groups counters (from the watch channel).
    GroupsStats(crate::engine::groups::handle::Stats),
    /// A reply, snapshot or state change from the hive link.
    Hive(crate::tui::hive::Msg),
}

/// Log levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// TRACE
    Trace,
    /// DEBUG
    Debug,
    /// INFO
    Info,
    /// WARN
    Warn,
    /// ERROR
    Error,
}

impl Level {
    /// Upper-case name.
    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }

    /// One level up (saturating).
    pub fn up(self) -> Level {
        match self {
            Level::Trace => Level::Debug,
            Level::Debug => Level::Info,
            Level::Info => Level::Warn,
            _ => Level::Error,
        }
    }

    /// One level down (saturating).
    pub fn down(self) -> Level {
        match self {
            Level::Error => Level::Warn,
            Level::Warn => Level::Info,
            Level::Info => Level::Debug,
            _ => Level::Trace,
        }
    }
}

/// One log record, sanitised when it is created.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Seconds since the epoch.
    pub time: f64,
    /// Level.
    pub level: Level,
    /// Module path.
    pub target: String,
    /// Message and fields.
    pub message: String,
}

impl Weigh for LogLine {
    fn weight(&self) -> usize {
        std::mem::size_of::<LogLine>() + self.target.len() + self.message.len()
    }
}
