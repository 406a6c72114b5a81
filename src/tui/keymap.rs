//! The key table (console spec section 5): one list of (scope, keys, action,
//! description, hint). Key resolution, the help overlay and the footer hints all
//! read this table, so they cannot drift apart. The config may override bindings;
//! conflicts are reported with both bindings named.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::tui::action::{Action, Scope};

/// One key press, normalised (shift folded into the character).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Chord {
    /// Key code.
    pub code: KeyCodeKey,
    /// Ctrl / Alt (shift only for non-character keys).
    pub mods: u8,
}

/// A hashable, ordered stand-in for `KeyCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeKey {
    /// A character.
    Char(char),
    /// Function key.
    F(u8),
    /// Named key.
    Named(&'static str),
}

const CTRL: u8 = 1;
const ALT: u8 = 2;
const SHIFT: u8 = 4;

impl Chord {
    /// Normalises a crossterm key event.
    pub fn from_event(k: &KeyEvent) -> Option<Chord> {
        let mut mods = 0;
        if k.modifiers.contains(KeyModifiers::CONTROL) {
            mods |= CTRL;
        }
        if k.modifiers.contains(KeyModifiers::ALT) {
            mods |= ALT;
        }
        let code = match k.code {
            KeyCode::Char(c) => {
                // terminals report ctrl-letters in either case
                let c = if mods & CTRL != 0 {
                    c.to_ascii_lowercase()
                } else {
                    c
                };
                KeyCodeKey::Char(c)
            }
            KeyCode::F(n) => KeyCodeKey::F(n),
            KeyCode::BackTab => KeyCodeKey::Named("backtab"),
            other => {
                if k.modifiers.contains(KeyModifiers::SHIFT) {
                    mods |= SHIFT;
                }
                KeyCodeKey::Named(match other {
                    KeyCode::Enter => "enter",
                    KeyCode::Esc => "esc",
                    KeyCode::Tab => "tab",
                    KeyCode::Backspace => "backspace",
                    KeyCode::Delete => "delete",
                    KeyCode::Up => "up",
                    KeyCode::Down => "down",
                    KeyCode::Left => "left",
                    KeyCode::Right => "right",
                    KeyCode::Home => "home",
                    KeyCode::End => "end",
                    KeyCode::PageUp => "pgup",
                    KeyCode::PageDown => "pgdn",
                    KeyCode::Insert => "insert",
                    _ => return None,
                })
            }
        };
        Some(Chord { code, mods })
    }

