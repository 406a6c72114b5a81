//! Pool TCP protocol logic (plasma spec 7.2-7.7): version negotiation, retort
//! translation for protocols below 3, the command bitmask, op states (I/P/F/N)
//! and the server's op dispatch against a [`Backend`]. Sans-IO: no sockets, no
//! clock (time is an argument); awaits and STARTTLS come back as [`Action`]s for
//! the I/O layer to carry out.

use bytes::Bytes;

use super::codec::{Arg, Message};
use crate::engine::slaw::{self, Slaw};

/// Operation codes (spec 7.4), named as in libPlasma's `pool_tcp.h`.
#[allow(missing_docs)]
pub mod op {
    pub const CREATE: i64 = 0;
    pub const DISPOSE: i64 = 1;
    pub const PARTICIPATE: i64 = 2;
    pub const PARTICIPATE_CREATINGLY: i64 = 3;
    pub const WITHDRAW: i64 = 4;
    pub const DEPOSIT: i64 = 5;
    pub const NTH_PROTEIN: i64 = 6;
    pub const NEXT: i64 = 7;
    pub const PROBE_FRWD: i64 = 8;
    pub const NEWEST_INDEX: i64 = 9;
    pub const OLDEST_INDEX: i64 = 10;
    pub const AWAIT_NEXT_SINGLE: i64 = 11;
    pub const MULTI_ADD_AWAITER: i64 = 12;
    pub const RESULT: i64 = 14;
    pub const INFO: i64 = 15;
    pub const LIST: i64 = 16;
    pub const INDEX_LOOKUP: i64 = 17;
    pub const PROBE_BACK: i64 = 18;
    pub const PREV: i64 = 19;
    pub const FANCY_ADD_AWAITER: i64 = 20;
    pub const SET_HOSE_NAME: i64 = 21;
    pub const SUB_FETCH: i64 = 22;
    pub const RENAME: i64 = 23;
    pub const ADVANCE_OLDEST: i64 = 24;
    pub const SLEEP: i64 = 25;
    pub const CHANGE_OPTIONS: i64 = 27;
    pub const LIST_EX: i64 = 28;
    pub const SUB_FETCH_EX: i64 = 29;
    pub const STARTTLS: i64 = 30;
    pub const FANCY_RESULT_1: i64 = 64;
    pub const FANCY_RESULT_2: i64 = 65;
    pub const FANCY_RESULT_3: i64 = 66;
}

/// Retort codes (spec 7.5), protocol-3 values.
#[allow(missing_docs)]
pub mod retort {
    pub const OB_OK: i64 = 0;
    pub const OB_NO_MEM: i64 = -201;
    pub const OB_ARGUMENT_WAS_NULL: i64 = -203;
    pub const OB_INVALID_ARGUMENT: i64 = -205;
    pub const OB_UNKNOWN_ERR: i64 = -220;
    pub const OB_INVALID_OPERATION: i64 = -224;
    pub const OB_VERSION_MISMATCH: i64 = -261;
    pub const OB_NOTHING_TO_DO: i64 = 301;
    pub const POOL_CREATED: i64 = 200010;
    pub const POOL_NO_SUCH_POOL: i64 = -200570;
    pub const POOL_EXISTS: i64 = -200575;
    pub const POOL_PROTOCOL_ERROR: i64 = -200580;
    pub const POOL_NO_SUCH_PROTEIN: i64 = -200635;
    pub const POOL_AWAIT_TIMEDOUT: i64 = -200640;
    pub const POOL_AWAIT_WOKEN: i64 = -200650;
    pub const POOL_NOT_A_PROTEIN: i64 = -200800;
    pub const POOL_NOT_A_PROTEIN_OR_MAP: i64 = -200810;
    pub const POOL_UNSUPPORTED_OPERATION: i64 = -201100;
    pub const POOL_INVALID_SIZE: i64 = -200560;
    pub const POOL_NO_TLS: i64 = -201500;
    pub const POOL_TLS_REQUIRED: i64 = -201505;
    pub const POOL_TLS_ERROR: i64 = -201510;
    pub const SLAW_CORRUPT_PROTEIN: i64 = -210000;
    pub const SLAW_CORRUPT_SLAW: i64 = -210001;
    pub const SLAW_FABRICATOR_BADNESS: i64 = -210002;
    pub const SLAW_NOT_NUMERIC: i64 = -210003;
    pub const SLAW_RANGE_ERR: i64 = -210004;
    pub const SLAW_UNIDENTIFIED_SLAW: i64 = -210005;
    pub const SLAW_WRONG_LENGTH: i64 = -210006;
    pub const SLAW_NOT_FOUND: i64 = -210007;
}

use retort::*;

