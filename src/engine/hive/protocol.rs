//! The front door's command table (hive spec sections 8.1, 8.4, 8.5, 8.6), sans-IO.
//!
//! [`parse`] turns a request into an [`Action`]: an immediate reply, a close, or
//! a [`Call`] the I/O layer runs against the backend and formats with the helpers
//! here. Time is an argument; nothing here touches a socket or a clock.

use bytes::Bytes;

use super::codec::{Reply, Request};
use super::{CasOutcome, EntryMeta, ErrorCode, Expiry, HiveError, HiveStats};

/// Per-connection protocol state.
#[derive(Debug, Clone)]
pub struct Session {
    /// 2 or 3 (`HELLO`).
    pub proto: u8,
    /// `CLIENT SETNAME`.
    pub name: Option<String>,
    /// `CLIENT ID`.
    pub id: u64,
    /// Whether `AUTH` succeeded (or no password is set).
    pub authed: bool,
    /// `CLIENT SETINFO LIB-NAME`.
    pub lib_name: Option<String>,
    /// `CLIENT SETINFO LIB-VER`.
    pub lib_ver: Option<String>,
    /// Whether the server has `requirepass` set.
    pub needs_auth: bool,
}

impl Session {
    /// A new connection; `needs_auth` when `requirepass` is set.
    pub fn new(id: u64, needs_auth: bool) -> Self {
        Self {
            proto: 2,
            name: None,
            id,
            authed: !needs_auth,
            lib_name: None,
            lib_ver: None,
            needs_auth,
        }
    }
}

/// What the connection must do with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this reply.
    Reply(Reply),
    /// Send the reply (if any), then close.
    Close(Option<Reply>),
    /// Run this against the backend.
    Call(Call),
    /// Check the password (the I/O layer holds it).
    Auth(Bytes),
    /// `RESET`: reply `+RESET` and drop the connection's SCAN cursors.
    Reset,
}

/// `SET` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetCond {
    /// No condition: update.
    Always,
    /// `NX`: put.
    Nx,
    /// `XX`: replace only.
    Xx,
}

/// Time unit of `TTL`-family replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Seconds.
    S,
    /// Milliseconds.
    Ms,
}

/// A command that needs the backend.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Call {
    Get(Bytes),
    Set {
        alias: Bytes,
        content: Bytes,
        cond: SetCond,
        get: bool,
        expiry: Expiry,
    },
    GetDel(Bytes),
    GetRange(Bytes, i64, i64),
    Strlen(Bytes),
    Del(Vec<Bytes>),
    Exists(Vec<Bytes>),
    Type(Bytes),
    /// Absolute deadline in ms; at or before now deletes.
    Expire(Bytes, i64),
    Persist(Bytes),
    /// TTL family: `absolute` for EXPIRETIME.
    Ttl {
        alias: Bytes,
        unit: Unit,
        absolute: bool,
    },
    Scan {
        cursor: u64,
        pattern: Option<Bytes>,
        count: usize,
    },
    DbSize,
    Info(Vec<String>),
    ConfigGet(Vec<String>),
    ConfigSet(Vec<(String, String)>),
    ConfigResetStat,
    Hive(HiveCall),
}

/// A native `HIVE.*` command (section 8.5).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum HiveCall {
    Put(Bytes, Bytes, Expiry),
    Update(Bytes, Bytes, Expiry),
    Get(Bytes),
    Delete(Bytes),
    GetUpdate(Bytes, Bytes, Expiry),
    GetRemove(Bytes),
    Cas(Bytes, Bytes, Bytes, Expiry),
    RemoveIf(Bytes, Bytes),
    ExpireAt(Bytes, Expiry),
    ExpiresIn(Bytes, u64),
    GetExpiry(Bytes),
    Meta(Bytes),
    Prefix {
        prefix: Bytes,
        cursor: Bytes,
        count: usize,
        meta: bool,
    },
}

impl Call {
    /// Whether the call only writes (can be pipelined to the writer without
    /// waiting for earlier replies, because the writer keeps arrival order).
    pub fn is_plain_write(&self) -> bool {
        matches!(
            self,
            Call::Set {
                get: false,
                cond: SetCond::Always,
                ..
            } | Call::Hive(HiveCall::Update(..))
        )
    }
}