    /// Parses `ctrl-s`, `shift-tab`, `G`, `esc`, `f1`, `space`, `pgdn`.
    pub fn parse(s: &str) -> Option<Chord> {
        let mut mods = 0;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if lower.starts_with("ctrl-") && rest.len() > 5 {
                mods |= CTRL;
                rest = &rest[5..];
            } else if lower.starts_with("alt-") && rest.len() > 4 {
                mods |= ALT;
                rest = &rest[4..];
            } else if lower.starts_with("shift-") && rest.len() > 6 {
                mods |= SHIFT;
                rest = &rest[6..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        if let (Some(c), None) = (chars.next(), chars.clone().next()) {
            let c = if mods & CTRL != 0 {
                c.to_ascii_lowercase()
            } else if mods & SHIFT != 0 {
                mods &= !SHIFT;
                c.to_ascii_uppercase()
            } else {
                c
            };
            return Some(Chord {
                code: KeyCodeKey::Char(c),
                mods,
            });
        }
        let lower = rest.to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
            return Some(Chord {
                code: KeyCodeKey::F(n),
                mods,
            });
        }
        let named = match lower.as_str() {
            "space" => {
                return Some(Chord {
                    code: KeyCodeKey::Char(' '),
                    mods,
                })
            }
            "tab" if mods & SHIFT != 0 => {
                return Some(Chord {
                    code: KeyCodeKey::Named("backtab"),
                    mods: mods & !SHIFT,
                })
            }
            "backtab" => "backtab",
            "enter" | "return" => "enter",
            "esc" | "escape" => "esc",
            "tab" => "tab",
            "backspace" => "backspace",
            "delete" | "del" => "delete",
            "up" => "up",
            "down" => "down",
            "left" => "left",
            "right" => "right",
            "home" => "home",
            "end" => "end",
            "pgup" | "pageup" => "pgup",
            "pgdn" | "pagedown" => "pgdn",
            "insert" => "insert",
            _ => return None,
        };
        Some(Chord {
            code: KeyCodeKey::Named(named),
            mods,
        })
    }

    /// A crossterm key event for this chord (used by event scripts).
    pub fn to_event(self) -> KeyEvent {
        let mut m = KeyModifiers::NONE;
        if self.mods & CTRL != 0 {
            m |= KeyModifiers::CONTROL;
        }
        if self.mods & ALT != 0 {
            m |= KeyModifiers::ALT;
        }
        if self.mods & SHIFT != 0 {
            m |= KeyModifiers::SHIFT;
        }
        let code = match self.code {
            KeyCodeKey::Char(c) => KeyCode::Char(c),
            KeyCodeKey::F(n) => KeyCode::F(n),
            KeyCodeKey::Named(n) => match n {
                "backtab" => {
                    m |= KeyModifiers::SHIFT;
                    KeyCode::BackTab
                }
                "enter" => KeyCode::Enter,
                "esc" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backspace" => KeyCode::Backspace,
                "delete" => KeyCode::Delete,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pgup" => KeyCode::PageUp,
                "pgdn" => KeyCode::PageDown,
                _ => KeyCode::Insert,
            },
        };
        KeyEvent::new(code, m)
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods & CTRL != 0 {
            f.write_str("Ctrl-")?;
        }
        if self.mods & ALT != 0 {
            f.write_str("Alt-")?;
        }
        if self.mods & SHIFT != 0 {
            f.write_str("Shift-")?;
        }
        match self.code {
            KeyCodeKey::Char(' ') => f.write_str("Space"),
            KeyCodeKey::Char(c) => write!(f, "{c}"),
            KeyCodeKey::F(n) => write!(f, "F{n}"),
            KeyCodeKey::Named(n) => f.write_str(match n {
                "backtab" => "Shift-Tab",
                "enter" => "Enter",
                "esc" => "Esc",
                "tab" => "Tab",
                "backspace" => "Bksp",
                "delete" => "Del",
                "up" => "↑",
                "down" => "↓",
                "left" => "←",
                "right" => "→",
                "home" => "Home",
                "end" => "End",
                "pgup" => "PgUp",
                "pgdn" => "PgDn",
                other => other,
            }),
        }
    }
}

/// A key sequence (`g g` is two chords).
pub type Keys = Vec<Chord>;

fn keys_text(keys: &[Chord]) -> String {
    keys.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One binding.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// Where it applies.
    pub scope: Scope,
    /// The key sequence.
    pub keys: Keys,
    /// What it does.
    pub action: Action,
    /// Help text.
    pub desc: &'static str,
    /// Footer hint label (empty: not shown in the footer).
    pub hint: &'static str,
}

/// The default table: (scope, keys, action, description, footer hint).
/// Alternatives for one action are separated by `|`.
const DEFAULT: &[(Scope, &str, Action, &str, &str)] = &[
    (Scope::Global, "?", Action::Help, "toggle this help", "help"),
    (Scope::Global, ":", Action::CommandLine, "command line", ""),
    (
        Scope::Global,
        "/",
        Action::Filter,
        "filter the focused list",
        "filter",
    ),
    (
        Scope::Global,
        "esc",
        Action::Back,
        "close overlay, leave mode, clear filter",
        "",
    ),
    (Scope::Global, "tab", Action::NextTab, "next tab", ""),
    (
        Scope::Global,
        "backtab",
        Action::PrevTab,
        "previous tab",
        "",
    ),
    (Scope::Global, "1", Action::Tab1, "Overview tab", ""),
    (Scope::Global, "2", Action::Tab2, "Pools tab", ""),
    (Scope::Global, "3", Action::Tab3, "Hive tab", ""),
    (Scope::Global, "4", Action::Tab4, "Calls tab", ""),
    (Scope::Global, "5", Action::Tab5, "Groups tab", ""),
    (Scope::Global, "6", Action::Tab6, "Log tab", ""),
    (Scope::Global, "j|down", Action::Down, "move down", ""),
    (Scope::Global, "k|up", Action::Up, "move up", ""),
    (
        Scope::Global,
        "h|left",
        Action::Left,
        "focus pane to the left",
        "",
    ),
    (
        Scope::Global,
        "l|right",
        Action::Right,
        "focus pane to the right",
        "",
    ),
    (Scope::Global, "g g|home", Action::Top, "top", ""),
    (
        Scope::Global,
        "G|end",
        Action::Bottom,
        "bottom (resumes follow)",
        "",
    ),
    (
        Scope::Global,
        "ctrl-d",
        Action::HalfDown,
        "half page down",
        "",
    ),
    (Scope::Global, "ctrl-u", Action::HalfUp, "half page up", ""),
    (Scope::Global, "pgdn", Action::PageDown, "page down", ""),
    (Scope::Global, "pgup", Action::PageUp, "page up", ""),
    (Scope::Global, "enter", Action::Enter, "open detail", ""),
    (Scope::Global, "f", Action::Follow, "follow / freeze", ""),
    (
        Scope::Global,
        "q",
        Action::Quit,
        "quit (asks when a write is pending)",
        "quit",
    ),
    (
        Scope::Global,
        "ctrl-c",
        Action::Interrupt,
        "quit; twice within 2 s quits without asking",
        "",
    ),
    (Scope::Global, "ctrl-z", Action::Suspend, "suspend", ""),
    (Scope::Global, "ctrl-l", Action::Redraw, "full redraw", ""),
    (
        Scope::Overview,
        "enter",
        Action::Enter,
        "open the engine's tab",
        "open",
    ),
    (
        Scope::Overview,
        "f",
        Action::Follow,
        "freeze / unfreeze the cards",
        "freeze",
    ),
    (
        Scope::PoolList,
        "j|down",
        Action::Down,
        "select next pool",
        "move",
    ),
    (
        Scope::PoolList,
        "enter|l",
        Action::Right,
        "tail the selected pool",
        "tail",
    ),
    (
        Scope::PoolList,
        "r",
        Action::Refresh,
        "refresh sizes",
        "refresh",
    ),
    (
        Scope::PoolList,
        "c",
        Action::CreatePool,
        "create a pool (asks first)",
        "create",
    ),
    (
        Scope::PoolList,
        "R",
        Action::ResizePool,
        "resize the selected pool (asks first)",
        "",
    ),
    (
        Scope::PoolList,
        "D",
        Action::DisposePool,
        "dispose of the selected pool (asks first)",
        "dispose",
    ),
    (
        Scope::PoolList,
        "d",
        Action::Deposit,
        "deposit a protein",
        "deposit",
    ),
    (Scope::Tail, "j|down", Action::Down, "next protein", "move"),
    (
        Scope::Tail,
        "enter",
        Action::Enter,
        "protein detail",
        "detail",
    ),
    (Scope::Tail, "f", Action::Follow, "follow / pause", "follow"),
    (
        Scope::Tail,
        "d",
        Action::Deposit,
        "deposit a protein",
        "deposit",
    ),
    (
        Scope::Tail,
        "h|left",
        Action::Left,
        "back to the pool list",
        "",
    ),
    (
        Scope::Log,
        "+",
        Action::LevelUp,
        "raise the minimum level",
        "level+",
    ),
    (
        Scope::Log,
        "-",
        Action::LevelDown,
        "lower the minimum level",
        "level-",
    ),
    (Scope::Log, "f", Action::Follow, "follow / pause", "follow"),
    (
        Scope::Groups,
        "j|down",
        Action::Down,
        "select next group",
        "move",
    ),
    (
        Scope::Groups,
        "J",
        Action::GroupJoin,
        "join a group",
        "join",
    ),
    (
        Scope::Groups,
        "L",
        Action::GroupLeave,
        "leave the selected group (asks first)",
        "leave",
    ),
    (
        Scope::Groups,
        "s",
        Action::GroupSend,
        "send to the selected group",
        "send",
    ),
    (
        Scope::Groups,
        "m",
        Action::GroupMessages,
        "show / hide the messages pane",
        "messages",
    ),
    (
        Scope::Groups,
        "f",
        Action::Follow,
        "follow / pause the timeline",
        "follow",
    ),
    (Scope::Log, "w", Action::Wrap, "toggle wrap", "wrap"),
    (Scope::Help, "q|esc|?", Action::Close, "close help", "close"),
    (Scope::Help, "j|down", Action::Down, "scroll down", "scroll"),
    (Scope::Help, "k|up", Action::Up, "scroll up", ""),
    (
        Scope::Detail,
        "q|esc",
        Action::Close,
        "close the detail",
        "close",
    ),
    (
        Scope::Detail,
        "v",
        Action::DetailMode,
        "toggle YAML / hex",
        "yaml/hex",
    ),
    (
        Scope::Detail,
        "[",
        Action::DetailPrev,
        "previous protein",
        "prev",
    ),
    (
        Scope::Detail,
        "]",
        Action::DetailNext,
        "next protein",
        "next",
    ),
    (Scope::Detail, "w", Action::Wrap, "toggle wrap", "wrap"),
    (
        Scope::Detail,
        "s",
        Action::DetailSave,
        "save the protein YAML to a file",
        "save",
    ),
    (
        Scope::Detail,
        "j|down",
        Action::Down,
        "scroll down",
        "scroll",
    ),
    (Scope::Detail, "k|up", Action::Up, "scroll up", ""),
    (
        Scope::Filter,
        "enter",
        Action::InputAccept,
        "keep the filter",
        "keep",
    ),
    (
        Scope::Filter,
        "esc",
        Action::InputCancel,
        "cancel the edit",
        "cancel",
    ),
    (
        Scope::Command,
        "enter",
        Action::InputAccept,
        "run the command",
        "run",
    ),
    (
        Scope::Command,
        "esc|ctrl-c",
        Action::InputCancel,
        "cancel",
        "cancel",
    ),
    (
        Scope::Command,
        "tab",
        Action::Complete,
        "complete / next candidate",
        "complete",
    ),
    (
        Scope::Command,
        "backtab",
        Action::CompletePrev,
        "previous candidate",
        "",
    ),
    (
        Scope::Command,
        "up",
        Action::HistoryPrev,
        "older history (prefix match)",
        "history",
    ),
    (
        Scope::Command,
        "down",
        Action::HistoryNext,
        "newer history",
        "",
    ),
    (
        Scope::Form,
        "tab|down",
        Action::FormNext,
        "next field",
        "next",
    ),
    (
        Scope::Form,
        "backtab|up",
        Action::FormPrev,
        "previous field",
        "",
    ),
    (Scope::Form, "ctrl-s", Action::FormSend, "send", "send"),
    (
        Scope::Form,
        "esc|ctrl-c",
        Action::FormCancel,
        "close (asks if edited)",
        "cancel",
    ),
    (Scope::Confirm, "y", Action::ConfirmYes, "yes", "yes"),
    (Scope::Confirm, "n|esc", Action::ConfirmNo, "no", "no"),
    (
        Scope::Confirm,
        "tab|left|right|h|l",
        Action::ConfirmToggle,
        "switch button",
        "",
    ),
    (
        Scope::Confirm,
        "enter",
        Action::ConfirmActivate,
        "activate the highlighted button",
        "",
    ),
    // Calls view (calls are refused under --readonly unless the schema marks
    // the command readonly_safe; the view checks that, not the action flag)
    (
        Scope::CallTargets,
        "j|down",
        Action::Down,
        "select next target",
        "move",
    ),
    (
        Scope::CallTargets,
        "enter|l",
        Action::Right,
        "commands of the target",
        "commands",
    ),
    (
        Scope::CallTargets,
        "n",
        Action::CallNew,
        "call the selected command",
        "call",
    ),
    (
        Scope::CallCommands,
        "j|down",
        Action::Down,
        "select next command",
        "move",
    ),
    (
        Scope::CallCommands,
        "enter|n",
        Action::CallNew,
        "open the call form",
        "call",
    ),
    (
        Scope::CallCommands,
        "h|left",
        Action::Left,
        "back to the targets",
        "",
    ),
    (
        Scope::CallCommands,
        "l|right",
        Action::Right,
        "to the history",
        "history",
    ),
    (
        Scope::CallHistory,
        "j|down",
        Action::Down,
        "older call",
        "move",
    ),
    (
        Scope::CallHistory,
        "enter",
        Action::Enter,
        "full request and reply",
        "detail",
    ),
    (
        Scope::CallHistory,
        "r",
        Action::CallRerun,
        "re-run the selected call",
        "re-run",
    ),
    (
        Scope::CallHistory,
        "e",
        Action::CallEdit,
        "copy the call into the form",
        "edit",
    ),
    (
        Scope::CallHistory,
        "w",
        Action::CallWatch,
        "watch: repeat the call every 2 s (again: stop)",
        "watch",
    ),
    (
        Scope::CallHistory,
        "x",
        Action::CallAbandon,
        "abandon a pending call",
        "abandon",
    ),
    (
        Scope::CallHistory,
        "n",
        Action::CallNew,
        "call the selected command",
        "call",
    ),
    (
        Scope::CallHistory,
        "h|left",
        Action::Left,
        "back to the commands",
        "",
    ),
    (
        Scope::CallTargetLine,
        "h|left",
        Action::Left,
        "previous target",
        "target",
    ),
    (
        Scope::CallTargetLine,
        "l|right",
        Action::Right,
        "next target",
        "",
    ),
    (
        Scope::CallTargetLine,
        "enter|j|down",
        Action::Enter,
        "commands of the target",
        "commands",
    ),
    (
        Scope::CallTargetLine,
        "n",
        Action::CallNew,
        "call the selected command",
        "call",
    ),
    (
        Scope::CallForm,
        "tab|down|enter",
        Action::FormNext,
        "next field",
        "next",
    ),
    (
        Scope::CallForm,
        "backtab|up",
        Action::FormPrev,
        "previous field",
        "",
    ),
    (
        Scope::CallForm,
        "ctrl-s",
        Action::FormSend,
        "send (when every field is valid)",
        "send",
    ),
    (
        Scope::CallForm,
        "esc|ctrl-c",
        Action::FormCancel,
        "close the form",
        "close",
    ),
    (Scope::HiveKeys, "j|down", Action::Down, "next key", "move"),
    (
        Scope::HiveKeys,
        "enter|l|right",
        Action::Enter,
        "open folder / view value / load more",
        "open",
    ),
    (
        Scope::HiveKeys,
        "h|left",
        Action::Left,
        "up one folder",
        "up",
    ),
    (
        Scope::HiveKeys,
        "a",
        Action::HivePut,
        "put a new key (asks first)",
        "put",
    ),
    (
        Scope::HiveKeys,
        "e",
        Action::HiveUpdate,
        "update the selected key (asks first)",
        "update",
    ),
    (
        Scope::HiveKeys,
        "D",
        Action::HiveDelete,
        "delete the selected key (asks first)",
        "delete",
    ),
    (
        Scope::HiveKeys,
        "v",
        Action::HiveMode,
        "value mode: auto / hex / UTF-8 / slaw / JSON",
        "mode",
    ),
    (Scope::HiveKeys, ".", Action::HiveMore, "load more keys", ""),
    (
        Scope::HiveKeys,
        "r",
        Action::HiveRefresh,
        "reload keys and stats",
        "reload",
    ),
    (
        Scope::HiveValue,
        "j|down",
        Action::Down,
        "scroll down",
        "scroll",
    ),
    (
        Scope::HiveValue,
        "h|left|esc",
        Action::Left,
        "back to the keys",
        "back",
    ),
    (
        Scope::HiveValue,
        "v",
        Action::HiveMode,
        "value mode: auto / hex / UTF-8 / slaw / JSON",
        "mode",
    ),
    (
        Scope::HiveValue,
        "o",
        Action::HiveSlices,
        "view a sliced document (<id>-slice_count) as one",
        "slices",
    ),
    (
        Scope::HiveValue,
        "e",
        Action::HiveUpdate,
        "update this key (asks first)",
        "update",
    ),
    (
        Scope::HiveValue,
        "D",
        Action::HiveDelete,
        "delete this key (asks first)",
        "delete",
    ),
];

/// Result of feeding a chord to the keymap.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// A binding matched.
    Action(Action),
    /// The chord starts a sequence; wait for the next key.
    Pending,
    /// Nothing bound.
    Unbound,
}