/// Every retort name of spec 7.5 with its protocol-3 value.
const NAMES: &[(&str, i64)] = &[
    ("OB_OK", 0),
    ("OB_NO_MEM", -201),
    ("OB_BAD_INDEX", -202),
    ("OB_ARGUMENT_WAS_NULL", -203),
    ("OB_NOT_FOUND", -204),
    ("OB_INVALID_ARGUMENT", -205),
    ("OB_UNKNOWN_ERR", -220),
    ("OB_INADEQUATE_CLASS", -221),
    ("OB_ALREADY_PRESENT", -222),
    ("OB_EMPTY", -223),
    ("OB_INVALID_OPERATION", -224),
    ("OB_DISCONNECTED", -260),
    ("OB_VERSION_MISMATCH", -261),
    ("OB_STOP", 300),
    ("OB_NOTHING_TO_DO", 301),
    ("OB_YES", 302),
    ("OB_NO", 303),
    ("OB_BOUNCE", 304),
    ("POOL_CREATED", 200010),
    ("POOL_NO_POOLS_DIR", -200400),
    ("POOL_FILE_BADTH", -200500),
    ("POOL_NULL_HOSE", -200505),
    ("POOL_SEMAPHORES_BADTH", -200510),
    ("POOL_MMAP_BADTH", -200520),
    ("POOL_INAPPROPRIATE_FILESYSTEM", -200525),
    ("POOL_IN_USE", -200530),
    ("POOL_TYPE_BADTH", -200540),
    ("POOL_CONFIG_BADTH", -200545),
    ("POOL_WRONG_VERSION", -200547),
    ("POOL_CORRUPT", -200548),
    ("POOL_POOLNAME_BADTH", -200550),
    ("POOL_IMPOSSIBLE_RENAME", -200551),
    ("POOL_FIFO_BADTH", -200555),
    ("POOL_INVALID_SIZE", -200560),
    ("POOL_NO_SUCH_POOL", -200570),
    ("POOL_EXISTS", -200575),
    ("POOL_ILLEGAL_NESTING", -200576),
    ("POOL_PROTOCOL_ERROR", -200580),
    ("POOL_NO_SUCH_PROTEIN", -200635),
    ("POOL_AWAIT_TIMEDOUT", -200640),
    ("POOL_AWAIT_WOKEN", -200650),
    ("POOL_WAKEUP_NOT_ENABLED", -200660),
    ("POOL_PROTEIN_BIGGER_THAN_POOL", -200700),
    ("POOL_FROZEN", -200710),
    ("POOL_FULL", -200720),
    ("POOL_NOT_A_PROTEIN", -200800),
    ("POOL_NOT_A_PROTEIN_OR_MAP", -200810),
    ("POOL_CONF_WRITE_BADTH", -200900),
    ("POOL_CONF_READ_BADTH", -200910),
    ("POOL_SEND_BADTH", -201000),
    ("POOL_RECV_BADTH", -201010),
    ("POOL_UNEXPECTED_CLOSE", -201015),
    ("POOL_SOCK_BADTH", -201020),
    ("POOL_SERVER_BUSY", -201030),
    ("POOL_SERVER_UNREACH", -201040),
    ("POOL_ALREADY_GANG_MEMBER", -201050),
    ("POOL_NOT_A_GANG_MEMBER", -201055),
    ("POOL_EMPTY_GANG", -201060),
    ("POOL_NULL_GANG", -201070),
    ("POOL_UNSUPPORTED_OPERATION", -201100),
    ("POOL_INVALIDATED_BY_FORK", -201110),
    ("POOL_NO_TLS", -201500),
    ("POOL_TLS_REQUIRED", -201505),
    ("POOL_TLS_ERROR", -201510),
    ("POOL_NOT_A_GREENHOUSE_SERVER", -201600),
    ("SLAW_CORRUPT_PROTEIN", -210000),
    ("SLAW_CORRUPT_SLAW", -210001),
    ("SLAW_FABRICATOR_BADNESS", -210002),
    ("SLAW_NOT_NUMERIC", -210003),
    ("SLAW_RANGE_ERR", -210004),
    ("SLAW_UNIDENTIFIED_SLAW", -210005),
    ("SLAW_WRONG_LENGTH", -210006),
    ("SLAW_NOT_FOUND", -210007),
    ("SLAW_ALIAS_NOT_SUPPORTED", -220000),
    ("SLAW_BAD_TAG", -220001),
    ("SLAW_END_OF_FILE", -220002),
    ("SLAW_PARSING_BADNESS", -220003),
    ("SLAW_WRONG_FORMAT", -220004),
    ("SLAW_WRONG_VERSION", -220005),
    ("SLAW_YAML_ERR", -220006),
    ("SLAW_NO_YAML", -220007),
];

/// The name of a retort (`OB_ERRNO` for mapped errnos, `UNKNOWN` otherwise).
pub fn retort_name(r: i64) -> &'static str {
    if let Some((n, _)) = NAMES.iter().find(|(_, v)| *v == r) {
        return n;
    }
    if (-91999..=-90000).contains(&r) {
        return "OB_ERRNO";
    }
    "UNKNOWN_RETORT"
}

/// A retort's value by name.
pub fn retort_value(name: &str) -> Option<i64> {
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// modern ↔ old retort pairs (spec 7.6).
const OLD_RETORTS: &[(i64, i64)] = &[
    (OB_UNKNOWN_ERR, -203),
    (OB_ARGUMENT_WAS_NULL, -210000),
    (SLAW_CORRUPT_PROTEIN, -210001),
    (SLAW_CORRUPT_SLAW, -210002),
    (SLAW_FABRICATOR_BADNESS, -210003),
    (SLAW_NOT_NUMERIC, -210004),
    (SLAW_RANGE_ERR, -210005),
    (SLAW_UNIDENTIFIED_SLAW, -210006),
    (SLAW_WRONG_LENGTH, -210007),
    (SLAW_NOT_FOUND, -210008),
    (POOL_NO_SUCH_PROTEIN, -200010),
    (OB_NO_MEM, -200530),
    (POOL_INVALID_SIZE, -200590),
];

/// A modern retort as sent on a connection of protocol `pv`.
pub fn retort_to_wire(r: i64, pv: u8) -> i64 {
    if pv >= 3 {
        return r;
    }
    OLD_RETORTS
        .iter()
        .find(|(m, _)| *m == r)
        .map(|(_, o)| *o)
        .unwrap_or(r)
}

/// A retort received on a connection of protocol `pv`, in modern values.
pub fn retort_from_wire(r: i64, pv: u8) -> i64 {
    if pv >= 3 {
        return r;
    }
    if r == -200610 || r == -200620 {
        return POOL_NO_SUCH_PROTEIN;
    }
    OLD_RETORTS
        .iter()
        .find(|(_, o)| *o == r)
        .map(|(m, _)| *m)
        .unwrap_or(r)
}

/// Picks the versions for a client offering `pv`/`sv`: `None` if there is no
/// common version (reply `ff ff`).
pub fn negotiate(pv: u8, sv: u8) -> Option<(u8, u8)> {
    let pv = pv.min(super::codec::PROTOCOL_VERSION);
    let sv = sv.min(super::codec::SLAW_VERSION);
    // Protocol 0 has no handshake and slaw 1 is not served.
    (pv >= 1 && sv >= 2).then_some((pv, sv))
}

/// Ops this server implements (its advertised mask, without STARTTLS).
pub const SERVED_OPS: &[i64] = &[
    op::CREATE,
    op::DISPOSE,
    op::PARTICIPATE,
    op::PARTICIPATE_CREATINGLY,
    op::WITHDRAW,
    op::DEPOSIT,
    op::NTH_PROTEIN,
    op::NEXT,
    op::PROBE_FRWD,
    op::NEWEST_INDEX,
    op::OLDEST_INDEX,
    op::AWAIT_NEXT_SINGLE,
    op::MULTI_ADD_AWAITER,
    op::INFO,
    op::LIST,
    op::INDEX_LOOKUP,
    op::PROBE_BACK,
    op::PREV,
    op::FANCY_ADD_AWAITER,
    op::SET_HOSE_NAME,
    op::SUB_FETCH,
    op::RENAME,
    op::ADVANCE_OLDEST,
    op::SLEEP,
    op::CHANGE_OPTIONS,
    op::LIST_EX,
    op::SUB_FETCH_EX,
];

/// The bitmask of a set of ops.
pub fn mask_of(ops: &[i64]) -> u64 {
    ops.iter()
        .filter(|o| (0..64).contains(*o))
        .fold(0, |m, o| m | (1u64 << o))
}

/// Whether `mask` advertises `op`.
pub fn supports(mask: u64, op: i64) -> bool {
    (0..64).contains(&op) && mask & (1u64 << op) != 0
}

/// Whether a protein's descrips match a pattern (spec 7.4 "Patterns"): a
/// string matches a descrips list containing it; a list of strings matches
/// when its elements occur in the descrips in order (gaps allowed).
pub fn matches(protein: &[u8], pattern: &Slaw) -> bool {
    let Ok(view) = slaw::validate_protein(protein) else {
        return false;
    };
    let Some(d) = view.descrips() else {
        return false;
    };
    let descrips: Vec<slaw::Slaw> = d.children().map(|c| c.to_slaw()).collect();
    match pattern {
        Slaw::Nil => true,
        Slaw::List(want) => {
            let mut it = descrips.iter();
            want.iter().all(|w| it.any(|d| d == w))
        }
        p => descrips.iter().any(|d| d == p),
    }
}

/// One protein read from a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Its index.
    pub index: i64,
    /// Its deposit time.
    pub timestamp: f64,
    /// Its bytes.
    pub protein: Bytes,
}