/// `(name, arity, flags, first key, last key, step)`, Redis's `COMMAND` shape.
pub type CommandSpec = (&'static str, i64, &'static [&'static str], i64, i64, i64);

/// The command table.
pub const COMMANDS: &[CommandSpec] = &[
    ("ping", -1, &["fast"], 0, 0, 0),
    ("echo", 2, &["fast"], 0, 0, 0),
    ("set", -3, &["write", "denyoom"], 1, 1, 1),
    ("get", 2, &["readonly", "fast"], 1, 1, 1),
    ("getset", 3, &["write", "denyoom", "fast"], 1, 1, 1),
    ("getdel", 2, &["write", "fast"], 1, 1, 1),
    ("getrange", 4, &["readonly"], 1, 1, 1),
    ("strlen", 2, &["readonly", "fast"], 1, 1, 1),
    ("del", -2, &["write"], 1, -1, 1),
    ("exists", -2, &["readonly", "fast"], 1, -1, 1),
    ("type", 2, &["readonly", "fast"], 1, 1, 1),
    ("expire", -3, &["write", "fast"], 1, 1, 1),
    ("pexpire", -3, &["write", "fast"], 1, 1, 1),
    ("expireat", -3, &["write", "fast"], 1, 1, 1),
    ("pexpireat", -3, &["write", "fast"], 1, 1, 1),
    ("persist", 2, &["write", "fast"], 1, 1, 1),
    ("ttl", 2, &["readonly", "fast"], 1, 1, 1),
    ("pttl", 2, &["readonly", "fast"], 1, 1, 1),
    ("expiretime", 2, &["readonly", "fast"], 1, 1, 1),
    ("pexpiretime", 2, &["readonly", "fast"], 1, 1, 1),
    ("scan", -2, &["readonly"], 0, 0, 0),
    ("dbsize", 1, &["readonly", "fast"], 0, 0, 0),
    ("info", -1, &["loading", "stale"], 0, 0, 0),
    ("config", -2, &[], 0, 0, 0),
    ("client", -2, &[], 0, 0, 0),
    ("command", -1, &["loading", "stale"], 0, 0, 0),
    ("hello", -1, &["noauth", "fast"], 0, 0, 0),
    ("select", 2, &["loading", "stale", "fast"], 0, 0, 0),
    ("quit", -1, &["noauth", "fast"], 0, 0, 0),
    ("reset", 1, &["noauth", "fast"], 0, 0, 0),
    ("auth", -2, &["noauth", "fast"], 0, 0, 0),
    ("hive.put", -3, &["write", "denyoom"], 1, 1, 1),
    ("hive.update", -3, &["write", "denyoom"], 1, 1, 1),
    ("hive.get", 2, &["readonly", "fast"], 1, 1, 1),
    ("hive.delete", 2, &["write", "fast"], 1, 1, 1),
    ("hive.getupdate", -3, &["write", "denyoom"], 1, 1, 1),
    ("hive.getremove", 2, &["write", "fast"], 1, 1, 1),
    ("hive.cas", -4, &["write", "denyoom"], 1, 1, 1),
    ("hive.removeif", 3, &["write"], 1, 1, 1),
    ("hive.expireat", 3, &["write", "fast"], 1, 1, 1),
    ("hive.expiresin", 3, &["write", "fast"], 1, 1, 1),
    ("hive.getexpiry", 2, &["readonly", "fast"], 1, 1, 1),
    ("hive.meta", 2, &["readonly", "fast"], 1, 1, 1),
    ("hive.prefix", -3, &["readonly"], 0, 0, 0),
    ("hive.errstr", 2, &["fast"], 0, 0, 0),
];

/// The table entry of a command name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|c| c.0.len() == name.len() && c.0.as_bytes().eq_ignore_ascii_case(name))
}

/// Redis's unknown-command text: each quoted argument followed by one space.
pub fn unknown_command(args: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&args[0]);
    let name: String = name.chars().take(128).collect();
    let mut rest = String::new();
    for a in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        let s = String::from_utf8_lossy(a);
        let s: String = s.chars().take(room).collect();
        rest.push_str(&format!("'{s}' "));
    }
    Reply::err(format!(
        "unknown command '{name}', with args beginning with: {rest}"
    ))
}

fn arity_error(name: &str) -> Reply {
    Reply::err(format!("wrong number of arguments for '{name}' command"))
}

fn not_integer() -> Reply {
    Reply::err("value is not an integer or out of range")
}

fn syntax() -> Reply {
    Reply::err("syntax error")
}