/// The key table in use: defaults plus config overrides.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Self {
        let mut bindings = Vec::new();
        for (scope, keys, action, desc, hint) in DEFAULT {
            for alt in keys.split('|') {
                let seq: Option<Keys> = alt.split(' ').map(Chord::parse).collect();
                // the table above is fixed and covered by `default_table_parses`
                if let Some(seq) = seq {
                    bindings.push(Binding {
                        scope: *scope,
                        keys: seq,
                        action: *action,
                        desc,
                        hint,
                    });
                }
            }
        }
        Keymap { bindings }
    }
}

impl Keymap {
    /// Applies `[keys]` overrides from the config: `"ctrl-s" = "form.send"`.
    /// Returns one message per problem (bad key, unknown action, conflict).
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> (Keymap, Vec<String>) {
        let mut km = Keymap::default();
        let mut problems = Vec::new();
        for (key, action_name) in overrides {
            let Some(action) = Action::from_name(action_name) else {
                problems.push(format!("keys: unknown action {action_name:?} for {key:?}"));
                continue;
            };
            let seq: Option<Keys> = key.split(' ').map(Chord::parse).collect();
            let Some(seq) = seq.filter(|s| !s.is_empty()) else {
                problems.push(format!("keys: cannot parse key {key:?}"));
                continue;
            };
            let scope = action.scope();
            if let Some(old) = km
                .bindings
                .iter()
                .find(|b| b.scope == scope && b.keys == seq && b.action != action)
            {
                problems.push(format!(
                    "keys: {key:?} was {} ({}), now {}",
                    old.action.name(),
                    old.desc,
                    action.name()
                ));
            }
            let (desc, hint) = km
                .bindings
                .iter()
                .find(|b| b.action == action)
                .map(|b| (b.desc, b.hint))
                .unwrap_or(("(user binding)", ""));
            km.bindings.retain(|b| !(b.scope == scope && b.keys == seq));
            km.bindings.push(Binding {
                scope,
                keys: seq,
                action,
                desc,
                hint,
            });
        }
        (km, problems)
    }