/// Options of CREATE / PARTICIPATE_CREATINGLY / CHANGE_OPTIONS: the ingests of
/// the options protein (or nil).
pub type Options = Option<Slaw>;

/// What the server does with pools; retorts are the error type.
pub trait Backend {
    /// Creates a pool.
    fn create(&mut self, name: &str, kind: &str, options: &Options) -> Result<(), i64>;
    /// Disposes a pool.
    fn dispose(&mut self, name: &str) -> Result<(), i64>;
    /// Renames a pool.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), i64>;
    /// Pool names under `prefix` (`None`: all).
    fn list(&mut self, prefix: Option<&str>) -> Result<Vec<String>, i64>;
    /// Frees resources of an idle pool.
    fn sleep(&mut self, name: &str) -> Result<(), i64>;
    /// Opens the connection's hose; `create` creates a missing pool. Returns
    /// whether the pool was created.
    fn participate(&mut self, name: &str, create: Option<&Options>) -> Result<bool, i64>;
    /// Closes the hose.
    fn withdraw(&mut self);
    /// Deposits into the hose's pool at time `now`.
    fn deposit(&mut self, protein: &[u8], now: f64) -> Result<(i64, f64), i64>;
    /// Reads protein `index`.
    fn nth(&mut self, index: i64) -> Result<Found, i64>;
    /// Oldest and newest index, `None` when empty.
    fn range(&mut self) -> Result<Option<(i64, i64)>, i64>;
    /// The info protein of the pool (hop 0 = this pool).
    fn info(&mut self) -> Result<Vec<u8>, i64>;
    /// Index by time: `mode` 0 closest, 1 at or below, 2 at or above.
    fn index_lookup(&mut self, t: f64, mode: i64) -> Result<i64, i64>;
    /// Changes options.
    fn change_options(&mut self, options: &Options) -> Result<(), i64>;
    /// Erases proteins older than `index` (`pool_advance_oldest`): OB_OK when
    /// the pool changed, OB_NOTHING_TO_DO when `index` was already gone.
    fn advance_oldest(&mut self, index: i64) -> Result<i64, i64>;
}

/// Connection state (spec 7.4 I/P).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Before the first command.
    Initial,
    /// Participating in a pool.
    Participating,
    /// After a final op: close once the reply is out.
    Done,
}

/// Which wait the I/O layer must carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Await {
    /// AWAIT_NEXT_SINGLE: the hose's next protein, `None` = forever.
    Single {
        /// Index to wait for.
        index: i64,
        /// Seconds; `None` = forever.
        timeout: Option<f64>,
    },
    /// MULTI_ADD_AWAITER: the hose's next protein, ended by any new request.
    Multi {
        /// Index to wait for.
        index: i64,
    },
    /// FANCY_ADD_AWAITER: the first match at or after `index`.
    Fancy {
        /// Start index.
        index: i64,
        /// Pattern (nil = any).
        pattern: Slaw,
    },
}

/// What to do after a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send these replies.
    Reply(Vec<Message>),
    /// Send nothing (SET_HOSE_NAME).
    Nothing,
    /// Wait (the first message, if any, goes out before waiting).
    Await(Option<Message>, Await),
    /// Reply, then run the server side of a TLS handshake.
    StartTls(Message),
    /// Reply, then close (final ops and protocol errors).
    Close(Message),
    /// Close without a reply: libPlasma's server does this for a bad first op
    /// and for unknown ops, since the client's expected reply shape is unknown.
    Drop(&'static str),
}

/// Server side of one connection.
#[derive(Debug, Clone)]
pub struct Session {
    /// Negotiated protocol version.
    pub pv: u8,
    /// State.
    pub state: State,
    /// The hose's position: the index the next NEXT/await returns.
    pub position: i64,
    /// Whether the session runs inside TLS.
    pub tls: bool,
    /// Whether STARTTLS may be offered (a certificate is configured).
    pub tls_available: bool,
    /// Whether plain sessions may only STARTTLS.
    pub tls_required: bool,
    /// Hose name, program and pid from SET_HOSE_NAME (for logs).
    pub hose_name: Option<(String, String, i64)>,
    /// Pool participated in.
    pub pool: Option<String>,
}

/// A RESULT message with a retort translated for `pv`.
pub fn result(pv: u8, args: Vec<Arg>) -> Message {
    let _ = pv;
    Message::new(op::RESULT, args)
}

fn r(pv: u8, code: i64) -> Arg {
    Arg::Int(retort_to_wire(code, pv))
}

fn protein_arg(p: Bytes) -> Arg {
    Arg::Protein(p)
}

fn options_of(a: Option<&Arg>) -> Result<Options, i64> {
    match a {
        None | Some(Arg::Nil) => Ok(None),
        Some(Arg::Protein(p)) => {
            let view = slaw::validate_protein(p).map_err(|_| SLAW_CORRUPT_PROTEIN)?;
            Ok(view.ingests().map(|i| i.to_slaw()))
        }
        Some(Arg::Slaw(s @ Slaw::Map(_))) => Ok(Some(s.clone())),
        Some(_) => Err(POOL_NOT_A_PROTEIN_OR_MAP),
    }
}