/// Parses an integer argument the way Redis does (no spaces, no `+`).
pub fn int_arg(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 || b[0] == b'+' {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether the first word marks an HTTP request sent to the port.
pub fn is_http(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

/// Maps a request to an action. `now_ms` converts relative expiries.
pub fn parse(req: &Request, session: &mut Session, now_ms: u64) -> Action {
    let args = &req.args;
    let Some(first) = args.first() else {
        return Action::Reply(Reply::err("empty command"));
    };
    if is_http(first) {
        return Action::Close(None);
    }
    let Some(entry) = lookup(first) else {
        if !session.authed {
            return Action::Reply(Reply::Error("NOAUTH Authentication required.".into()));
        }
        return Action::Reply(unknown_command(args));
    };
    let name = entry.0;
    let arity = entry.1;
    let n = args.len() as i64;
    if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
        return Action::Reply(arity_error(name));
    }
    if !session.authed && !matches!(name, "auth" | "quit" | "hello" | "reset") {
        return Action::Reply(Reply::Error("NOAUTH Authentication required.".into()));
    }
    let a = |i: usize| args[i].clone();
    match name {
        "ping" => match args.len() {
            1 => Action::Reply(Reply::Simple("PONG".into())),
            2 => Action::Reply(Reply::Bulk(a(1))),
            _ => Action::Reply(arity_error("ping")),
        },
        "echo" => Action::Reply(Reply::Bulk(a(1))),
        "quit" => Action::Close(Some(Reply::ok())),
        "reset" => {
            // as Redis: back to the default user, unauthenticated if it has a password
            *session = Session::new(session.id, session.needs_auth);
            Action::Reset
        }
        "auth" => match args.len() {
            2 => Action::Auth(a(1)),
            // AUTH user pass: only the default user exists
            3 if args[1].as_ref() == b"default" => Action::Auth(a(2)),
            3 => Action::Reply(Reply::Error(
                "WRONGPASS invalid username-password pair or user is disabled.".into(),
            )),
            _ => Action::Reply(syntax()),
        },
        "select" => match int_arg(&args[1]) {
            Some(0) => Action::Reply(Reply::ok()),
            Some(_) => Action::Reply(Reply::err("DB index is out of range")),
            None => Action::Reply(not_integer()),
        },
        "hello" => hello(args, session),
        "client" => client(args, session),
        "command" => command(args),
        "get" => Action::Call(Call::Get(a(1))),
        "set" => set(args, now_ms),
        "getset" => Action::Call(Call::Set {
            alias: a(1),
            content: a(2),
            cond: SetCond::Always,
            get: true,
            expiry: Expiry::Never,
        }),
        "getdel" => Action::Call(Call::GetDel(a(1))),
        "getrange" => match (int_arg(&args[2]), int_arg(&args[3])) {
            (Some(s), Some(e)) => Action::Call(Call::GetRange(a(1), s, e)),
            _ => Action::Reply(not_integer()),
        },
        "strlen" => Action::Call(Call::Strlen(a(1))),
        "del" => Action::Call(Call::Del(args[1..].to_vec())),
        "exists" => Action::Call(Call::Exists(args[1..].to_vec())),
        "type" => Action::Call(Call::Type(a(1))),
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            if args.len() > 3 {
                // NX/XX/GT/LT are Redis 7 options the hive does not offer
                return Action::Reply(HiveError::code(ErrorCode::NotImplemented).into_reply());
            }
            let Some(v) = int_arg(&args[2]) else {
                return Action::Reply(not_integer());
            };
            let scale = if name.starts_with('p') { 1 } else { 1000 };
            let Some(v) = v.checked_mul(scale) else {
                return Action::Reply(Reply::err(format!(
                    "invalid expire time in '{name}' command"
                )));
            };
            let at = if name.ends_with("at") {
                v
            } else {
                (now_ms as i64).saturating_add(v)
            };
            Action::Call(Call::Expire(a(1), at))
        }
        "persist" => Action::Call(Call::Persist(a(1))),
        "ttl" | "pttl" | "expiretime" | "pexpiretime" => Action::Call(Call::Ttl {
            alias: a(1),
            unit: if name.starts_with('p') {
                Unit::Ms
            } else {
                Unit::S
            },
            absolute: name.ends_with("time"),
        }),
        "scan" => scan(args),
        "dbsize" => Action::Call(Call::DbSize),
        "info" => Action::Call(Call::Info(args[1..].iter().map(|s| lower(s)).collect())),
        "config" => config(args),
        n if n.starts_with("hive.") => hive(n, args, now_ms),
        _ => Action::Reply(unknown_command(args)),
    }
}

fn set(args: &[Bytes], now_ms: u64) -> Action {
    let mut cond = SetCond::Always;
    let mut get = false;
    let mut expiry = Expiry::Never;
    let mut have_expiry = false;
    let mut i = 3;
    while i < args.len() {
        let opt = lower(&args[i]);
        match opt.as_str() {
            "nx" if cond == SetCond::Always => cond = SetCond::Nx,
            "xx" if cond == SetCond::Always => cond = SetCond::Xx,
            "get" => get = true,
            "keepttl" if !have_expiry => {
                have_expiry = true;
                expiry = Expiry::Keep;
            }
            "ex" | "px" | "exat" | "pxat" if !have_expiry => {
                have_expiry = true;
                let Some(v) = args.get(i + 1) else {
                    return Action::Reply(syntax());
                };
                let Some(v) = int_arg(v) else {
                    return Action::Reply(not_integer());
                };
                let ms = if opt.starts_with('p') {
                    Some(v)
                } else {
                    v.checked_mul(1000)
                };
                let ms = match ms {
                    Some(ms) if v > 0 => ms,
                    _ => return Action::Reply(Reply::err("invalid expire time in 'set' command")),
                };
                let at = if opt.ends_with("at") {
                    ms
                } else {
                    (now_ms as i64).saturating_add(ms)
                };
                expiry = Expiry::At(at as u64);
                i += 1;
            }
            "ifeq" => {
                return Action::Reply(HiveError::code(ErrorCode::NotImplemented).into_reply())
            }
            _ => return Action::Reply(syntax()),
        }
        i += 1;
    }
    Action::Call(Call::Set {
        alias: args[1].clone(),
        content: args[2].clone(),
        cond,
        get,
        expiry,
    })
}

fn scan(args: &[Bytes]) -> Action {
    let Some(cursor) = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return Action::Reply(Reply::err("invalid cursor"));
    };
    let mut pattern = None;
    let mut count = 10usize;
    let mut i = 2;
    while i < args.len() {
        let opt = lower(&args[i]);
        let Some(v) = args.get(i + 1) else {
            return Action::Reply(syntax());
        };
        match opt.as_str() {
            "match" => pattern = Some(v.clone()),
            "count" => match int_arg(v) {
                Some(n) if n >= 1 => count = (n as usize).min(100_000),
                Some(_) => return Action::Reply(syntax()),
                None => return Action::Reply(not_integer()),
            },
            "type" => {
                if !v.eq_ignore_ascii_case(b"string") {
                    // only strings exist: any other type lists nothing
                    return Action::Reply(Reply::Array(vec![
                        Reply::text("0"),
                        Reply::Array(vec![]),
                    ]));
                }
            }
            _ => return Action::Reply(syntax()),
        }
        i += 2;
    }
    Action::Call(Call::Scan {
        cursor,
        pattern,
        count,
    })
}

