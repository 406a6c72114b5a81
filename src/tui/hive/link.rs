//! What the main loop holds for the Hive view: the handle once the backend is
//! open, its event receiver and snapshot watch. Opening (a redb file, or a
//! network connection for `resp://` and `redis://` targets) runs on its own
//! task; the loop only polls a oneshot, so the console starts at once and
//! never awaits the network.

use tokio::sync::{mpsc, oneshot, watch};

use crate::engine::hive::handle::{Event, Handle, Snapshot};
use crate::tui::app::App;
use crate::tui::event::AppEvent;
use crate::tui::hive::Msg;
use crate::tui::source::SourceState;

/// An opened hive: the handle, its events, and the state to show.
pub type Opened = Result<(Handle, mpsc::Receiver<Event>, SourceState), String>;

/// The loop's side of the Hive view.
pub struct Link {
    opening: Option<oneshot::Receiver<Opened>>,
    handle: Option<Handle>,
    events: Option<mpsc::Receiver<Event>>,
    snapshot: Option<watch::Receiver<Snapshot>>,
}

impl Link {
    /// No hive behind the view.
    pub fn none() -> Link {
        Link {
            opening: None,
            handle: None,
            events: None,
            snapshot: None,
        }
    }

    /// A hive being opened by a task that will send the result on `rx`.
    pub fn opening(rx: oneshot::Receiver<Opened>) -> Link {
        Link {
            opening: Some(rx),
            ..Link::none()
        }
    }

    /// Waits for the next thing to report (never ready when there is nothing).
    pub async fn next(&mut self) -> AppEvent {
        loop {
            if let Some(rx) = &mut self.opening {
                let r = rx.await;
                self.opening = None;
                return match r {
                    Ok(Ok((h, ev, state))) => {
                        self.snapshot = Some(h.watch());
                        self.events = Some(ev);
                        self.handle = Some(h);
                        AppEvent::Hive(Msg::State(state))
                    }
                    Ok(Err(e)) => AppEvent::Hive(Msg::State(SourceState::Down { error: e })),
                    Err(_) => AppEvent::Hive(Msg::State(SourceState::Down {
                        error: "hive opener stopped".into(),
                    })),
                };
            }
            let (Some(events), Some(snap)) = (&mut self.events, &mut self.snapshot) else {
                return std::future::pending().await;
            };
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) => return AppEvent::Hive(Msg::Event(ev)),
                    None => {
                        self.events = None;
                        self.snapshot = None;
                        return AppEvent::Hive(Msg::State(SourceState::Down {
                            error: "hive engine stopped".into(),
                        }));
                    }
                },
                changed = snap.changed() => {
                    if changed.is_err() {
                        self.snapshot = None;
                        continue;
                    }
                    let s = snap.borrow_and_update().clone();
                    return AppEvent::Hive(Msg::Snapshot(s));
                }
            }
        }
    }

    /// Events already queued (drained before a draw, bounded by the caller).
    pub fn try_next(&mut self) -> Option<AppEvent> {
        let ev = self.events.as_mut()?.try_recv().ok()?;
        Some(AppEvent::Hive(Msg::Event(ev)))
    }

    /// Sends the view's queued requests with `try_send`; a full queue is
    /// reported in the status line and nothing waits.
    pub fn flush(&self, app: &mut App) {
        let out = std::mem::take(&mut app.hive.outbox);
        if out.is_empty() {
            return;
        }
        let Some(h) = &self.handle else {
            for (req, _) in out {
                let fx = app.hive.send_failed(req, "hive not connected");
                app.apply_hive_effects(fx);
            }
            return;
        };
        for (req, cmd) in out {
            match h.send(cmd) {
                Ok(tag) => app.hive.sent(tag, req),
                Err(e) => {
                    tracing::warn!("hive: {e}");
                    let fx = app.hive.send_failed(req, &e.to_string());
                    app.apply_hive_effects(fx);
                }
            }
        }
    }
}