impl Session {
    /// A session after a handshake at protocol `pv`.
    pub fn new(pv: u8, tls_available: bool, tls_required: bool) -> Self {
        Session {
            pv,
            state: State::Initial,
            position: 0,
            tls: false,
            tls_available,
            tls_required,
            hose_name: None,
            pool: None,
        }
    }

    /// The mask to advertise in the current state (spec 7.7 step 3: a server
    /// requiring TLS advertises only STARTTLS before TLS).
    pub fn mask(&self) -> u64 {
        let starttls = if self.tls_available && !self.tls {
            1u64 << op::STARTTLS
        } else {
            0
        };
        if self.tls_required && !self.tls {
            return starttls;
        }
        mask_of(SERVED_OPS) | starttls
    }

    fn reply(&self, args: Vec<Arg>) -> Action {
        Action::Reply(vec![result(self.pv, args)])
    }

    fn fail_close(&mut self, code: i64) -> Action {
        self.state = State::Done;
        Action::Close(result(self.pv, vec![r(self.pv, code)]))
    }

    /// The reply to an awaited protein, or to a retort, for `kind`.
    pub fn await_reply(&mut self, kind: &Await, got: Result<Found, i64>) -> Vec<Message> {
        let pv = self.pv;
        match (kind, got) {
            (Await::Single { .. } | Await::Multi { .. }, Ok(f)) => {
                self.position = f.index + 1;
                vec![result(
                    pv,
                    vec![
                        r(pv, OB_OK),
                        protein_arg(f.protein),
                        Arg::Float(f.timestamp),
                        Arg::Int(f.index),
                    ],
                )]
            }
            (Await::Single { .. }, Err(code)) => vec![result(
                pv,
                vec![r(pv, code), Arg::Nil, Arg::Float(-1.0), Arg::Int(-1)],
            )],
            // The reference server's interruptible await answers with time 0 and index 0.
            (Await::Multi { .. }, Err(code)) => vec![result(
                pv,
                vec![r(pv, code), Arg::Nil, Arg::Float(0.0), Arg::Int(0)],
            )],
            (Await::Fancy { .. }, Ok(f)) => vec![
                Message::new(
                    op::FANCY_RESULT_2,
                    vec![r(pv, OB_OK), Arg::Float(f.timestamp), Arg::Int(f.index)],
                ),
                Message::new(
                    op::FANCY_RESULT_3,
                    vec![
                        Arg::Float(f.timestamp),
                        Arg::Int(f.index),
                        protein_arg(f.protein),
                    ],
                ),
            ],
            (Await::Fancy { .. }, Err(code)) => vec![Message::new(
                op::FANCY_RESULT_2,
                vec![r(pv, code), Arg::Float(-1.0), Arg::Int(-1)],
            )],
        }
    }

