//! The Hive view's part of `App`: events, actions and form keys, delegated here
//! from `app.rs` so the shared file only gains one-line arms.

use crate::tui::action::{Action, Scope};
use crate::tui::app::{App, Confirm, OnYes};
use crate::tui::hive::{Effect, Focus, Msg};

impl App {
    /// Applies a message from the hive link.
    pub fn on_hive(&mut self, m: Msg) {
        let fx = self.hive.apply(m, self.now);
        self.apply_hive_effects(fx);
        self.dirty = true;
    }

    /// Shows the effects of a hive reply.
    pub fn apply_hive_effects(&mut self, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::Info(t) => self.info(t),
                Effect::Error(t) => self.error(t),
                Effect::Done(what) => {
                    if let Some(i) = self.in_flight.iter().position(|w| *w == what) {
                        self.in_flight.remove(i);
                    }
                }
            }
        }
    }

    /// The key scope of the Hive view's focused pane.
    pub fn hive_scope(&self) -> Scope {
        match self.hive.focus {
            Focus::Keys => Scope::HiveKeys,
            Focus::Value => Scope::HiveValue,
        }
    }

    /// Hive view actions (writes are already refused under `--readonly`).
    pub fn hive_action(&mut self, action: Action) {
        if !self.hive.is_connected() {
            self.error("hive: not connected");
            return;
        }
        match action {
            Action::HivePut => self.hive.open_put(),
            Action::HiveUpdate => {
                let fx = self.hive.open_update();
                self.apply_hive_effects(fx);
            }
            Action::HiveDelete => match self.hive.delete_selected() {
                Some(w) => {
                    let (title, lines) = self.hive.confirm_text(&w);
                    self.confirm = Some(Confirm {
                        title,
                        lines,
                        on_yes: OnYes::Hive(w),
                        yes_selected: false,
                    });
                }
                None => self.error("select a key to delete"),
            },
            Action::HiveMode => self.hive.cycle_mode(),
            Action::HiveMore => {
                let fx = self.hive.load_more();
                self.apply_hive_effects(fx);
            }
            Action::HiveRefresh => {
                self.hive.refresh();
                self.info("reloading hive keys");
            }
            Action::HiveSlices => {
                let fx = self.hive.open_slices();
                self.apply_hive_effects(fx);
            }
            _ => {}
        }
    }

    /// Form actions while the hive form is open.
    pub fn hive_form_action(&mut self, action: Action) {
        let Some(f) = &mut self.hive.form else { return };
        match action {
            Action::FormNext => f.focus = (f.focus + 1) % f.fields.len(),
            Action::FormPrev => f.focus = (f.focus + f.fields.len() - 1) % f.fields.len(),
            Action::FormCancel => {
                if f.edited {
                    self.confirm = Some(Confirm {
                        title: "discard the form?".into(),
                        lines: vec![format!("the {} form has unsent edits", f.title())],
                        on_yes: OnYes::DiscardForm,
                        yes_selected: false,
                    });
                } else {
                    self.hive.form = None;
                }
            }
            Action::FormSend => {
                if self.settings.readonly {
                    self.error("read-only: hive writes disabled");
                    return;
                }
                if let Some(w) = self.hive.form_write() {
                    let (title, lines) = self.hive.confirm_text(&w);
                    self.confirm = Some(Confirm {
                        title,
                        lines,
                        on_yes: OnYes::Hive(w),
                        yes_selected: false,
                    });
                }
            }
            _ => {}
        }
    }

    /// `y` on a hive confirm: queue the write and count it as pending.
    pub fn hive_confirmed(&mut self, w: crate::tui::hive::Write) {
        let what = self.hive.confirmed(w);
        self.in_flight.push(what);
    }
}