fn config(args: &[Bytes]) -> Action {
    let sub = lower(&args[1]);
    match sub.as_str() {
        "get" if args.len() >= 3 => Action::Call(Call::ConfigGet(
            args[2..].iter().map(|s| lower(s)).collect(),
        )),
        "set" if args.len() >= 4 && args.len().is_multiple_of(2) => Action::Call(Call::ConfigSet(
            args[2..]
                .chunks(2)
                .map(|p| (lower(&p[0]), text(&p[1])))
                .collect(),
        )),
        "resetstat" if args.len() == 2 => Action::Call(Call::ConfigResetStat),
        "get" | "set" | "resetstat" => Action::Reply(arity_error(&format!("config|{sub}"))),
        _ => Action::Reply(Reply::err(format!(
            "unknown subcommand '{}'. Try CONFIG HELP.",
            text(&args[1])
        ))),
    }
}

fn valid_client_name(n: &[u8]) -> bool {
    n.iter().all(|c| (b'!'..=b'~').contains(c))
}

fn client(args: &[Bytes], session: &mut Session) -> Action {
    let sub = lower(&args[1]);
    match (sub.as_str(), args.len()) {
        ("setname", 3) => {
            if !valid_client_name(&args[2]) {
                return Action::Reply(Reply::err(
                    "Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            session.name = (!args[2].is_empty()).then(|| text(&args[2]));
            Action::Reply(Reply::ok())
        }
        ("getname", 2) => Action::Reply(match &session.name {
            Some(n) => Reply::text(n.clone()),
            None => Reply::Nil,
        }),
        ("id", 2) => Action::Reply(Reply::Int(session.id as i64)),
        ("setinfo", 4) => {
            let attr = lower(&args[2]);
            let v = text(&args[3]);
            match attr.as_str() {
                "lib-name" => session.lib_name = Some(v),
                "lib-ver" => session.lib_ver = Some(v),
                _ => {
                    return Action::Reply(Reply::err(format!(
                        "Unrecognized option '{}'",
                        text(&args[2])
                    )))
                }
            }
            Action::Reply(Reply::ok())
        }
        ("info", 2) | ("list", _) => Action::Reply(Reply::text(client_line(session))),
        ("setname" | "getname" | "id" | "setinfo" | "info", _) => {
            Action::Reply(arity_error(&format!("client|{sub}")))
        }
        _ => Action::Reply(Reply::err(format!(
            "unknown subcommand '{}'. Try CLIENT HELP.",
            text(&args[1])
        ))),
    }
}

/// The `CLIENT INFO` line of a session.
pub fn client_line(s: &Session) -> String {
    format!(
        "id={} name={} db=0 resp={} lib-name={} lib-ver={}\n",
        s.id,
        s.name.as_deref().unwrap_or(""),
        s.proto,
        s.lib_name.as_deref().unwrap_or(""),
        s.lib_ver.as_deref().unwrap_or("")
    )
}

fn hello(args: &[Bytes], session: &mut Session) -> Action {
    let mut proto = session.proto;
    let mut i = 1;
    if let Some(v) = args.get(1) {
        match int_arg(v) {
            Some(p @ (2 | 3)) => proto = p as u8,
            Some(_) => {
                return Action::Reply(Reply::Error("NOPROTO unsupported protocol version".into()))
            }
            None => {
                return Action::Reply(Reply::err(
                    "Protocol version is not an integer or out of range",
                ))
            }
        }
        i = 2;
    }
    let mut name = None;
    while i < args.len() {
        match lower(&args[i]).as_str() {
            "auth" => {
                return Action::Reply(HiveError::new(ErrorCode::InvalidOption, "auth").into_reply())
            }
            "setname" if i + 1 < args.len() => {
                if !valid_client_name(&args[i + 1]) {
                    return Action::Reply(Reply::err(
                        "Client names cannot contain spaces, newlines or special characters.",
                    ));
                }
                name = Some(text(&args[i + 1]));
                i += 2;
            }
            _ => return Action::Reply(syntax()),
        }
    }
    if !session.authed {
        return Action::Reply(Reply::Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into()));
    }
    session.proto = proto;
    if name.is_some() {
        session.name = name;
    }
    Action::Reply(Reply::Map(vec![
        (Reply::text("server"), Reply::text("hive")),
        (Reply::text("version"), Reply::text("7.0.0")),
        (Reply::text("proto"), Reply::Int(i64::from(proto))),
        (Reply::text("id"), Reply::Int(session.id as i64)),
        (Reply::text("mode"), Reply::text("standalone")),
        (Reply::text("role"), Reply::text("master")),
        (Reply::text("modules"), Reply::Array(vec![])),
    ]))
}

fn command_entry(c: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::text(c.0),
        Reply::Int(c.1),
        Reply::Array(c.2.iter().map(|f| Reply::Simple((*f).into())).collect()),
        Reply::Int(c.3),
        Reply::Int(c.4),
        Reply::Int(c.5),
    ])
}

