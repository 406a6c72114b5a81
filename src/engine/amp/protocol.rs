//! Request/answer state machine (amp spec sections 2 and 4): tags, the
//! outstanding-call table, dispatch order of a received box, and the exact
//! answer/error boxes a responder sends, including when the connection must be
//! closed (section 4.2, 4.3). Sans-IO: time is passed in as the `Duration`
//! since an epoch the driver chooses (e.g. the connection's start), no
//! sockets, no clock reads.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use super::codec::AmpBox;
use super::types::python_bytes_repr;

/// `_ask`: request tag.
pub const ASK: &[u8] = b"_ask";
/// `_answer`: success answer tag.
pub const ANSWER: &[u8] = b"_answer";
/// `_command`: command name.
pub const COMMAND: &[u8] = b"_command";
/// `_error`: error answer tag.
pub const ERROR: &[u8] = b"_error";
/// `_error_code`.
pub const ERROR_CODE: &[u8] = b"_error_code";
/// `_error_description`.
pub const ERROR_DESCRIPTION: &[u8] = b"_error_description";
/// Code for a command the responder does not know; the connection stays open.
pub const UNHANDLED: &str = "UNHANDLED";
/// Code for an undeclared failure or an unparsable request; the connection is
/// closed after it.
pub const UNKNOWN: &str = "UNKNOWN";
/// Code for a StartTLS the responder cannot honour.
pub const TLS_ERROR: &str = "TLS_ERROR";
/// Description Twisted sends with `UNKNOWN`.
pub const UNKNOWN_DESCRIPTION: &str = "Unknown Error";
/// Name of Twisted's in-band TLS upgrade command (section 4.5).
pub const STARTTLS: &str = "StartTLS";

/// How many abandoned or timed-out tags are remembered so their late answers
/// are dropped quietly instead of being treated as a protocol violation.
const ABANDONED_MEMORY: usize = 4096;

/// A peer broke the protocol; the connection must be closed (Twisted drops it
/// without a reply in each of these cases).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// `_answer`/`_error` for a tag we never issued or already completed.
    #[error("answer for tag {0:?} which is not pending")]
    UnknownTag(String),
    /// A box with none of `_answer`, `_error`, `_command` (includes the empty
    /// box; Twisted's `NoEmptyBoxes`).
    #[error("box with no _answer, _error or _command ({0} keys)")]
    NoCommand(usize),
}

/// A call waiting for its answer.
#[derive(Debug)]
pub struct Pending<W> {
    /// Command name.
    pub command: String,
    /// When it was sent.
    pub sent_at: Duration,
    /// When it times out locally.
    pub deadline: Option<Duration>,
    /// Whatever the driver uses to deliver the result.
    pub waiter: W,
}

/// What a received box means.
#[derive(Debug)]
pub enum Incoming<W> {
    /// A success answer to one of our calls.
    Answer {
        /// The completed call.
        pending: Pending<W>,
        /// Response fields (reserved keys removed).
        fields: AmpBox,
    },
    /// An error answer to one of our calls: remote failure as data.
    Error {
        /// The failed call.
        pending: Pending<W>,
        /// `_error_code`.
        code: String,
        /// `_error_description`.
        description: String,
    },
    /// A request from the peer.
    Request(Request),
    /// A late answer for a call we abandoned or that timed out; ignored.
    Late,
}

/// A request the peer sent us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `_ask`, when an answer is wanted (opaque bytes, echoed verbatim).
    pub tag: Option<Bytes>,
    /// `_command`.
    pub command: Bytes,
    /// Arguments (reserved keys removed).
    pub args: AmpBox,
}

/// What a responder decided; [`Request::reply`] turns it into wire behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Success with response fields.
    Answer(AmpBox),
    /// A declared error; `fatal` closes the connection after sending it.
    Error {
        /// Code.
        code: String,
        /// Human text.
        description: String,
        /// From `fatalErrors`.
        fatal: bool,
    },
    /// The command is not known: `UNHANDLED`, connection kept.
    Unhandled,
    /// An undeclared failure or unparsable arguments: `UNKNOWN`, connection closed.
    Unknown,
}

/// The wire effect of an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Box to send, if any.
    pub send: Option<AmpBox>,
    /// Close the connection after sending.
    pub close: bool,
}

impl Request {
    /// Applies spec section 4.2/4.3: with `_ask`, every outcome is answered and
    /// `UNKNOWN` or a fatal error closes; without `_ask`, nothing is sent and any
    /// failure closes (Twisted's unhandled-error path drops the connection).
    pub fn reply(&self, outcome: Outcome) -> Reply {
        let Some(tag) = &self.tag else {
            return Reply {
                send: None,
                close: !matches!(outcome, Outcome::Answer(_)),
            };
        };
        match outcome {
            Outcome::Answer(fields) => Reply {
                send: Some(answer_box(tag, fields)),
                close: false,
            },
            Outcome::Error {
                code,
                description,
                fatal,
            } => Reply {
                send: Some(error_box(tag, &code, &description)),
                close: fatal,
            },
            Outcome::Unhandled => Reply {
                send: Some(error_box(
                    tag,
                    UNHANDLED,
                    &format!("Unhandled Command: {}", python_bytes_repr(&self.command)),
                )),
                close: false,
            },
            Outcome::Unknown => Reply {
                send: Some(error_box(tag, UNKNOWN, UNKNOWN_DESCRIPTION)),
                close: true,
            },
        }
    }