    /// Handles one request at time `now` (seconds since the epoch).
    pub fn handle(&mut self, msg: &Message, backend: &mut dyn Backend, now: f64) -> Action {
        let pv = self.pv;
        let o = msg.op;
        if self.state == State::Done {
            return Action::Nothing;
        }
        let initial = self.state == State::Initial;
        if self.tls_required && !self.tls && o != op::STARTTLS {
            self.state = State::Done;
            return Action::Drop("plain session on a TLS-only server");
        }
        let s = |i: usize| msg.arg(i).and_then(Arg::as_str);
        let i = |k: usize| msg.arg(k).and_then(Arg::as_i64);
        match o {
            op::STARTTLS => {
                if !initial || self.tls {
                    return self.fail_close(OB_INVALID_OPERATION);
                }
                if !self.tls_available {
                    return self.reply(vec![r(pv, POOL_NO_TLS), Arg::Slaw(Slaw::Map(vec![]))]);
                }
                Action::StartTls(result(pv, vec![r(pv, OB_OK), Arg::Slaw(Slaw::Map(vec![]))]))
            }
            op::CREATE | op::DISPOSE | op::LIST | op::RENAME | op::SLEEP | op::LIST_EX => {
                if !initial {
                    return self.unknown();
                }
                self.state = State::Done;
                let res = match o {
                    op::CREATE => match (s(0), options_of(msg.arg(2))) {
                        (Some(name), Ok(opts)) => backend
                            .create(name, s(1).unwrap_or("mmap"), &opts)
                            .map(|_| None),
                        (None, _) => Err(OB_ARGUMENT_WAS_NULL),
                        (_, Err(e)) => Err(e),
                    },
                    op::DISPOSE => match s(0) {
                        Some(name) => backend.dispose(name).map(|_| None),
                        None => Err(OB_ARGUMENT_WAS_NULL),
                    },
                    op::RENAME => match (s(0), s(1)) {
                        (Some(a), Some(b)) => backend.rename(a, b).map(|_| None),
                        _ => Err(OB_ARGUMENT_WAS_NULL),
                    },
                    op::SLEEP => match s(0) {
                        Some(name) => backend.sleep(name).map(|_| None),
                        None => Err(OB_ARGUMENT_WAS_NULL),
                    },
                    op::LIST => backend.list(None).map(Some),
                    _ => backend.list(Some(s(0).unwrap_or(""))).map(Some),
                };
                let args = match res {
                    Ok(None) => vec![r(pv, OB_OK)],
                    Ok(Some(names)) => vec![r(pv, OB_OK), Arg::Slaw(Slaw::strings(names))],
                    Err(code) if o == op::LIST || o == op::LIST_EX => {
                        vec![r(pv, code), Arg::Nil]
                    }
                    Err(code) => vec![r(pv, code)],
                };
                Action::Close(result(pv, args))
            }
            op::PARTICIPATE | op::PARTICIPATE_CREATINGLY => {
                if !initial {
                    return self.unknown();
                }
                let Some(name) = s(0) else {
                    return self.fail_close(OB_ARGUMENT_WAS_NULL);
                };
                let create = if o == op::PARTICIPATE_CREATINGLY {
                    match options_of(msg.arg(2)) {
                        Ok(opts) => Some(opts),
                        Err(code) => return self.fail_close(code),
                    }
                } else {
                    None
                };
                match backend.participate(name, create.as_ref()) {
                    Ok(created) => {
                        self.state = State::Participating;
                        self.pool = Some(name.to_string());
                        // A new hose starts after the newest protein, like
                        // libPlasma's pool_participate.
                        self.position = match backend.range() {
                            Ok(Some((_, n))) => n + 1,
                            _ => 0,
                        };
                        let code = match (created, o == op::PARTICIPATE_CREATINGLY && pv < 3) {
                            // Before protocol 3 PARTICIPATE_CREATINGLY answered
                            // OB_OK for "created" and POOL_EXISTS for "opened"
                            // (libPlasma pool_tcp_server.c).
                            (true, true) => OB_OK,
                            (false, true) => retort::POOL_EXISTS,
                            (true, false) => POOL_CREATED,
                            (false, false) => OB_OK,
                        };
                        self.reply(vec![r(pv, code)])
                    }
                    // A failed participate leaves the connection unusable.
                    Err(code) => self.fail_close(code),
                }
            }
            _ if initial => {
                self.state = State::Done;
                Action::Drop("bad first op")
            }
            op::WITHDRAW => {
                backend.withdraw();
                self.state = State::Done;
                Action::Close(result(pv, vec![r(pv, OB_OK)]))
            }
            op::DEPOSIT => match msg.arg(0).and_then(Arg::as_protein) {
                Some(p) => match backend.deposit(p, now) {
                    Ok((idx, ts)) => self.reply(vec![Arg::Int(idx), r(pv, OB_OK), Arg::Float(ts)]),
                    Err(code) => self.reply(vec![Arg::Int(-1), r(pv, code), Arg::Float(-1.0)]),
                },
                None => self.reply(vec![
                    Arg::Int(-1),
                    r(pv, POOL_NOT_A_PROTEIN),
                    Arg::Float(-1.0),
                ]),
            },
            op::NTH_PROTEIN => match i(0).map(|k| backend.nth(k)) {
                Some(Ok(f)) => self.reply(vec![
                    protein_arg(f.protein),
                    Arg::Float(f.timestamp),
                    r(pv, OB_OK),
                ]),
                Some(Err(code)) => {
                    let code = self.olde(backend, code, i(0).unwrap_or(0));
                    self.reply(vec![Arg::Nil, Arg::Float(-1.0), Arg::Int(code)])
                }
                None => self.reply(vec![Arg::Nil, Arg::Float(-1.0), r(pv, OB_INVALID_ARGUMENT)]),
            },
            op::NEXT | op::PREV | op::PROBE_FRWD | op::PROBE_BACK => {
                let Some(start) = i(0) else {
                    return self.reply(vec![
                        Arg::Nil,
                        Arg::Float(-1.0),
                        Arg::Int(-1),
                        r(pv, OB_INVALID_ARGUMENT),
                    ]);
                };
                let pattern = match o {
                    op::PROBE_FRWD | op::PROBE_BACK => match msg.arg(1) {
                        Some(Arg::Str(s)) => Slaw::str(s.clone()),
                        Some(Arg::Slaw(s)) => s.clone(),
                        _ => Slaw::Nil,
                    },
                    _ => Slaw::Nil,
                };
                let forward = o == op::NEXT || o == op::PROBE_FRWD;
                match scan(backend, start, forward, &pattern) {
                    Ok(f) => {
                        self.position = if forward { f.index + 1 } else { f.index };
                        self.reply(vec![
                            protein_arg(f.protein),
                            Arg::Float(f.timestamp),
                            Arg::Int(f.index),
                            r(pv, OB_OK),
                        ])
                    }
                    Err(code) => {
                        // Only NEXT and PREV get the old no-protein split.
                        let code = if o == op::NEXT || o == op::PREV {
                            self.olde(backend, code, start)
                        } else {
                            retort_to_wire(code, pv)
                        };
                        self.reply(vec![
                            Arg::Nil,
                            Arg::Float(-1.0),
                            Arg::Int(-1),
                            Arg::Int(code),
                        ])
                    }
                }
            }
            op::NEWEST_INDEX | op::OLDEST_INDEX => match backend.range() {
                Ok(Some((old, new))) => {
                    let v = if o == op::NEWEST_INDEX { new } else { old };
                    self.reply(vec![Arg::Int(v), r(pv, OB_OK)])
                }
                Ok(None) => self.reply(vec![Arg::Int(-1), r(pv, POOL_NO_SUCH_PROTEIN)]),
                Err(code) => self.reply(vec![Arg::Int(-1), r(pv, code)]),
            },
            op::AWAIT_NEXT_SINGLE => {
                let t = msg.arg(0).and_then(Arg::as_f64).unwrap_or(-1.0);
                // Protocol 2 changed the encoding (spec 7.4): from 2 on −1 is
                // forever and 0 no wait; before, 0 is forever and −1 no wait.
                let timeout = if pv >= 2 {
                    (t >= 0.0).then_some(t)
                } else if t == 0.0 {
                    None
                } else if t < 0.0 {
                    Some(0.0)
                } else {
                    Some(t)
                };
                Action::Await(
                    None,
                    Await::Single {
                        index: self.position,
                        timeout,
                    },
                )
            }
            op::MULTI_ADD_AWAITER => Action::Await(
                None,
                Await::Multi {
                    index: self.position,
                },
            ),
            op::FANCY_ADD_AWAITER => {
                let index = i(0).unwrap_or(self.position);
                let pattern = match msg.arg(1) {
                    Some(Arg::Str(s)) => Slaw::str(s.clone()),
                    Some(Arg::Slaw(s)) => s.clone(),
                    _ => Slaw::Nil,
                };
                match scan(backend, index, true, &pattern) {
                    Ok(f) => Action::Reply(vec![
                        Message::new(
                            op::FANCY_RESULT_1,
                            vec![r(pv, OB_OK), Arg::Float(f.timestamp), Arg::Int(f.index)],
                        ),
                        Message::new(
                            op::FANCY_RESULT_3,
                            vec![
                                Arg::Float(f.timestamp),
                                Arg::Int(f.index),
                                protein_arg(f.protein),
                            ],
                        ),
                    ]),
                    Err(POOL_NO_SUCH_PROTEIN) => {
                        let first = Message::new(
                            op::FANCY_RESULT_1,
                            vec![r(pv, POOL_NO_SUCH_PROTEIN), Arg::Float(-1.0), Arg::Int(-1)],
                        );
                        let from = match backend.range() {
                            Ok(Some((old, new))) => index.max(old).min(new + 1),
                            _ => index.max(0),
                        };
                        Action::Await(
                            Some(first),
                            Await::Fancy {
                                index: from,
                                pattern,
                            },
                        )
                    }
                    Err(code) => Action::Reply(vec![Message::new(
                        op::FANCY_RESULT_1,
                        vec![r(pv, code), Arg::Float(-1.0), Arg::Int(-1)],
                    )]),
                }
            }
            op::INFO => match backend.info() {
                Ok(p) => self.reply(vec![r(pv, OB_OK), protein_arg(Bytes::from(p))]),
                Err(code) => self.reply(vec![r(pv, code), Arg::Nil]),
            },
            op::INDEX_LOOKUP => {
                let t = msg.arg(0).and_then(Arg::as_f64).unwrap_or(0.0);
                let base = i(1).unwrap_or(-1);
                let mode = i(2).unwrap_or(0);
                if !(0..=2).contains(&mode) {
                    return self.reply(vec![Arg::Int(-1), r(pv, POOL_UNSUPPORTED_OPERATION)]);
                }
                // A base index asks for a time relative to that protein's.
                let t = if base >= 0 {
                    match backend.nth(base) {
                        Ok(f) => f.timestamp + t,
                        Err(code) => return self.reply(vec![Arg::Int(-1), r(pv, code)]),
                    }
                } else {
                    t
                };
                match backend.index_lookup(t, mode) {
                    Ok(idx) => self.reply(vec![Arg::Int(idx), r(pv, OB_OK)]),
                    Err(code) => self.reply(vec![Arg::Int(-1), r(pv, code)]),
                }
            }
            op::SET_HOSE_NAME => {
                self.hose_name = Some((
                    s(0).unwrap_or("").to_string(),
                    s(1).unwrap_or("").to_string(),
                    i(2).unwrap_or(-1),
                ));
                Action::Nothing
            }
            op::SUB_FETCH | op::SUB_FETCH_EX => {
                let clamp = o == op::SUB_FETCH_EX && i(1).is_some_and(|c| c != 0);
                sub_fetch(self, backend, msg.arg(0), clamp)
            }
            // libPlasma's server answers an argument that is not an int64
            // with POOL_PROTOCOL_ERROR (pool_net_unpack_op_f) and keeps going.
            op::ADVANCE_OLDEST => match i(0) {
                Some(idx) => match backend.advance_oldest(idx) {
                    Ok(code) | Err(code) => self.reply(vec![r(pv, code)]),
                },
                None => self.reply(vec![r(pv, POOL_PROTOCOL_ERROR)]),
            },
            op::CHANGE_OPTIONS => match options_of(msg.arg(0)) {
                Ok(opts) => match backend.change_options(&opts) {
                    Ok(()) => self.reply(vec![r(pv, OB_OK)]),
                    Err(code) => self.reply(vec![r(pv, code)]),
                },
                Err(code) => self.reply(vec![r(pv, code)]),
            },
            _ => self.unknown(),
        }
    }

