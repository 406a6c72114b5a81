//! The command line (console spec section 5.1): parsing, completion and history.

use crate::tui::theme;

/// Command names offered by completion, with their aliases folded in.
pub const NAMES: &[&str] = &[
    "quit", "q", "q!", "tab", "tail", "deposit", "create", "resize", "dispose", "pool", "theme",
    "filter", "help", "hive", "call", "rpc", "join", "leave", "send", "history",
];

/// Tab names for `:tab`.
pub const TABS: &[&str] = &["overview", "pools", "hive", "calls", "groups", "log"];

/// A parsed command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `:q`, `:quit`.
    Quit,
    /// `:q!`.
    ForceQuit,
    /// `:tab NAME`.
    Tab(usize),
    /// `:tail POOL`.
    Tail(String),
    /// `:deposit POOL`.
    Deposit(String),
    /// `:create POOL [SIZE]`.
    Create(String, Option<u64>),
    /// `:resize POOL SIZE`.
    Resize(String, u64),
    /// `:dispose POOL`.
    Dispose(String),
    /// `:theme NAME`.
    Theme(String),
    /// `:filter EXPR`.
    Filter(String),
    /// `:help`.
    Help,
    /// `:join GROUP`.
    Join(String),
    /// `:leave GROUP`.
    Leave(String),
    /// `:send GROUP TEXT` (AGREED service, UTF-8 payload).
    Send(String, String),
    /// A command whose engine is not built yet (`:hive`, `:call`, …).
    NotBuilt(&'static str),
    /// `:debug panic` (debug builds only), used by the tmux test.
    DebugPanic,
    /// `:history save [FILE]`: the call history as JSON lines.
    HistorySave(Option<String>),
    /// `:call TARGET COMMAND [k=v …]` / `:rpc TARGET PATH [JSON-ARGS]`: opens
    /// the Calls view's form prefilled.
    Call {
        /// Target name (or 1-based number).
        target: String,
        /// Command or method path.
        command: String,
        /// The rest of the line, as typed.
        args: String,
    },
}

/// A command-line error, with the offending word for underlining.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// Message.
    pub message: String,
    /// The offending word.
    pub word: String,
}

/// Parses sizes like `64M`, `1g`, `4096`, `10MiB`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Parses one command line (without the leading `:`).
pub fn parse(line: &str) -> Result<Command, ParseError> {
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return Err(ParseError {
            message: "empty command".into(),
            word: String::new(),
        });
    };
    let rest: Vec<&str> = words.collect();
    let need = |n: usize, usage: &str| -> Result<(), ParseError> {
        if rest.len() < n {
            Err(ParseError {
                message: format!("usage: :{usage}"),
                word: cmd.to_string(),
            })
        } else {
            Ok(())
        }
    };
    let size = |w: &str| -> Result<u64, ParseError> {
        parse_size(w).ok_or_else(|| ParseError {
            message: format!("bad size {w:?} (e.g. 64M)"),
            word: w.to_string(),
        })
    };
    Ok(match cmd {
        "q" | "quit" => Command::Quit,
        "q!" | "quit!" => Command::ForceQuit,
        "help" => Command::Help,
        "tab" => {
            need(1, "tab overview|pools|hive|calls|groups|log")?;
            let i = TABS
                .iter()
                .position(|t| t.starts_with(&rest[0].to_lowercase()))
                .ok_or_else(|| ParseError {
                    message: format!("unknown tab {:?}", rest[0]),
                    word: rest[0].to_string(),
                })?;
            Command::Tab(i)
        }
        "tail" => {
            need(1, "tail POOL")?;
            Command::Tail(rest[0].to_string())
        }
        "deposit" => {
            need(1, "deposit POOL")?;
            Command::Deposit(rest[0].to_string())
        }
        "create" => {
            need(1, "create POOL [SIZE]")?;
            let sz = rest.get(1).map(|w| size(w)).transpose()?;
            Command::Create(rest[0].to_string(), sz)
        }
        "resize" => {
            need(2, "resize POOL SIZE")?;
            Command::Resize(rest[0].to_string(), size(rest[1])?)
        }
        "dispose" => {
            need(1, "dispose POOL")?;
            Command::Dispose(rest[0].to_string())
        }
        "theme" => {
            need(1, "theme dark|light|high-contrast|mono")?;
            Command::Theme(rest[0].to_string())
        }
        "filter" => Command::Filter(rest.join(" ")),
        "pool" => Command::NotBuilt("remote pools (pool_tcp engine)"),
        "hive" => Command::NotBuilt("the hive engine"),
        "call" | "rpc" => {
            need(2, &format!("{cmd} TARGET COMMAND [ARGS]"))?;
            let args = line
                .splitn(4, char::is_whitespace)
                .nth(3)
                .unwrap_or("")
                .trim()
                .to_string();
            Command::Call {
                target: rest[0].to_string(),
                command: rest[1].to_string(),
                args,
            }
        }
        "join" => {
            need(1, "join GROUP")?;
            Command::Join(rest[0].to_string())
        }
        "leave" => {
            need(1, "leave GROUP")?;
            Command::Leave(rest[0].to_string())
        }
        "send" => {
            need(2, "send GROUP TEXT")?;
            Command::Send(rest[0].to_string(), rest[1..].join(" "))
        }
        "history" => match rest.as_slice() {
            ["save"] => Command::HistorySave(None),
            ["save", file] => Command::HistorySave(Some(file.to_string())),
            _ => {
                return Err(ParseError {
                    message: "usage: :history save [FILE]".into(),
                    word: cmd.to_string(),
                })
            }
        },
        "debug" if cfg!(debug_assertions) && rest.first() == Some(&"panic") => Command::DebugPanic,
        other => {
            return Err(ParseError {
                message: format!("unknown command {other:?}"),
                word: other.to_string(),
            })
        }
    })
}