fn command(args: &[Bytes]) -> Action {
    let Some(sub) = args.get(1).map(|s| lower(s)) else {
        return Action::Reply(Reply::Array(COMMANDS.iter().map(command_entry).collect()));
    };
    match sub.as_str() {
        "count" => Action::Reply(Reply::Int(COMMANDS.len() as i64)),
        "docs" => Action::Reply(Reply::Map(vec![])),
        "info" => Action::Reply(Reply::Array(
            args[2..]
                .iter()
                .map(|n| {
                    let n = lower(n);
                    COMMANDS
                        .iter()
                        .find(|c| c.0 == n)
                        .map(command_entry)
                        .unwrap_or(Reply::Nil)
                })
                .collect(),
        )),
        _ => Action::Reply(Reply::err(format!(
            "unknown subcommand '{}'. Try COMMAND HELP.",
            text(&args[1])
        ))),
    }
}

/// `[PX ms | PXAT ms]` at `args[from..]`.
fn hive_expiry(args: &[Bytes], from: usize, now_ms: u64) -> Result<Expiry, Reply> {
    match args.len() - from {
        0 => Ok(Expiry::Never),
        2 => {
            let opt = lower(&args[from]);
            let v = int_arg(&args[from + 1])
                .filter(|v| *v >= 0)
                .ok_or_else(|| {
                    HiveError::new(
                        ErrorCode::InvalidArgument,
                        "expiry is not a non-negative integer",
                    )
                    .into_reply()
                })? as u64;
            match opt.as_str() {
                "px" => Ok(Expiry::At(now_ms.saturating_add(v))),
                "pxat" => Ok(Expiry::from_ms(v)),
                _ => Err(syntax()),
            }
        }
        _ => Err(syntax()),
    }
}

fn hive(name: &str, args: &[Bytes], now_ms: u64) -> Action {
    let a = |i: usize| args[i].clone();
    let with_expiry =
        |from: usize, f: &dyn Fn(Expiry) -> HiveCall| match hive_expiry(args, from, now_ms) {
            Ok(e) => Action::Call(Call::Hive(f(e))),
            Err(r) => Action::Reply(r),
        };
    match name {
        "hive.put" => with_expiry(3, &|e| HiveCall::Put(a(1), a(2), e)),
        "hive.update" => with_expiry(3, &|e| HiveCall::Update(a(1), a(2), e)),
        "hive.getupdate" => with_expiry(3, &|e| HiveCall::GetUpdate(a(1), a(2), e)),
        "hive.cas" => with_expiry(4, &|e| HiveCall::Cas(a(1), a(2), a(3), e)),
        "hive.get" => Action::Call(Call::Hive(HiveCall::Get(a(1)))),
        "hive.delete" => Action::Call(Call::Hive(HiveCall::Delete(a(1)))),
        "hive.getremove" => Action::Call(Call::Hive(HiveCall::GetRemove(a(1)))),
        "hive.removeif" => Action::Call(Call::Hive(HiveCall::RemoveIf(a(1), a(2)))),
        "hive.getexpiry" => Action::Call(Call::Hive(HiveCall::GetExpiry(a(1)))),
        "hive.meta" => Action::Call(Call::Hive(HiveCall::Meta(a(1)))),
        "hive.expireat" | "hive.expiresin" => match int_arg(&args[2]).filter(|v| *v >= 0) {
            Some(v) if name == "hive.expireat" => Action::Call(Call::Hive(HiveCall::ExpireAt(
                a(1),
                Expiry::from_ms(v as u64),
            ))),
            Some(v) => Action::Call(Call::Hive(HiveCall::ExpiresIn(a(1), v as u64))),
            None => Action::Reply(
                HiveError::new(
                    ErrorCode::InvalidArgument,
                    "expiry is not a non-negative integer",
                )
                .into_reply(),
            ),
        },
        "hive.prefix" => {
            let mut count = 500usize;
            let mut meta = false;
            let mut i = 3;
            while i < args.len() {
                match lower(&args[i]).as_str() {
                    "meta" => meta = true,
                    "count" if i + 1 < args.len() => {
                        match int_arg(&args[i + 1]) {
                            Some(n) if n >= 1 => count = (n as usize).min(100_000),
                            _ => {
                                return Action::Reply(
                                    HiveError::new(ErrorCode::InvalidArgument, "bad COUNT")
                                        .into_reply(),
                                )
                            }
                        }
                        i += 1;
                    }
                    _ => return Action::Reply(syntax()),
                }
                i += 1;
            }
            Action::Call(Call::Hive(HiveCall::Prefix {
                prefix: a(1),
                cursor: a(2),
                count,
                meta,
            }))
        }
        "hive.errstr" => match int_arg(&args[1])
            .and_then(|n| u32::try_from(n).ok())
            .and_then(ErrorCode::from_u32)
        {
            Some(c) => Action::Reply(Reply::Array(vec![
                Reply::text(c.as_str()),
                Reply::text(c.message()),
            ])),
            None => Action::Reply(
                HiveError::new(ErrorCode::InvalidArgument, "unknown code").into_reply(),
            ),
        },
        _ => Action::Reply(HiveError::code(ErrorCode::InvalidCommand).into_reply()),
    }
}

