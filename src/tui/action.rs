//! Actions: the verbs the keymap binds and `App::update` applies.

/// Where a binding applies. Resolution order (console spec section 4): confirm →
/// overlay → mode input → focused pane → view → global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Everywhere in NORMAL mode.
    Global,
    /// The Overview cards.
    Overview,
    /// The pool list pane.
    PoolList,
    /// The tail pane.
    Tail,
    /// The Log view.
    Log,
    /// The help overlay.
    Help,
    /// The protein detail overlay.
    Detail,
    /// FILTER mode input.
    Filter,
    /// COMMAND mode input.
    Command,
    /// FORM mode.
    Form,
    /// CONFIRM dialog.
    Confirm,
    /// Calls view: the target list.
    CallTargets,
    /// Calls view below 100 columns: the one-line target selector.
    CallTargetLine,
    /// Calls view: the command list.
    CallCommands,
    /// Calls view: the history.
    CallHistory,
    /// Calls view: the call form (FORM mode).
    CallForm,
    /// The Groups view.
    Groups,
    /// The Hive view's prefix browser.
    HiveKeys,
    /// The Hive view's value viewer.
    HiveValue,
}

impl Scope {
    /// Heading used in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Overview => "overview",
            Scope::PoolList => "pool list",
            Scope::Tail => "tail",
            Scope::Log => "log",
            Scope::Help => "help",
            Scope::Detail => "protein detail",
            Scope::Filter => "filter input",
            Scope::Command => "command line",
            Scope::Form => "form",
            Scope::Confirm => "confirm",
            Scope::CallTargets => "call targets",
            Scope::CallTargetLine => "call target selector (narrow)",
            Scope::CallCommands => "call commands",
            Scope::CallHistory => "call history",
            Scope::CallForm => "call form",
            Scope::Groups => "groups",
            Scope::HiveKeys => "hive keys",
            Scope::HiveValue => "hive value",
        }
    }
}

macro_rules! actions {
    ($($variant:ident = $name:literal, $scope:ident, $write:literal;)*) => {
        /// Everything a key can do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $(
                #[allow(missing_docs)]
                $variant,
            )*
        }

        impl Action {
            /// Every action.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// Stable name used in config overrides (`[keys] "ctrl-s" = "form.send"`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// The scope a config override of this action binds in.
            pub fn scope(self) -> Scope {
                match self {
                    $(Action::$variant => Scope::$scope,)*
                }
            }

            /// Whether the action writes (refused under `--readonly`).
            pub fn is_write(self) -> bool {
                match self {
                    $(Action::$variant => $write,)*
                }
            }

            /// Looks an action up by name.
            pub fn from_name(name: &str) -> Option<Action> {
                match name {
                    $($name => Some(Action::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

actions! {
    Quit = "app.quit", Global, false;
    Interrupt = "app.interrupt", Global, false;
    Help = "app.help", Global, false;
    CommandLine = "app.command", Global, false;
    Back = "app.back", Global, false;
    Redraw = "app.redraw", Global, false;
    Suspend = "app.suspend", Global, false;
    NextTab = "tab.next", Global, false;
    PrevTab = "tab.prev", Global, false;
    Tab1 = "tab.overview", Global, false;
    Tab2 = "tab.pools", Global, false;
    Tab3 = "tab.hive", Global, false;
    Tab4 = "tab.calls", Global, false;
    Tab5 = "tab.groups", Global, false;
    Tab6 = "tab.log", Global, false;
    Up = "list.up", Global, false;
    Down = "list.down", Global, false;
    Left = "pane.left", Global, false;
    Right = "pane.right", Global, false;
    Top = "list.top", Global, false;
    Bottom = "list.bottom", Global, false;
    HalfDown = "list.half_down", Global, false;
    HalfUp = "list.half_up", Global, false;
    PageDown = "list.page_down", Global, false;
    PageUp = "list.page_up", Global, false;
    Enter = "list.enter", Global, false;
    Filter = "view.filter", Global, false;
    Follow = "view.follow", Global, false;
    Deposit = "pools.deposit", Tail, true;
    CreatePool = "pools.create", PoolList, true;
    ResizePool = "pools.resize", PoolList, true;
    DisposePool = "pools.dispose", PoolList, true;
    Refresh = "pools.refresh", PoolList, false;
    DetailMode = "detail.mode", Detail, false;
    DetailPrev = "detail.prev", Detail, false;
    DetailNext = "detail.next", Detail, false;
    Wrap = "view.wrap", Detail, false;
    DetailSave = "detail.save", Detail, false;
    Close = "overlay.close", Detail, false;
    LevelUp = "log.level_up", Log, false;
    LevelDown = "log.level_down", Log, false;
    InputAccept = "input.accept", Filter, false;
    InputCancel = "input.cancel", Filter, false;
    Complete = "input.complete", Command, false;
    CompletePrev = "input.complete_prev", Command, false;
    HistoryPrev = "input.history_prev", Command, false;
    HistoryNext = "input.history_next", Command, false;
    FormNext = "form.next", Form, false;
    FormPrev = "form.prev", Form, false;
    FormSend = "form.send", Form, false;
    FormCancel = "form.cancel", Form, false;
    ConfirmYes = "confirm.yes", Confirm, false;
    ConfirmNo = "confirm.no", Confirm, false;
    ConfirmToggle = "confirm.toggle", Confirm, false;
    ConfirmActivate = "confirm.activate", Confirm, false;
    CallNew = "calls.new", CallCommands, false;
    CallRerun = "calls.rerun", CallHistory, false;
    CallEdit = "calls.edit", CallHistory, false;
    CallAbandon = "calls.abandon", CallHistory, false;
    CallWatch = "calls.watch", CallHistory, false;
    GroupJoin = "groups.join", Groups, true;
    GroupLeave = "groups.leave", Groups, true;
    GroupSend = "groups.send", Groups, true;
    GroupMessages = "groups.messages", Groups, false;
    HivePut = "hive.put", HiveKeys, true;
    HiveUpdate = "hive.update", HiveKeys, true;
    HiveDelete = "hive.delete", HiveKeys, true;
    HiveMode = "hive.mode", HiveValue, false;
    HiveMore = "hive.more", HiveKeys, false;
    HiveRefresh = "hive.refresh", HiveKeys, false;
    HiveSlices = "hive.slices", HiveValue, false;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(*a));
            assert!(seen.insert(a.name()), "duplicate {}", a.name());
        }
    }
}