/// Completion candidates for the word under the cursor (at the end of `line`).
/// Returns the candidates and the byte offset where the word starts.
pub fn complete(line: &str, pools: &[String]) -> (Vec<String>, usize) {
    let start = line.rfind(' ').map(|i| i + 1).unwrap_or(0);
    let word = &line[start..];
    let before: Vec<&str> = line[..start].split_whitespace().collect();
    let pool_refs: Vec<&str> = pools.iter().map(String::as_str).collect();
    let pool_cmds = ["tail", "deposit", "create", "resize", "dispose"];
    let pool: &[&str] = match before.as_slice() {
        [] => NAMES,
        [c] if pool_cmds.contains(c) => &pool_refs,
        ["theme"] => &theme::BUILTIN,
        ["tab"] => TABS,
        _ => &[],
    };
    let mut out: Vec<String> = pool
        .iter()
        .filter(|c| c.starts_with(word))
        .map(|c| c.to_string())
        .collect();
    out.dedup();
    (out, start)
}

/// Command-line history: last 500 lines, de-duplicated, prefix-restricted walk.
#[derive(Debug, Clone, Default)]
pub struct History {
    lines: Vec<String>,
    cursor: Option<usize>,
    prefix: String,
}

/// Lines kept.
pub const HISTORY_CAP: usize = 500;

impl History {
    /// History from saved lines (oldest first).
    pub fn from_lines(lines: impl IntoIterator<Item = String>) -> History {
        let mut h = History::default();
        for l in lines {
            h.push(&l);
        }
        h
    }

    /// The lines, oldest first.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Records a run line.
    pub fn push(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        self.lines.retain(|l| l != line);
        self.lines.push(line.to_string());
        if self.lines.len() > HISTORY_CAP {
            let extra = self.lines.len() - HISTORY_CAP;
            self.lines.drain(..extra);
        }
        self.reset();
    }

    /// Ends a walk.
    pub fn reset(&mut self) {
        self.cursor = None;
        self.prefix.clear();
    }

    /// Older entry matching the prefix typed before the walk began.
    pub fn prev(&mut self, typed: &str) -> Option<String> {
        if self.cursor.is_none() {
            self.prefix = typed.to_string();
        }
        let end = self.cursor.unwrap_or(self.lines.len());
        let i = self.lines[..end]
            .iter()
            .rposition(|l| l.starts_with(&self.prefix))?;
        self.cursor = Some(i);
        Some(self.lines[i].clone())
    }

    /// Newer entry, or the typed prefix when the walk runs off the end.
    pub fn newer(&mut self) -> Option<String> {
        let cur = self.cursor?;
        match self.lines[cur + 1..]
            .iter()
            .position(|l| l.starts_with(&self.prefix))
        {
            Some(off) => {
                self.cursor = Some(cur + 1 + off);
                Some(self.lines[cur + 1 + off].clone())
            }
            None => {
                let p = self.prefix.clone();
                self.reset();
                Some(p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_reports_the_bad_word() {
        assert_eq!(parse("q"), Ok(Command::Quit));
        assert_eq!(parse("tab lo"), Ok(Command::Tab(5)));
        assert_eq!(
            parse("create x 1M"),
            Ok(Command::Create("x".into(), Some(1 << 20)))
        );
        let e = parse("resize x lots").expect_err("bad size");
        assert_eq!(e.word, "lots");
        let e = parse("frobnicate").expect_err("unknown");
        assert_eq!(e.word, "frobnicate");
        assert!(matches!(parse("hive get k"), Ok(Command::NotBuilt(_))));
    }

    #[test]
    fn completion_is_context_aware() {
        let pools = vec!["demo".to_string(), "deep".to_string(), "x".to_string()];
        assert_eq!(complete("ta", &pools).0, vec!["tab", "tail"]);
        assert_eq!(
            complete("tail de", &pools),
            (vec!["demo".into(), "deep".into()], 5)
        );
        assert_eq!(complete("theme hi", &pools).0, vec!["high-contrast"]);
        assert!(complete("quit x", &pools).0.is_empty());
    }

    #[test]
    fn history_dedups_caps_and_walks_by_prefix() {
        let mut h = History::default();
        for l in ["tail a", "theme mono", "tail b", "tail a"] {
            h.push(l);
        }
        assert_eq!(h.lines(), ["theme mono", "tail b", "tail a"]);
        assert_eq!(h.prev("tail").as_deref(), Some("tail a"));
        assert_eq!(h.prev("ignored").as_deref(), Some("tail b"));
        assert_eq!(h.prev("x"), None);
        assert_eq!(h.newer().as_deref(), Some("tail a"));
        assert_eq!(h.newer().as_deref(), Some("tail"));
        for i in 0..600 {
            h.push(&format!("l{i}"));
        }
        assert_eq!(h.lines().len(), HISTORY_CAP);
    }
}