    /// Resolves `pending + chord` in the given scopes, first match wins.
    pub fn resolve(&self, scopes: &[Scope], pending: &[Chord], chord: Chord) -> Resolved {
        let mut seq: Vec<Chord> = pending.to_vec();
        seq.push(chord);
        for scope in scopes {
            let mut prefix = false;
            for b in self.bindings.iter().filter(|b| b.scope == *scope) {
                if b.keys == seq {
                    return Resolved::Action(b.action);
                }
                if b.keys.len() > seq.len() && b.keys[..seq.len()] == seq[..] {
                    prefix = true;
                }
            }
            if prefix {
                return Resolved::Pending;
            }
        }
        Resolved::Unbound
    }

    /// Bindings of a scope, grouped per action: (keys text, description, action).
    pub fn help_rows(&self, scope: Scope) -> Vec<(String, &'static str, Action)> {
        let mut rows: Vec<(String, &'static str, Action)> = Vec::new();
        for b in self.bindings.iter().filter(|b| b.scope == scope) {
            let k = keys_text(&b.keys);
            match rows.iter_mut().find(|r| r.2 == b.action) {
                Some(r) => {
                    r.0.push('/');
                    r.0.push_str(&k);
                }
                None => rows.push((k, b.desc, b.action)),
            }
        }
        rows
    }

    /// Footer hints of a scope: (first key, hint label, action).
    pub fn hints(&self, scope: Scope) -> Vec<(String, &'static str, Action)> {
        let mut out: Vec<(String, &'static str, Action)> = Vec::new();
        for b in self.bindings.iter().filter(|b| b.scope == scope) {
            if !b.hint.is_empty() && !out.iter().any(|h| h.2 == b.action) {
                out.push((keys_text(&b.keys), b.hint, b.action));
            }
        }
        out
    }

    /// The first key bound to `action` in `scope`, for messages.
    pub fn key_for(&self, scope: Scope, action: Action) -> Option<String> {
        self.bindings
            .iter()
            .find(|b| b.scope == scope && b.action == action)
            .map(|b| keys_text(&b.keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_parses() {
        for (_, keys, _, _, _) in DEFAULT {
            for alt in keys.split('|') {
                for k in alt.split(' ') {
                    assert!(Chord::parse(k).is_some(), "cannot parse {k:?}");
                }
            }
        }
    }

    #[test]
    fn no_duplicate_keys_in_a_scope() {
        let km = Keymap::default();
        for (i, a) in km.bindings.iter().enumerate() {
            for b in &km.bindings[i + 1..] {
                assert!(
                    !(a.scope == b.scope && a.keys == b.keys),
                    "{:?} {:?} bound twice",
                    a.scope,
                    a.keys
                );
            }
        }
    }

    #[test]
    fn resolution_prefers_narrow_scope_and_handles_sequences() {
        let km = Keymap::default();
        let g = Chord::parse("g").expect("g");
        let scopes = [Scope::Tail, Scope::Global];
        assert_eq!(km.resolve(&scopes, &[], g), Resolved::Pending);
        assert_eq!(km.resolve(&scopes, &[g], g), Resolved::Action(Action::Top));
        let d = Chord::parse("d").expect("d");
        assert_eq!(
            km.resolve(&scopes, &[], d),
            Resolved::Action(Action::Deposit)
        );
        let shift_g = Chord::from_event(&KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT));
        assert_eq!(
            km.resolve(&scopes, &[], shift_g.expect("G")),
            Resolved::Action(Action::Bottom)
        );
    }

    #[test]
    fn overrides_apply_and_report_conflicts() {
        let mut o = BTreeMap::new();
        o.insert("ctrl-x".to_string(), "form.send".to_string());
        o.insert("q".to_string(), "app.help".to_string());
        o.insert("ctrl-y".to_string(), "no.such".to_string());
        let (km, problems) = Keymap::with_overrides(&o);
        let cx = Chord::parse("ctrl-x").expect("parses");
        assert_eq!(
            km.resolve(&[Scope::Form], &[], cx),
            Resolved::Action(Action::FormSend)
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems
            .iter()
            .any(|p| p.contains("app.quit") && p.contains("app.help")));
        assert!(problems.iter().any(|p| p.contains("no.such")));
    }

    #[test]
    fn chords_round_trip_through_events() {
        for k in ["ctrl-s", "G", "esc", "backtab", "pgdn", "f5", "x"] {
            let c = Chord::parse(k).expect("parses");
            assert_eq!(Chord::from_event(&c.to_event()), Some(c), "{k}");
        }
    }
}
