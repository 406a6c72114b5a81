//! A tracing layer that feeds the Log view through a bounded channel (records
//! beyond its capacity are dropped, never blocking the code that logs).

use std::fmt::Write as _;

use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use crate::tui::event::{Level, LogLine};
use crate::tui::text::sanitize;

/// Sends every record to the console.
#[derive(Debug)]
pub struct ConsoleLayer {
    tx: mpsc::Sender<LogLine>,
}

/// A layer and the receiver the main loop reads.
pub fn channel() -> (ConsoleLayer, mpsc::Receiver<LogLine>) {
    let (tx, rx) = mpsc::channel(1024);
    (ConsoleLayer { tx }, rx)
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for ConsoleLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let m = event.metadata();
        let level = match *m.level() {
            tracing::Level::TRACE => Level::Trace,
            tracing::Level::DEBUG => Level::Debug,
            tracing::Level::INFO => Level::Info,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::ERROR => Level::Error,
        };
        let mut f = Fields(String::new());
        event.record(&mut f);
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let _ = self.tx.try_send(LogLine {
            time,
            level,
            target: sanitize(m.target()),
            message: sanitize(&f.0),
        });
    }
}