    /// The command name as text (lossy).
    pub fn command_text(&self) -> String {
        String::from_utf8_lossy(&self.command).into_owned()
    }
}

/// `_answer` box with `fields`.
pub fn answer_box(tag: &Bytes, mut fields: AmpBox) -> AmpBox {
    fields.insert(Bytes::from_static(ANSWER), tag.clone());
    fields
}

/// `_error` box.
pub fn error_box(tag: &Bytes, code: &str, description: &str) -> AmpBox {
    AmpBox::new()
        .with(Bytes::from_static(ERROR), tag.clone())
        .with(
            Bytes::from_static(ERROR_CODE),
            Bytes::copy_from_slice(code.as_bytes()),
        )
        .with(
            Bytes::from_static(ERROR_DESCRIPTION),
            Bytes::copy_from_slice(description.as_bytes()),
        )
}

/// The caller and dispatch side of one connection: issues tags, keeps the
/// outstanding-call table and classifies received boxes. `W` is the driver's
/// way of delivering a result (a oneshot sender in `io`).
#[derive(Debug)]
pub struct Peer<W> {
    next_tag: u64,
    pending: HashMap<Bytes, Pending<W>>,
    deadlines: BTreeSet<(Duration, Bytes)>,
    abandoned: HashSet<Bytes>,
    abandoned_order: VecDeque<Bytes>,
}

impl<W> Default for Peer<W> {
    fn default() -> Self {
        Self {
            next_tag: 1,
            pending: HashMap::new(),
            deadlines: BTreeSet::new(),
            abandoned: HashSet::new(),
            abandoned_order: VecDeque::new(),
        }
    }
}

impl<W> Peer<W> {
    /// A fresh connection state; the first tag is `1`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a request box. The tag counter advances for every call, with
    /// or without `_ask` (section 2), and tags are lower-case hex as Twisted
    /// writes them. Returns the box and, when an answer is wanted, its tag;
    /// `waiter` is registered under that tag.
    pub fn call(
        &mut self,
        command: &str,
        mut args: AmpBox,
        requires_answer: bool,
        now: Duration,
        deadline: Option<Duration>,
        waiter: W,
    ) -> (AmpBox, Result<Bytes, W>) {
        let tag = Bytes::from(format!("{:x}", self.next_tag));
        self.next_tag += 1;
        args.insert(
            Bytes::from_static(COMMAND),
            Bytes::copy_from_slice(command.as_bytes()),
        );
        if !requires_answer {
            return (args, Err(waiter));
        }
        args.insert(Bytes::from_static(ASK), tag.clone());
        if let Some(d) = deadline {
            self.deadlines.insert((d, tag.clone()));
        }
        self.pending.insert(
            tag.clone(),
            Pending {
                command: command.to_string(),
                sent_at: now,
                deadline,
                waiter,
            },
        );
        (args, Ok(tag))
    }

    /// Classifies a received box in Twisted's order: `_answer`, `_error`,
    /// `_command`, else a violation.
    pub fn receive(&mut self, mut b: AmpBox) -> Result<Incoming<W>, Violation> {
        if let Some(tag) = b.remove(ANSWER) {
            let Some(pending) = self.take(&tag) else {
                return self.late(tag);
            };
            strip_reserved(&mut b);
            return Ok(Incoming::Answer { pending, fields: b });
        }
        if let Some(tag) = b.remove(ERROR) {
            let Some(pending) = self.take(&tag) else {
                return self.late(tag);
            };
            let text = |k: &[u8]| {
                b.get(k)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default()
            };
            return Ok(Incoming::Error {
                code: text(ERROR_CODE),
                description: text(ERROR_DESCRIPTION),
                pending,
            });
        }
        if let Some(command) = b.remove(COMMAND) {
            let tag = b.remove(ASK);
            strip_reserved(&mut b);
            return Ok(Incoming::Request(Request {
                tag,
                command,
                args: b,
            }));
        }
        Err(Violation::NoCommand(b.len()))
    }

    fn late(&mut self, tag: Bytes) -> Result<Incoming<W>, Violation> {
        if self.abandoned.remove(&tag) {
            Ok(Incoming::Late)
        } else {
            Err(Violation::UnknownTag(
                String::from_utf8_lossy(&tag).into_owned(),
            ))
        }
    }