impl HiveError {
    /// `-ERR <name>[ detail]` (section 3).
    pub fn into_reply(self) -> Reply {
        Reply::Error(self.resp_text())
    }
}

/// Formats `HIVE.CAS`'s array reply.
pub fn cas_reply(o: CasOutcome) -> Reply {
    match o {
        CasOutcome::Swapped { previous } => {
            Reply::Array(vec![Reply::Int(0), Reply::Bulk(previous)])
        }
        CasOutcome::Unmatched { current } => Reply::Array(vec![
            Reply::Int(ErrorCode::UnmatchedContent as i64),
            Reply::Bulk(current),
        ]),
    }
}

/// Formats `HIVE.META`.
pub fn meta_reply(m: &EntryMeta) -> Reply {
    Reply::Map(vec![
        (Reply::text("size"), Reply::Int(m.size as i64)),
        (
            Reply::text("expiry_ms"),
            Reply::Int(m.expiry.as_ms() as i64),
        ),
        (
            Reply::text("resident"),
            Reply::Int(match m.resident {
                Some(true) => 1,
                Some(false) => 0,
                None => -1,
            }),
        ),
    ])
}

/// `GETRANGE` slicing with Redis's negative-index rules.
pub fn slice_range(content: &Bytes, start: i64, end: i64) -> Bytes {
    let len = content.len() as i64;
    if len == 0 {
        return Bytes::new();
    }
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (s, e) = (norm(start), norm(end).min(len - 1));
    if (start < 0 && end < 0 && start > end) || s > e {
        return Bytes::new();
    }
    content.slice(s as usize..=e as usize)
}

/// Redis's `stringmatch`: `*`, `?`, `[…]` with ranges and `^`, `\` escapes.
pub fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    fn go(p: &[u8], s: &[u8], depth: u32) -> bool {
        if depth > 64 {
            return false;
        }
        let (mut pi, mut si) = (0, 0);
        while pi < p.len() {
            match p[pi] {
                b'*' => {
                    while pi + 1 < p.len() && p[pi + 1] == b'*' {
                        pi += 1;
                    }
                    if pi + 1 == p.len() {
                        return true;
                    }
                    for k in si..=s.len() {
                        if go(&p[pi + 1..], &s[k..], depth + 1) {
                            return true;
                        }
                    }
                    return false;
                }
                b'?' => {
                    if si >= s.len() {
                        return false;
                    }
                    si += 1;
                }
                b'[' => {
                    if si >= s.len() {
                        return false;
                    }
                    pi += 1;
                    let not = p.get(pi) == Some(&b'^');
                    if not {
                        pi += 1;
                    }
                    let mut hit = false;
                    while pi < p.len() && p[pi] != b']' {
                        if p[pi] == b'\\' && pi + 1 < p.len() {
                            pi += 1;
                            hit |= p[pi] == s[si];
                        } else if pi + 2 < p.len() && p[pi + 1] == b'-' {
                            let (lo, hi) = (p[pi].min(p[pi + 2]), p[pi].max(p[pi + 2]));
                            hit |= (lo..=hi).contains(&s[si]);
                            pi += 2;
                        } else {
                            hit |= p[pi] == s[si];
                        }
                        pi += 1;
                    }
                    if hit == not {
                        return false;
                    }
                    si += 1;
                }
                b'\\' if pi + 1 < p.len() => {
                    pi += 1;
                    if si >= s.len() || p[pi] != s[si] {
                        return false;
                    }
                    si += 1;
                }
                c => {
                    if si >= s.len() || c != s[si] {
                        return false;
                    }
                    si += 1;
                }
            }
            pi += 1;
        }
        si == s.len()
    }
    go(pat, s, 0)
}