    fn unknown(&mut self) -> Action {
        self.state = State::Done;
        Action::Drop("unknown or out-of-state op")
    }

    /// The wire retort for a failed NTH/NEXT/PREV: before protocol 3
    /// POOL_NO_SUCH_PROTEIN was split into "pool empty" (−200010), "discarded"
    /// (−200610, below the oldest) and "future" (−200620), as libPlasma's
    /// server still does for old clients.
    fn olde(&self, backend: &mut dyn Backend, code: i64, idx: i64) -> i64 {
        if self.pv >= 3 || code != POOL_NO_SUCH_PROTEIN {
            return retort_to_wire(code, self.pv);
        }
        match backend.range() {
            Ok(Some((old, _))) if idx < old => -200610,
            Ok(Some(_)) => -200620,
            _ => -200010,
        }
    }
}

/// NEXT/PREV/PROBE: first protein at or after `start` matching `pattern`
/// (forward), or last before `start` (backward).
fn scan(
    backend: &mut dyn Backend,
    start: i64,
    forward: bool,
    pattern: &Slaw,
) -> Result<Found, i64> {
    let Some((old, new)) = backend.range()? else {
        return Err(POOL_NO_SUCH_PROTEIN);
    };
    let mut k = if forward {
        start.max(old)
    } else {
        start.min(new + 1) - 1
    };
    while (old..=new).contains(&k) {
        match backend.nth(k) {
            Ok(f) if pattern.is_nil() || matches(&f.protein, pattern) => return Ok(f),
            Ok(_) => {}
            Err(POOL_NO_SUCH_PROTEIN) if forward => {}
            Err(POOL_NO_SUCH_PROTEIN) => break,
            Err(code) => return Err(code),
        }
        k = if forward { k + 1 } else { k - 1 };
    }
    Err(POOL_NO_SUCH_PROTEIN)
}