    fn take(&mut self, tag: &Bytes) -> Option<Pending<W>> {
        let p = self.pending.remove(tag)?;
        if let Some(d) = p.deadline {
            self.deadlines.remove(&(d, tag.clone()));
        }
        Some(p)
    }

    fn remember_abandoned(&mut self, tag: Bytes) {
        if self.abandoned_order.len() >= ABANDONED_MEMORY {
            if let Some(old) = self.abandoned_order.pop_front() {
                self.abandoned.remove(&old);
            }
        }
        self.abandoned.insert(tag.clone());
        self.abandoned_order.push_back(tag);
    }

    /// Stops waiting for `tag`; a later answer is dropped quietly, since AMP
    /// cannot tell the peer to stop (section 8).
    pub fn abandon(&mut self, tag: &Bytes) -> Option<Pending<W>> {
        let p = self.take(tag)?;
        self.remember_abandoned(tag.clone());
        Some(p)
    }

    /// Removes and returns calls whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Duration) -> Vec<(Bytes, Pending<W>)> {
        let mut out = Vec::new();
        while let Some((d, tag)) = self.deadlines.first().cloned() {
            if d > now {
                break;
            }
            if let Some(p) = self.abandon(&tag) {
                out.push((tag, p));
            } else {
                self.deadlines.remove(&(d, tag));
            }
        }
        out
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// Finds the tag of the pending call whose waiter matches.
    pub fn find(&self, mut matches: impl FnMut(&W) -> bool) -> Option<Bytes> {
        self.pending
            .iter()
            .find(|(_, p)| matches(&p.waiter))
            .map(|(t, _)| t.clone())
    }

    /// Removes every pending call (the connection is gone).
    pub fn fail_all(&mut self) -> Vec<Pending<W>> {
        self.deadlines.clear();
        self.pending.drain().map(|(_, p)| p).collect()
    }

    /// Number of calls waiting for an answer.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }
}

fn strip_reserved(b: &mut AmpBox) {
    for k in [ASK, ANSWER, ERROR, COMMAND, ERROR_CODE, ERROR_DESCRIPTION] {
        b.remove(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_hex_and_advance_without_ask() {
        let mut p: Peer<()> = Peer::new();
        let now = Duration::from_secs(100);
        let (b, t) = p.call("Log", AmpBox::new(), false, now, None, ());
        assert!(t.is_err() && !b.contains(ASK));
        for _ in 0..9 {
            let _ = p.call("Sum", AmpBox::new(), true, now, None, ());
        }
        let (_, t) = p.call("Sum", AmpBox::new(), true, now, None, ());
        assert_eq!(t.unwrap().as_ref(), b"b");
    }

    #[test]
    fn answer_for_unknown_tag_is_a_violation_but_abandoned_is_late() {
        let mut p: Peer<()> = Peer::new();
        let now = Duration::from_secs(100);
        let (_, tag) = p.call("Sum", AmpBox::new(), true, now, None, ());
        let tag = tag.unwrap();
        p.abandon(&tag);
        let late = answer_box(&tag, AmpBox::new());
        assert!(matches!(p.receive(late.clone()), Ok(Incoming::Late)));
        assert!(matches!(p.receive(late), Err(Violation::UnknownTag(_))));
        assert!(matches!(
            p.receive(AmpBox::new()),
            Err(Violation::NoCommand(0))
        ));
    }

    #[test]
    fn deadlines_expire_in_order() {
        let mut p: Peer<u8> = Peer::new();
        let now = Duration::from_secs(100);
        let later = now + Duration::from_secs(2);
        let _ = p.call("A", AmpBox::new(), true, now, Some(later), 1);
        let _ = p.call(
            "B",
            AmpBox::new(),
            true,
            now,
            Some(now + Duration::from_secs(1)),
            2,
        );
        let _ = p.call("C", AmpBox::new(), true, now, None, 3);
        assert_eq!(p.next_deadline(), Some(now + Duration::from_secs(1)));
        let gone = p.expire(now + Duration::from_millis(1500));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].1.waiter, 2);
        assert_eq!(p.outstanding(), 2);
    }

    #[test]
    fn reply_rules_follow_twisted() {
        let asked = Request {
            tag: Some(Bytes::from_static(b"1")),
            command: Bytes::from_static(b"Nope"),
            args: AmpBox::new(),
        };
        let r = asked.reply(Outcome::Unhandled);
        assert!(!r.close);
        assert_eq!(
            r.send.unwrap().get(ERROR_DESCRIPTION).unwrap().as_ref(),
            b"Unhandled Command: b'Nope'"
        );
        assert!(asked.reply(Outcome::Unknown).close);
        let quiet = Request { tag: None, ..asked };
        let r = quiet.reply(Outcome::Unhandled);
        assert!(r.close && r.send.is_none());
        let r = quiet.reply(Outcome::Answer(AmpBox::new()));
        assert!(!r.close && r.send.is_none());
    }
}