/// If `pat` is `literal*` (with `\` escapes), the literal prefix.
pub fn literal_prefix(pat: &[u8]) -> Option<Vec<u8>> {
    let (body, last) = pat.split_at(pat.len().checked_sub(1)?);
    if last != b"*" {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\\' if i + 1 < body.len() => {
                out.push(body[i + 1]);
                i += 2;
            }
            // a trailing lone backslash would escape the star
            b'\\' => return None,
            b'*' | b'?' | b'[' | b']' => return None,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Escapes glob characters so `prefix` matches literally (section 7.3 step 4).
pub fn escape_glob(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 1);
    for &b in prefix {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// Server facts for `INFO` besides the backend's stats.
#[derive(Debug, Clone, Default)]
pub struct ServerFacts {
    /// Listen port.
    pub tcp_port: u16,
    /// The server's process id.
    pub process_id: u32,
    /// Seconds since start.
    pub uptime_s: u64,
    /// Open connections.
    pub connected_clients: u64,
    /// `--max-clients`.
    pub max_clients: u64,
    /// Connections accepted.
    pub total_connections: u64,
    /// Commands run.
    pub total_commands: u64,
    /// Commands per second over the last second.
    pub ops_per_sec: u64,
    /// Connections refused at the cap.
    pub rejected_connections: u64,
    /// Resident memory of the process, bytes.
    pub rss_bytes: u64,
    /// `(name, calls, usec, rejected, failed)` per command.
    pub commandstats: Vec<(String, u64, u64, u64, u64)>,
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

/// The `INFO` text (section 8.6) for the requested sections.
pub fn info_text(sections: &[String], st: &HiveStats, f: &ServerFacts) -> String {
    let all = sections.iter().any(|s| s == "all" || s == "everything");
    let default = sections.is_empty() || sections.iter().any(|s| s == "default");
    let want = |s: &str| all || default || sections.iter().any(|x| x == s);
    let mut out = String::new();
    let mut section = |title: &str, lines: Vec<String>| {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        out.push_str("# ");
        out.push_str(title);
        out.push_str("\r\n");
        for l in lines {
            out.push_str(&l);
            out.push_str("\r\n");
        }
    };
    if want("server") {
        section(
            "Server",
            vec![
                "redis_version:7.0.0".into(),
                format!("hive_version:{}", env!("CARGO_PKG_VERSION")),
                "redis_mode:standalone".into(),
                format!("os:{} {}", std::env::consts::OS, std::env::consts::ARCH),
                format!("arch_bits:{}", usize::BITS),
                format!("process_id:{}", f.process_id),
                format!("tcp_port:{}", f.tcp_port),
                format!("uptime_in_seconds:{}", f.uptime_s),
                format!("uptime_in_days:{}", f.uptime_s / 86_400),
            ],
        );
    }
    if want("clients") {
        section(
            "Clients",
            vec![
                format!("connected_clients:{}", f.connected_clients),
                "blocked_clients:0".into(),
                format!("maxclients:{}", f.max_clients),
            ],
        );
    }
    if want("memory") {
        section(
            "Memory",
            vec![
                format!("used_memory:{}", st.limiter_resident_bytes),
                format!("used_memory_human:{}", human(st.limiter_resident_bytes)),
                format!("used_memory_rss:{}", f.rss_bytes),
                "maxmemory:0".into(),
                "maxmemory_policy:noeviction".into(),
            ],
        );
    }
    if want("stats") {
        section(
            "Stats",
            vec![
                format!("total_connections_received:{}", f.total_connections),
                format!("total_commands_processed:{}", f.total_commands),
                format!("instantaneous_ops_per_sec:{}", f.ops_per_sec),
                format!("keyspace_hits:{}", st.keyspace_hits),
                format!("keyspace_misses:{}", st.keyspace_misses),
                format!("expired_keys:{}", st.expiry_swept),
                "evicted_keys:0".into(),
                format!("rejected_connections:{}", f.rejected_connections),
            ],
        );
    }
    if want("keyspace") {
        let lines = if st.live_entries > 0 {
            vec![format!(
                "db0:keys={},expires={},avg_ttl=0",
                st.live_entries, st.entries_with_expiry
            )]
        } else {
            vec![]
        };
        section("Keyspace", lines);
    }
    if want("hive") {
        let mut lines = vec![
            format!("backend:{}", st.backend),
            format!("durability:{}", st.durability),
            format!("root:{}", st.root),
            format!("db_file_bytes:{}", st.db_file_bytes),
            format!("limiter_max_bytes:{}", st.limiter_max_bytes),
            format!("limiter_max_entries_count:{}", st.limiter_max_entries_count),
            format!("limiter_resident_bytes:{}", st.limiter_resident_bytes),
            format!("limiter_resident_entries:{}", st.limiter_resident_entries),
            format!("limiter_evictions:{}", st.limiter_evictions),
            format!("cache_hits:{}", st.cache_hits),
            format!("cache_misses:{}", st.cache_misses),
            format!("group_commit_batches:{}", st.group_commit_batches),
            format!("group_commit_ops:{}", st.group_commit_ops),
            format!(
                "group_commit_last_batch_ops:{}",
                st.group_commit_last_batch_ops
            ),
            format!("group_commit_p50_us:{}", st.group_commit_p50_us),
            format!("group_commit_p99_us:{}", st.group_commit_p99_us),
            format!("writer_queue_depth:{}", st.writer_queue_depth),
            format!("expiry_swept:{}", st.expiry_swept),
        ];
        if st.backend == "redis" {
            lines.push(format!("redis_nodes:{}", st.redis_nodes));
            lines.push(format!("redis_cluster_state:{}", st.redis_cluster_state));
        }
        section("Hive", lines);
    }
    if all || sections.iter().any(|s| s == "commandstats") {
        section(
            "Commandstats",
            f.commandstats
                .iter()
                .map(|(n, calls, usec, rej, failed)| {
                    let per = if *calls > 0 {
                        *usec as f64 / *calls as f64
                    } else {
                        0.0
                    };
                    format!(
                        "cmdstat_{n}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rej},failed_calls={failed}"
                    )
                })
                .collect(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(words: &[&str]) -> Request {
        Request {
            args: words.iter().map(|w| Bytes::from(w.to_string())).collect(),
            inline: false,
        }
    }

    fn run(words: &[&str]) -> Action {
        parse(&req(words), &mut Session::new(1, false), 1_000)
    }

    #[test]
    fn redis_error_texts() {
        assert_eq!(
            run(&["foo", "bar"]),
            Action::Reply(Reply::Error(
                "ERR unknown command 'foo', with args beginning with: 'bar' ".into()
            ))
        );
        assert_eq!(
            run(&["GET"]),
            Action::Reply(Reply::Error(
                "ERR wrong number of arguments for 'get' command".into()
            ))
        );
        assert_eq!(
            run(&["set", "a", "b", "NX", "XX"]),
            Action::Reply(Reply::Error("ERR syntax error".into()))
        );
        assert_eq!(
            run(&["set", "a", "b", "EX", "0"]),
            Action::Reply(Reply::Error(
                "ERR invalid expire time in 'set' command".into()
            ))
        );
        assert_eq!(
            run(&["set", "a", "b", "EX", "x"]),
            Action::Reply(Reply::Error(
                "ERR value is not an integer or out of range".into()
            ))
        );
        assert_eq!(
            run(&["select", "1"]),
            Action::Reply(Reply::Error("ERR DB index is out of range".into()))
        );
        assert_eq!(
            run(&["client", "xyz"]),
            Action::Reply(Reply::Error(
                "ERR unknown subcommand 'xyz'. Try CLIENT HELP.".into()
            ))
        );
        assert_eq!(
            run(&["hello", "4"]),
            Action::Reply(Reply::Error("NOPROTO unsupported protocol version".into()))
        );
    }

    #[test]
    fn set_options_map_to_hive_semantics() {
        let Action::Call(Call::Set {
            cond, get, expiry, ..
        }) = run(&["SET", "a", "b", "xx", "get", "px", "500"])
        else {
            panic!()
        };
        assert_eq!((cond, get, expiry), (SetCond::Xx, true, Expiry::At(1_500)));
    }

    #[test]
    fn auth_gates_commands() {
        let mut s = Session::new(1, true);
        assert_eq!(
            parse(&req(&["get", "a"]), &mut s, 0),
            Action::Reply(Reply::Error("NOAUTH Authentication required.".into()))
        );
        assert_eq!(
            parse(&req(&["auth", "pw"]), &mut s, 0),
            Action::Auth(Bytes::from("pw"))
        );
        s.authed = true;
        s.proto = 3;
        assert_eq!(parse(&req(&["reset"]), &mut s, 0), Action::Reset);
        assert!(!s.authed);
        assert_eq!(s.proto, 2);
    }

    #[test]
    fn http_is_closed_silently() {
        assert_eq!(run(&["POST", "/", "HTTP/1.1"]), Action::Close(None));
        assert_eq!(run(&["Host:", "x"]), Action::Close(None));
    }

    #[test]
    fn globs_follow_redis() {
        assert!(glob_match(b"a\\*b*", b"a*bc"));
        assert!(!glob_match(b"a\\*b*", b"axb"));
        assert!(glob_match(b"h?llo", b"hello"));
        assert!(glob_match(b"h[a-e]llo", b"hello"));
        assert!(!glob_match(b"h[^e]llo", b"hello"));
        assert_eq!(literal_prefix(b"user:*"), Some(b"user:".to_vec()));
        assert_eq!(literal_prefix(b"a\\*b*"), Some(b"a*b".to_vec()));
        assert_eq!(literal_prefix(b"a?b*"), None);
        assert_eq!(escape_glob(b"a*[b]?\\"), b"a\\*\\[b\\]\\?\\\\".to_vec());
    }

    #[test]
    fn getrange_follows_redis_indexes() {
        let c = Bytes::from_static(b"Hello World");
        assert_eq!(slice_range(&c, 0, 4), Bytes::from_static(b"Hello"));
        assert_eq!(slice_range(&c, -5, -1), Bytes::from_static(b"World"));
        assert_eq!(slice_range(&c, 5, 1), Bytes::new());
        assert_eq!(slice_range(&c, 0, 100), c);
    }
}