/// SUB_FETCH(_EX) (spec 7.4): trimmed copies of several proteins in one round trip.
fn sub_fetch(
    session: &Session,
    backend: &mut dyn Backend,
    list: Option<&Arg>,
    clamp: bool,
) -> Action {
    let pv = session.pv;
    let Some(Arg::Slaw(Slaw::List(reqs))) = list else {
        return session.reply(vec![
            Arg::Slaw(Slaw::List(vec![])),
            r(pv, OB_INVALID_ARGUMENT),
            r(pv, OB_INVALID_ARGUMENT),
        ]);
    };
    let range = backend.range();
    let mut out = Vec::with_capacity(reqs.len().min(4096));
    for req in reqs.iter().take(4096) {
        let mut idx = req.get("idx").and_then(Slaw::as_i64).unwrap_or(-1);
        if let (true, Ok(Some((old, new)))) = (clamp, &range) {
            idx = idx.clamp(*old, *new);
        }
        let want_d = req.get("des").and_then(Slaw::as_bool).unwrap_or(false);
        let want_i = req.get("ing").and_then(Slaw::as_bool).unwrap_or(false);
        let roff = req.get("roff").and_then(Slaw::as_i64).unwrap_or(-1);
        let rbytes = req.get("rbytes").and_then(Slaw::as_i64).unwrap_or(-1);
        let f = match backend.nth(idx) {
            Ok(f) => f,
            Err(code) => {
                out.push(Slaw::map([
                    ("idx", Slaw::i64(idx)),
                    ("retort", Slaw::i64(retort_to_wire(code, pv))),
                ]));
                continue;
            }
        };
        let Ok(view) = slaw::validate_protein(&f.protein) else {
            out.push(Slaw::map([
                ("idx", Slaw::i64(idx)),
                (
                    "retort",
                    Slaw::i64(retort_to_wire(SLAW_CORRUPT_PROTEIN, pv)),
                ),
            ]));
            continue;
        };
        let count = |v: Option<slaw::SlawView<'_>>, kind| match v {
            Some(v) if v.kind() == kind => v.len() as i64,
            _ => -1,
        };
        let dbytes = view.descrips().map(|d| d.bytes().len()).unwrap_or(0) as i64;
        let ibytes = view.ingests().map(|d| d.bytes().len()).unwrap_or(0) as i64;
        let rude = view.rude();
        let mut pairs = vec![
            ("idx", Slaw::i64(f.index)),
            ("retort", Slaw::i64(OB_OK)),
            ("time", Slaw::f64(f.timestamp)),
            ("tbytes", Slaw::i64(f.protein.len() as i64)),
            ("dbytes", Slaw::i64(dbytes)),
            ("ibytes", Slaw::i64(ibytes)),
            ("rbytes", Slaw::i64(rude.len() as i64)),
            ("ndes", Slaw::i64(count(view.descrips(), slaw::Kind::List))),
            ("ning", Slaw::i64(count(view.ingests(), slaw::Kind::Map))),
        ];
        if want_d || want_i || roff >= 0 {
            let rude_part = if roff >= 0 {
                let start = (roff as usize).min(rude.len());
                let end = if rbytes < 0 {
                    rude.len()
                } else {
                    start.saturating_add(rbytes as usize).min(rude.len())
                };
                rude[start..end].to_vec()
            } else {
                Vec::new()
            };
            let p = slaw::Protein {
                descrips: if want_d {
                    view.descrips().map(|d| d.to_slaw())
                } else {
                    None
                },
                ingests: if want_i {
                    view.ingests().map(|d| d.to_slaw())
                } else {
                    None
                },
                rude: rude_part,
            };
            pairs.push(("prot", Slaw::protein(p)));
        }
        out.push(Slaw::map(pairs));
    }
    let (old, new) = match range {
        Ok(Some((o, n))) => (o, n),
        Ok(None) => (
            retort_to_wire(POOL_NO_SUCH_PROTEIN, pv),
            retort_to_wire(POOL_NO_SUCH_PROTEIN, pv),
        ),
        Err(code) => (retort_to_wire(code, pv), retort_to_wire(code, pv)),
    };
    session.reply(vec![
        Arg::Slaw(Slaw::List(out)),
        Arg::Int(old),
        Arg::Int(new),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retorts_translate_both_ways_below_protocol_3() {
        for &(modern, old) in OLD_RETORTS {
            assert_eq!(retort_to_wire(modern, 2), old);
            assert_eq!(retort_from_wire(old, 1), modern);
            assert_eq!(retort_to_wire(modern, 3), modern);
        }
        assert_eq!(retort_from_wire(-200610, 2), POOL_NO_SUCH_PROTEIN);
        // −200530 is OB_NO_MEM in old protocols but POOL_IN_USE in 3.
        assert_eq!(retort_from_wire(-200530, 3), -200530);
        assert_eq!(retort_to_wire(OB_OK, 1), 0);
    }

    #[test]
    fn reference_mask_has_the_reference_bits() {
        // libPlasma without TLS advertises 0x3bff9fff.
        assert_eq!(mask_of(SERVED_OPS), 0x3bff_9fff);
    }

    #[test]
    fn negotiation_caps_versions() {
        assert_eq!(negotiate(3, 2), Some((3, 2)));
        assert_eq!(negotiate(9, 9), Some((3, 2)));
        assert_eq!(negotiate(1, 2), Some((1, 2)));
        assert_eq!(negotiate(0, 2), None);
        assert_eq!(negotiate(3, 1), None);
    }

    #[test]
    fn patterns_match_as_ordered_subsequence() {
        let p = slaw::encode_protein(&slaw::Protein::new(
            Slaw::strings(["a", "b", "c"]),
            Slaw::map([("k", Slaw::i32(1))]),
        ));
        assert!(matches(&p, &Slaw::str("b")));
        assert!(matches(&p, &Slaw::strings(["a", "c"])));
        assert!(!matches(&p, &Slaw::strings(["c", "a"])));
        assert!(!matches(&p, &Slaw::str("z")));
    }

    /// An in-memory pool for driving [`Session`] without I/O.
    #[derive(Default)]
    struct Mem {
        proteins: Vec<Bytes>,
        oldest: i64,
        exists: bool,
    }

    impl Backend for Mem {
        fn create(&mut self, _: &str, _: &str, _: &Options) -> Result<(), i64> {
            Ok(())
        }
        fn dispose(&mut self, _: &str) -> Result<(), i64> {
            Ok(())
        }
        fn rename(&mut self, _: &str, _: &str) -> Result<(), i64> {
            Ok(())
        }
        fn list(&mut self, _: Option<&str>) -> Result<Vec<String>, i64> {
            Ok(vec!["p".into()])
        }
        fn sleep(&mut self, _: &str) -> Result<(), i64> {
            Ok(())
        }
        fn participate(&mut self, _: &str, create: Option<&Options>) -> Result<bool, i64> {
            let created = !self.exists && create.is_some();
            self.exists = true;
            Ok(created)
        }
        fn withdraw(&mut self) {}
        fn deposit(&mut self, p: &[u8], now: f64) -> Result<(i64, f64), i64> {
            self.proteins.push(Bytes::copy_from_slice(p));
            Ok((self.oldest + self.proteins.len() as i64 - 1, now))
        }
        fn nth(&mut self, index: i64) -> Result<Found, i64> {
            let k = usize::try_from(index - self.oldest).map_err(|_| POOL_NO_SUCH_PROTEIN)?;
            let p = self.proteins.get(k).ok_or(POOL_NO_SUCH_PROTEIN)?;
            Ok(Found {
                index,
                timestamp: index as f64,
                protein: p.clone(),
            })
        }
        fn range(&mut self) -> Result<Option<(i64, i64)>, i64> {
            Ok((!self.proteins.is_empty())
                .then(|| (self.oldest, self.oldest + self.proteins.len() as i64 - 1)))
        }
        fn info(&mut self) -> Result<Vec<u8>, i64> {
            Err(POOL_UNSUPPORTED_OPERATION)
        }
        fn index_lookup(&mut self, _: f64, _: i64) -> Result<i64, i64> {
            Err(POOL_NO_SUCH_PROTEIN)
        }
        fn change_options(&mut self, _: &Options) -> Result<(), i64> {
            Ok(())
        }
        fn advance_oldest(&mut self, index: i64) -> Result<i64, i64> {
            let newest = self.oldest + self.proteins.len() as i64 - 1;
            if index > newest + 1 {
                return Err(POOL_NO_SUCH_PROTEIN);
            }
            if index <= self.oldest {
                return Ok(OB_NOTHING_TO_DO);
            }
            let drop = usize::try_from(index - self.oldest).unwrap_or(0);
            self.proteins.drain(..drop.min(self.proteins.len()));
            self.oldest = index;
            Ok(OB_OK)
        }
    }

    #[test]
    fn advance_oldest_replies_with_one_retort() {
        let mut b = Mem::default();
        let mut s = Session::new(3, false, false);
        s.handle(&participate_creatingly(), &mut b, 0.0);
        for n in 0..4 {
            let dep = Message::new(op::DEPOSIT, vec![Arg::Protein(Bytes::from(vec![n]))]);
            s.handle(&dep, &mut b, 0.0);
        }
        let adv = |i: Arg| Message::new(op::ADVANCE_OLDEST, vec![i]);
        let a = s.handle(&adv(Arg::Int(2)), &mut b, 0.0);
        assert_eq!(retort_of(&a, 0), Some(OB_OK));
        assert!(matches!(&a, Action::Reply(m) if m.len() == 1 && m[0].args.len() == 1));
        assert_eq!(b.range(), Ok(Some((2, 3))));
        let a = s.handle(&adv(Arg::Int(1)), &mut b, 0.0);
        assert_eq!(retort_of(&a, 0), Some(OB_NOTHING_TO_DO));
        let a = s.handle(&adv(Arg::Int(9)), &mut b, 0.0);
        assert_eq!(retort_of(&a, 0), Some(POOL_NO_SUCH_PROTEIN));
        // Not an int64: POOL_PROTOCOL_ERROR, and the session goes on.
        let a = s.handle(&adv(Arg::Str("2".into())), &mut b, 0.0);
        assert_eq!(retort_of(&a, 0), Some(POOL_PROTOCOL_ERROR));
        assert_eq!(s.state, State::Participating);
    }

    fn retort_of(a: &Action, k: usize) -> Option<i64> {
        match a {
            Action::Reply(m) => m.first()?.arg(k)?.as_i64(),
            Action::Close(m) => m.arg(k)?.as_i64(),
            _ => None,
        }
    }

    fn participate_creatingly() -> Message {
        Message::new(
            op::PARTICIPATE_CREATINGLY,
            vec![
                Arg::Str("p".into()),
                Arg::Str("mmap".into()),
                Arg::Nil,
                Arg::Nil,
            ],
        )
    }

    #[test]
    fn protocol_2_sessions_get_old_retorts() {
        let mut b = Mem {
            oldest: 10,
            ..Default::default()
        };
        let mut s = Session::new(2, false, false);
        // Created → OB_OK before protocol 3.
        assert_eq!(
            retort_of(&s.handle(&participate_creatingly(), &mut b, 0.0), 0),
            Some(0)
        );
        let nth = |i| Message::new(op::NTH_PROTEIN, vec![Arg::Int(i)]);
        assert_eq!(retort_of(&s.handle(&nth(3), &mut b, 0.0), 2), Some(-200010));
        b.proteins
            .push(Bytes::from(slaw::encode_protein(&slaw::Protein::default())));
        assert_eq!(retort_of(&s.handle(&nth(3), &mut b, 0.0), 2), Some(-200610));
        assert_eq!(
            retort_of(&s.handle(&nth(30), &mut b, 0.0), 2),
            Some(-200620)
        );
        assert_eq!(retort_of(&s.handle(&nth(10), &mut b, 0.0), 2), Some(0));
        // Opened, not created → POOL_EXISTS before protocol 3.
        let mut s = Session::new(1, false, false);
        assert_eq!(
            retort_of(&s.handle(&participate_creatingly(), &mut b, 0.0), 0),
            Some(retort::POOL_EXISTS)
        );
        // Protocol 3: the modern values.
        let mut s = Session::new(3, false, false);
        let mut fresh = Mem::default();
        assert_eq!(
            retort_of(&s.handle(&participate_creatingly(), &mut fresh, 0.0), 0),
            Some(POOL_CREATED)
        );
        assert_eq!(
            retort_of(&s.handle(&nth(0), &mut fresh, 0.0), 2),
            Some(POOL_NO_SUCH_PROTEIN)
        );
    }

    #[test]
    fn bad_first_op_and_unknown_ops_close_without_reply() {
        let mut b = Mem::default();
        let mut s = Session::new(3, false, false);
        let dep = Message::new(op::DEPOSIT, vec![]);
        assert!(matches!(s.handle(&dep, &mut b, 0.0), Action::Drop(_)));
        let mut s = Session::new(3, false, false);
        s.handle(&participate_creatingly(), &mut b, 0.0);
        assert!(matches!(
            s.handle(&Message::new(77, vec![]), &mut b, 0.0),
            Action::Drop(_)
        ));
        // A TLS-only server drops plain sessions that do not STARTTLS.
        let mut s = Session::new(3, true, true);
        assert_eq!(s.mask(), 1 << op::STARTTLS);
        assert!(matches!(
            s.handle(&Message::new(op::LIST, vec![]), &mut b, 0.0),
            Action::Drop(_)
        ));
        let mut s = Session::new(3, true, true);
        assert!(matches!(
            s.handle(&Message::new(op::STARTTLS, vec![]), &mut b, 0.0),
            Action::StartTls(_)
        ));
    }

    #[test]
    fn awaits_start_at_the_hose_position() {
        let mut b = Mem::default();
        let mut s = Session::new(3, false, false);
        s.handle(&participate_creatingly(), &mut b, 0.0);
        let a = s.handle(
            &Message::new(op::AWAIT_NEXT_SINGLE, vec![Arg::Float(-1.0)]),
            &mut b,
            0.0,
        );
        assert_eq!(
            a,
            Action::Await(
                None,
                Await::Single {
                    index: 0,
                    timeout: None
                }
            )
        );
        let mut s1 = Session::new(1, false, false);
        s1.handle(&participate_creatingly(), &mut b, 0.0);
        // Protocol 1: 0 is forever, −1 no wait.
        let a = s1.handle(
            &Message::new(op::AWAIT_NEXT_SINGLE, vec![Arg::Float(-1.0)]),
            &mut b,
            0.0,
        );
        assert_eq!(
            a,
            Action::Await(
                None,
                Await::Single {
                    index: 0,
                    timeout: Some(0.0)
                }
            )
        );
    }

    #[test]
    fn retort_names_round_trip() {
        for (n, v) in NAMES {
            assert_eq!(retort_name(*v), *n);
            assert_eq!(retort_value(n), Some(*v));
        }
    }
}
