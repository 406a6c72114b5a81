//! The request/reply state of one connection and the RPC dispatch (simpyio
//! spec §2.1, §2.2 and §3).
//!
//! Sans-IO: no sockets, no clock. Time comes in as an [`Instant`] argument so
//! timeouts are testable with any clock (tokio's paused one, the simulated
//! network's). One [`Peer`] per connection numbers its own requests from 0,
//! keeps the pending table, caps outstanding requests both ways
//! (`message_limit`) and turns every received message into an [`Event`] or a
//! [`Violation`] that ends the connection.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::codec::{Kind, Message};
use super::json::Json;

/// Default `message_limit` of simpy.io's `Message`.
pub const MESSAGE_LIMIT: usize = 1024;

/// How many abandoned or timed-out request ids are remembered, so that their
/// late replies are dropped quietly instead of counting as unknown ids.
const ABANDONED_MEMORY: usize = 4096;

/// Custom type id of a proxy: a reference to an object of the receiving peer.
pub const TYPEID_PROXY: u64 = 0;
/// Custom type id of an exposed object: a reference to an object of the sender.
pub const TYPEID_EXPOSED: u64 = 1;

/// The custom-type table of a connection (spec §2.4): which `__type__` id on
/// the wire means what.
///
/// simpy.io's `json.JSON` RPC builds its codec from the application's
/// `types` followed by its own proxy type, then the application's
/// `converters` followed by its exposed-object converter, and numbers them in
/// that order. So a peer whose class declares `types = (Point,)` sends proxies
/// as id 1 and exposed objects as id 2, and `Point` values as id 0. Both
/// peers must declare the same lists, as in Python.
///
/// Inside tidepool the ids are *canonical*, whatever the peer's layout:
/// [`TYPEID_PROXY`] (0), [`TYPEID_EXPOSED`] (1), then the application's types
/// and converters from 2 in declaration order ([`TypeIds::canonical_id`]).
/// [`Peer`] translates at the boundary: received ids outside the table make
/// the message undecodable (as in Python); canonical ids outside the table
/// are sent unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeIds {
    types: Vec<String>,
    converters: Vec<String>,
}

impl TypeIds {
    /// A table with the application's registered `types` and `converters`
    /// (names are labels for display; only their count and order matter on
    /// the wire).
    pub fn new(types: Vec<String>, converters: Vec<String>) -> Self {
        Self { types, converters }
    }

    /// Whether no application type is registered (proxy 0, exposed 1).
    pub fn is_plain(&self) -> bool {
        self.types.is_empty() && self.converters.is_empty()
    }

    /// The wire id of a proxy.
    pub fn wire_proxy(&self) -> u64 {
        self.types.len() as u64
    }

    /// The wire id of an exposed object.
    pub fn wire_exposed(&self) -> u64 {
        (self.types.len() + 1 + self.converters.len()) as u64
    }

    /// How many type ids the table defines (wire ids `0..len`).
    pub fn len(&self) -> u64 {
        self.wire_exposed() + 1
    }

    /// Never true: the RPC's two reference types are always there.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The canonical id of a wire id, `None` when the table has no such id.
    pub fn to_canonical(&self, wire: u64) -> Option<u64> {
        let t = self.types.len() as u64;
        let c = self.converters.len() as u64;
        match wire {
            w if w < t => Some(2 + w),
            w if w == t => Some(TYPEID_PROXY),
            w if w <= t + c => Some(2 + t + (w - t - 1)),
            w if w == t + c + 1 => Some(TYPEID_EXPOSED),
            _ => None,
        }
    }

    /// The wire id of a canonical id, `None` when the table has no such id.
    pub fn to_wire(&self, canonical: u64) -> Option<u64> {
        let t = self.types.len() as u64;
        let c = self.converters.len() as u64;
        match canonical {
            TYPEID_PROXY => Some(t),
            TYPEID_EXPOSED => Some(t + c + 1),
            i if i - 2 < t => Some(i - 2),
            i if i - 2 < t + c => Some(i - 2 + 1),
            _ => None,
        }
    }

    /// The canonical id of an application type or converter by name.
    pub fn canonical_id(&self, name: &str) -> Option<u64> {
        self.types
            .iter()
            .chain(self.converters.iter())
            .position(|n| n == name)
            .map(|i| i as u64 + 2)
    }

    /// The name of a canonical id: `proxy`, `exposed` or the registered name.
    pub fn name(&self, canonical: u64) -> Option<&str> {
        match canonical {
            TYPEID_PROXY => Some("proxy"),
            TYPEID_EXPOSED => Some("exposed"),
            i => {
                let i = usize::try_from(i - 2).ok()?;
                self.types
                    .get(i)
                    .or_else(|| self.converters.get(i.checked_sub(self.types.len())?))
                    .map(String::as_str)
            }
        }
    }

    /// Rewrites every `__type__` id of a received value from wire to
    /// canonical; `Err(id)` names the first id the table does not define.
    pub fn decode_ids(&self, v: &mut Json) -> Result<(), u64> {
        match v {
            Json::Custom { typeid, data } => {
                *typeid = self.to_canonical(*typeid).ok_or(*typeid)?;
                self.decode_ids(data)
            }
            Json::Array(items) => items.iter_mut().try_for_each(|v| self.decode_ids(v)),
            Json::Object(items) => items.iter_mut().try_for_each(|(_, v)| self.decode_ids(v)),
            _ => Ok(()),
        }
    }

    /// Rewrites every `__type__` id of a value to send from canonical to wire
    /// (ids outside the table are left as they are).
    pub fn encode_ids(&self, v: &mut Json) {
        if self.is_plain() {
            return;
        }
        match v {
            Json::Custom { typeid, data } => {
                *typeid = self.to_wire(*typeid).unwrap_or(*typeid);
                self.encode_ids(data);
            }
            Json::Array(items) => items.iter_mut().for_each(|v| self.encode_ids(v)),
            Json::Object(items) => items.iter_mut().for_each(|(_, v)| self.encode_ids(v)),
            _ => {}
        }
    }
}

/// One RPC call: `[path, args, kwargs]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// `/`-separated path from the receiver's root object; `""` is the root.
    pub path: String,
    /// Positional arguments.
    pub args: Vec<Json>,
    /// Keyword arguments in order.
    pub kwargs: Vec<(String, Json)>,
}

impl Call {
    /// A call with positional arguments only.
    pub fn new(path: impl Into<String>, args: Vec<Json>) -> Self {
        Self {
            path: path.into(),
            args,
            kwargs: Vec::new(),
        }
    }

    /// The request content `[path, args, kwargs]`.
    pub fn to_content(&self) -> Json {
        Json::Array(vec![
            Json::Str(self.path.clone()),
            Json::Array(self.args.clone()),
            Json::Object(self.kwargs.clone()),
        ])
    }

    /// Reads a request content. `Err(None)` when it is not `[path, args, kwargs]`
    /// at all (a protocol violation); `Err(Some(failure))` when the shape is
    /// right but an argument list has the wrong type, which Python answers with
    /// a `TypeError` failure.
    pub fn from_content(content: Json) -> Result<Call, Option<Failure>> {
        let Json::Array(items) = content else {
            return Err(None);
        };
        let Ok::<[Json; 3], _>([path, args, kwargs]) = items.try_into() else {
            return Err(None);
        };
        let Json::Str(path) = path else {
            return Err(None);
        };
        let args = match args {
            Json::Array(a) => a,
            other => {
                return Err(Some(Failure::new(
                    "TypeError",
                    format!(
                        "{path}() argument after * must be an iterable, not {}",
                        other.type_name()
                    ),
                )))
            }
        };
        let kwargs = match kwargs {
            Json::Object(k) => k,
            other => {
                return Err(Some(Failure::new(
                    "TypeError",
                    format!(
                        "{path}() argument after ** must be a mapping, not {}",
                        other.type_name()
                    ),
                )))
            }
        };
        Ok(Call { path, args, kwargs })
    }
}

/// A failure as sent in a FAILURE reply: Python sends a whole traceback; we
/// send its last line, `ExceptionName: message` (spec §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Python exception class name (`ValueError`, `TypeError`, `RuntimeError`).
    pub exception: String,
    /// The message.
    pub message: String,
}

impl Failure {
    /// A failure with an exception name and a message.
    pub fn new(exception: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            exception: exception.into(),
            message: message.into(),
        }
    }

    /// The reply text.
    pub fn to_text(&self) -> String {
        format!("{}: {}", self.exception, self.message)
    }
}

/// The outcome of a call as the caller sees it. A FAILURE is data, not an
/// error: the text is shown as the peer wrote it.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// SUCCESS with the result.
    Success(Json),
    /// FAILURE with the peer's text (a Python traceback from a Python peer).
    Failure(String),
}

impl Reply {
    /// The last non-empty line of a failure text: the exception line of a
    /// Python traceback.
    pub fn failure_summary(text: &str) -> &str {
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or(text)
    }
}

/// A protocol violation by the peer; the connection it happened on is closed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Violation {
    /// A SUCCESS/FAILURE whose id matches no request of ours.
    #[error("reply for id {0} that is not pending")]
    UnknownReplyId(String),
    /// More unanswered requests from the peer than `message_limit`.
    #[error("peer has more than {0} requests outstanding")]
    TooManyRequests(usize),
    /// A request whose content is not `[path, args, kwargs]`.
    #[error("request {0} content is not [path, args, kwargs]")]
    BadRequest(String),
    /// A `__type__` id this side has not registered.
    #[error("unknown custom type id {0}")]
    UnknownType(u64),
    /// A FAILURE whose content is not a string.
    #[error("failure reply {0} content is not a string")]
    BadFailure(String),
}

/// Sending beyond `message_limit` (simpy.io's `MessageOverflowError`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("too many outstanding requests (message_limit {0})")]
pub struct Overflow(pub usize);

/// What a received message means.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The peer calls us; answer with [`Peer::reply`] using `id` unchanged.
    Request {
        /// The peer's id, echoed verbatim.
        id: Json,
        /// The call, or the `TypeError` failure to send back.
        call: Result<Call, Failure>,
    },
    /// A reply to one of our requests.
    Reply {
        /// Our request id.
        id: u64,
        /// What the peer answered.
        reply: Reply,
        /// Time from sending to this reply.
        latency: Duration,
    },
    /// A reply for a request we abandoned or timed out; dropped.
    Late {
        /// Our request id.
        id: u64,
    },
}

struct Pending {
    sent: Instant,
    deadline: Option<Instant>,
}

/// Per-connection request/reply state.
pub struct Peer {
    limit: usize,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    // Ordered deadlines, so the timer query is O(log n) with many calls in flight.
    deadlines: BTreeSet<(Instant, u64)>,
    abandoned: HashSet<u64>,
    abandoned_order: VecDeque<u64>,
    incoming: usize,
    types: Arc<TypeIds>,
}

impl Default for Peer {
    fn default() -> Self {
        Self::new(MESSAGE_LIMIT)
    }
}

impl Peer {
    /// A fresh peer with the given `message_limit`.
    pub fn new(message_limit: usize) -> Self {
        Self::with_types(message_limit, Arc::new(TypeIds::default()))
    }

    /// A fresh peer with the given `message_limit` and custom-type table.
    pub fn with_types(message_limit: usize, types: Arc<TypeIds>) -> Self {
        Self {
            limit: message_limit,
            next_id: 0,
            pending: HashMap::new(),
            deadlines: BTreeSet::new(),
            abandoned: HashSet::new(),
            abandoned_order: VecDeque::new(),
            incoming: 0,
            types,
        }
    }

    /// The custom-type table of this connection.
    pub fn types(&self) -> &TypeIds {
        &self.types
    }

    /// Our requests still waiting for a reply.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The peer's requests we have not answered yet.
    pub fn incoming(&self) -> usize {
        self.incoming
    }

    /// Starts a request: allocates the next id and returns the message to send.
    pub fn request(
        &mut self,
        call: &Call,
        now: Instant,
        timeout: Option<Duration>,
    ) -> Result<(u64, Message), Overflow> {
        if self.pending.len() >= self.limit {
            return Err(Overflow(self.limit));
        }
        let id = self.next_id;
        self.next_id += 1;
        let deadline = timeout.and_then(|t| now.checked_add(t));
        if let Some(d) = deadline {
            self.deadlines.insert((d, id));
        }
        self.pending.insert(
            id,
            Pending {
                sent: now,
                deadline,
            },
        );
        let mut content = call.to_content();
        self.types.encode_ids(&mut content);
        Ok((
            id,
            Message {
                kind: Kind::Request,
                id: Json::Int(id.into()),
                content,
            },
        ))
    }

    /// The reply message for a request of the peer.
    pub fn reply(&mut self, id: Json, outcome: Result<Json, Failure>) -> Message {
        self.incoming = self.incoming.saturating_sub(1);
        match outcome {
            Ok(mut value) => {
                self.types.encode_ids(&mut value);
                Message {
                    kind: Kind::Success,
                    id,
                    content: value,
                }
            }
            Err(f) => Message {
                kind: Kind::Failure,
                id,
                content: Json::Str(f.to_text()),
            },
        }
    }

    /// Handles one received message.
    pub fn receive(&mut self, mut msg: Message, now: Instant) -> Result<Event, Violation> {
        self.types
            .decode_ids(&mut msg.content)
            .map_err(Violation::UnknownType)?;
        match msg.kind {
            Kind::Request => {
                if self.incoming >= self.limit {
                    return Err(Violation::TooManyRequests(self.limit));
                }
                let call = match Call::from_content(msg.content) {
                    Ok(c) => Ok(c),
                    Err(Some(f)) => Err(f),
                    Err(None) => return Err(Violation::BadRequest(msg.id.to_text())),
                };
                self.incoming += 1;
                Ok(Event::Request { id: msg.id, call })
            }
            Kind::Success | Kind::Failure => {
                let id = match &msg.id {
                    Json::Int(i) => u64::try_from(*i).ok(),
                    _ => None,
                };
                let Some(id) = id else {
                    return Err(Violation::UnknownReplyId(msg.id.to_text()));
                };
                let Some(p) = self.take(id) else {
                    if self.abandoned.remove(&id) {
                        return Ok(Event::Late { id });
                    }
                    return Err(Violation::UnknownReplyId(id.to_string()));
                };
                let reply = if msg.kind == Kind::Success {
                    Reply::Success(msg.content)
                } else {
                    match msg.content {
                        Json::Str(s) => Reply::Failure(s),
                        _ => return Err(Violation::BadFailure(id.to_string())),
                    }
                };
                Ok(Event::Reply {
                    id,
                    reply,
                    latency: now.saturating_duration_since(p.sent),
                })
            }
        }
    }

    /// Forgets a pending request; its reply, if it comes, is dropped quietly.
    /// Returns whether it was pending.
    pub fn abandon(&mut self, id: u64) -> bool {
        if self.take(id).is_none() {
            return false;
        }
        if self.abandoned_order.len() >= ABANDONED_MEMORY {
            if let Some(old) = self.abandoned_order.pop_front() {
                self.abandoned.remove(&old);
            }
        }
        self.abandoned.insert(id);
        self.abandoned_order.push_back(id);
        true
    }

    fn take(&mut self, id: u64) -> Option<Pending> {
        let p = self.pending.remove(&id)?;
        if let Some(d) = p.deadline {
            self.deadlines.remove(&(d, id));
        }
        Some(p)
    }

    /// The earliest request deadline, for the I/O layer's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// Abandons every request whose deadline has passed and returns their ids
    /// (earliest first, so a seeded simulation replays the same order).
    pub fn expire(&mut self, now: Instant) -> Vec<u64> {
        let mut due = Vec::new();
        while let Some(&(d, id)) = self.deadlines.first() {
            if d > now {
                break;
            }
            self.abandon(id);
            due.push(id);
        }
        due
    }

    /// Ends every pending request (the connection closed); returns their ids.
    pub fn close(&mut self) -> Vec<u64> {
        self.deadlines.clear();
        let mut ids: Vec<u64> = self.pending.drain().map(|(id, _)| id).collect();
        ids.sort_unstable();
        ids
    }
}

/// Turns received object references into the ones to send back: a proxy of one
/// of our objects (0) goes out as an exposed object (1) and the other way round,
/// as the Python RPC's converters do when a method returns what it was given.
pub fn swap_refs(v: Json) -> Json {
    match v {
        Json::Custom { typeid, data } => Json::Custom {
            typeid: match typeid {
                TYPEID_PROXY => TYPEID_EXPOSED,
                TYPEID_EXPOSED => TYPEID_PROXY,
                other => other,
            },
            data: Box::new(swap_refs(*data)),
        },
        Json::Array(items) => Json::Array(items.into_iter().map(swap_refs).collect()),
        Json::Object(items) => {
            Json::Object(items.into_iter().map(|(k, v)| (k, swap_refs(v))).collect())
        }
        other => other,
    }
}

/// A short description of an object reference in a received value, for display:
/// `proxy of our "math"` or `remote object "math"`.
pub fn describe_ref(v: &Json) -> Option<String> {
    match v {
        Json::Custom {
            typeid: TYPEID_PROXY,
            data,
        } => Some(format!("proxy of our object {data}")),
        Json::Custom {
            typeid: TYPEID_EXPOSED,
            data,
        } => Some(format!("remote object {data} (callable at that path)")),
        _ => None,
    }
}

/// A parameter of an exposed method, for Python-style argument binding.
#[derive(Clone, Debug)]
pub struct Param {
    /// Parameter name (keyword arguments bind by it).
    pub name: &'static str,
    /// Default value; `None` makes the parameter required.
    pub default: Option<Json>,
}

impl Param {
    /// A required parameter.
    pub const fn required(name: &'static str) -> Self {
        Self {
            name,
            default: None,
        }
    }

    /// A parameter with a default.
    pub fn optional(name: &'static str, default: Json) -> Self {
        Self {
            name,
            default: Some(default),
        }
    }
}

/// A plain method: bound arguments in parameter order in, result or failure out.
pub type SyncFn = Arc<dyn Fn(Vec<Json>) -> Result<Json, Failure> + Send + Sync>;

/// What runs when a method is called. `A` is the I/O layer's asynchronous body
/// (a method that waits or calls the peer back); the protocol only routes it.
pub enum Body<A> {
    /// Answers at once.
    Sync(SyncFn),
    /// Answered later by the I/O layer.
    Async(A),
}

impl<A: Clone> Clone for Body<A> {
    fn clone(&self) -> Self {
        match self {
            Body::Sync(f) => Body::Sync(f.clone()),
            Body::Async(a) => Body::Async(a.clone()),
        }
    }
}

/// An exposed method: its signature and body.
pub struct Method<A> {
    /// Parameters (`*args`/`**kwargs` are not modelled; mock methods do not need them).
    pub params: Vec<Param>,
    /// What runs.
    pub body: Body<A>,
}

/// The object tree a peer exposes: methods by full `/`-separated path.
pub struct Router<A> {
    methods: HashMap<String, Arc<Method<A>>>,
}

impl<A> Default for Router<A> {
    fn default() -> Self {
        Self {
            methods: HashMap::new(),
        }
    }
}

impl<A> Router<A> {
    /// An empty root object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Exposes a method at `path` (`"echo"`, `"math/mul"`).
    pub fn method(&mut self, path: &str, params: Vec<Param>, body: Body<A>) -> &mut Self {
        self.methods
            .insert(path.to_owned(), Arc::new(Method { params, body }));
        self
    }

    /// Exposes a plain function at `path`.
    pub fn sync(
        &mut self,
        path: &str,
        params: Vec<Param>,
        f: impl Fn(Vec<Json>) -> Result<Json, Failure> + Send + Sync + 'static,
    ) -> &mut Self {
        self.method(path, params, Body::Sync(Arc::new(f)))
    }

    /// Mounts every method of `child` under `prefix/`.
    pub fn nest(&mut self, prefix: &str, child: Router<A>) -> &mut Self {
        for (path, m) in child.methods {
            self.methods.insert(format!("{prefix}/{path}"), m);
        }
        self
    }

    /// Paths of all methods, sorted.
    pub fn paths(&self) -> Vec<&str> {
        let mut p: Vec<&str> = self.methods.keys().map(String::as_str).collect();
        p.sort_unstable();
        p
    }

    /// Whether `path` names an object or method of this tree.
    pub fn is_object(&self, path: &str) -> bool {
        path.is_empty()
            || self.methods.keys().any(|m| {
                m == path || (m.starts_with(path) && m.as_bytes().get(path.len()) == Some(&b'/'))
            })
    }

    /// Resolves a call to its method and binds its arguments. Failures are
    /// worded like the Python side's.
    pub fn resolve(&self, call: Call) -> Result<(Arc<Method<A>>, Vec<Json>), Failure> {
        let Some(method) = self.methods.get(&call.path) else {
            return Err(Failure::new(
                "RuntimeError",
                format!("Failed to resolve path {}", call.path),
            ));
        };
        for arg in call.args.iter().chain(call.kwargs.iter().map(|(_, v)| v)) {
            if let Json::Custom {
                typeid: TYPEID_PROXY,
                data,
            } = arg
            {
                let target = data.as_str().unwrap_or_default();
                if !self.is_object(target) {
                    return Err(Failure::new(
                        "RuntimeError",
                        format!("Failed to resolve path {target}"),
                    ));
                }
            }
        }
        let name = call.path.rsplit('/').next().unwrap_or_default();
        let args = bind(name, &method.params, call.args, call.kwargs)?;
        Ok((method.clone(), args))
    }
}

fn bind(
    name: &str,
    params: &[Param],
    args: Vec<Json>,
    kwargs: Vec<(String, Json)>,
) -> Result<Vec<Json>, Failure> {
    let type_error = |msg: String| Failure::new("TypeError", format!("{name}() {msg}"));
    if args.len() > params.len() {
        return Err(type_error(format!(
            "takes {} positional argument{} but {} were given",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            args.len()
        )));
    }
    let mut slots: Vec<Option<Json>> = args.into_iter().map(Some).collect();
    slots.resize(params.len(), None);
    for (key, value) in kwargs {
        let Some(i) = params.iter().position(|p| p.name == key) else {
            return Err(type_error(format!(
                "got an unexpected keyword argument '{key}'"
            )));
        };
        if slots[i].is_some() {
            return Err(type_error(format!(
                "got multiple values for argument '{key}'"
            )));
        }
        slots[i] = Some(value);
    }
    let mut missing = Vec::new();
    let mut bound = Vec::with_capacity(params.len());
    for (slot, p) in slots.into_iter().zip(params) {
        match slot.or_else(|| p.default.clone()) {
            Some(v) => bound.push(v),
            None => missing.push(format!("'{}'", p.name)),
        }
    }
    if !missing.is_empty() {
        return Err(type_error(format!(
            "missing {} required positional argument{}: {}",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            missing.join(" and ")
        )));
    }
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn ids_count_from_zero_and_replies_match_out_of_order() {
        let now = t0();
        let mut p = Peer::default();
        let (a, ma) = p
            .request(&Call::new("echo", vec![1.into()]), now, None)
            .unwrap();
        let (b, _) = p
            .request(&Call::new("echo", vec![2.into()]), now, None)
            .unwrap();
        assert_eq!((a, b), (0, 1));
        assert_eq!(ma.to_text(), "[0, 0, [\"echo\", [1], {}]]");
        let later = now + Duration::from_millis(5);
        let ev = p
            .receive(Message::from_text("[1, 1, 2]").unwrap(), later)
            .unwrap();
        assert_eq!(
            ev,
            Event::Reply {
                id: 1,
                reply: Reply::Success(2.into()),
                latency: Duration::from_millis(5)
            }
        );
        let ev = p
            .receive(
                Message::from_text("[2, 0, \"ValueError: x\"]").unwrap(),
                later,
            )
            .unwrap();
        assert!(matches!(
            ev,
            Event::Reply {
                id: 0,
                reply: Reply::Failure(_),
                ..
            }
        ));
        assert!(matches!(
            p.receive(Message::from_text("[1, 0, 2]").unwrap(), later),
            Err(Violation::UnknownReplyId(_))
        ));
        assert!(matches!(
            p.receive(Message::from_text("[1, \"x\", 2]").unwrap(), later),
            Err(Violation::UnknownReplyId(_))
        ));
    }

    #[test]
    fn timeouts_expire_and_late_replies_are_dropped() {
        let now = t0();
        let mut p = Peer::default();
        let (id, _) = p
            .request(
                &Call::new("slow", vec![]),
                now,
                Some(Duration::from_secs(1)),
            )
            .unwrap();
        assert_eq!(p.next_deadline(), Some(now + Duration::from_secs(1)));
        assert!(p.expire(now).is_empty());
        assert_eq!(p.expire(now + Duration::from_secs(1)), vec![id]);
        assert_eq!(
            p.receive(Message::from_text("[1, 0, null]").unwrap(), now)
                .unwrap(),
            Event::Late { id }
        );
    }

    #[test]
    fn limits_both_ways() {
        let now = t0();
        let mut p = Peer::new(2);
        p.request(&Call::new("a", vec![]), now, None).unwrap();
        p.request(&Call::new("a", vec![]), now, None).unwrap();
        assert_eq!(
            p.request(&Call::new("a", vec![]), now, None),
            Err(Overflow(2))
        );
        let req = || Message::from_text("[0, 0, [\"a\", [], {}]]").unwrap();
        p.receive(req(), now).unwrap();
        p.receive(req(), now).unwrap();
        assert_eq!(p.receive(req(), now), Err(Violation::TooManyRequests(2)));
    }

    #[test]
    fn request_shapes() {
        let now = t0();
        let mut p = Peer::default();
        assert!(matches!(
            p.receive(Message::from_text("[0, 0, \"ohai\"]").unwrap(), now),
            Err(Violation::BadRequest(_))
        ));
        let ev = p
            .receive(Message::from_text("[0, 1, [\"a\", 5, {}]]").unwrap(), now)
            .unwrap();
        assert!(matches!(ev, Event::Request { call: Err(_), .. }));
        assert!(matches!(
            p.receive(
                Message::from_text("[0, 1, [\"a\", [{\"__type__\": [7, 1]}], {}]]").unwrap(),
                now
            ),
            Err(Violation::UnknownType(7))
        ));
    }

    #[test]
    fn binding_is_python_like() {
        let mut r: Router<()> = Router::new();
        r.sync(
            "greet",
            vec![
                Param::required("name"),
                Param::optional("punct", "!".into()),
            ],
            |a| {
                Ok(Json::Str(format!(
                    "hi {}{}",
                    a[0].as_str().unwrap_or(""),
                    a[1].as_str().unwrap_or("")
                )))
            },
        );
        let call = |args: Vec<Json>, kw: Vec<(&str, Json)>| Call {
            path: "greet".into(),
            args,
            kwargs: kw.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        };
        let (_, a) = r
            .resolve(call(vec!["rust".into()], vec![("punct", "?".into())]))
            .unwrap();
        assert_eq!(a, vec![Json::str("rust"), Json::str("?")]);
        let e = r.resolve(call(vec![], vec![])).err().unwrap();
        assert_eq!(
            e.to_text(),
            "TypeError: greet() missing 1 required positional argument: 'name'"
        );
        let e = r
            .resolve(call(vec![], vec![("x", Json::Null)]))
            .err()
            .unwrap();
        assert_eq!(
            e.to_text(),
            "TypeError: greet() got an unexpected keyword argument 'x'"
        );
        let e = r.resolve(Call::new("nosuch", vec![])).err().unwrap();
        assert_eq!(e.to_text(), "RuntimeError: Failed to resolve path nosuch");
    }

    proptest::proptest! {
        // The body of fuzz/fuzz_targets/simpyio_packet.rs, run on every test pass.
        #[test]
        fn decoder_and_peer_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), split in 0usize..512) {
            use tokio_util::codec::Decoder;
            let now = t0();
            let mut codec = super::super::codec::MessageCodec::new(4096);
            let mut peer = Peer::new(8);
            let split = split.min(data.len());
            let mut buf = bytes::BytesMut::new();
            for chunk in [&data[..split], &data[split..]] {
                buf.extend_from_slice(chunk);
                while let Ok(Some(msg)) = codec.decode(&mut buf) {
                    let _ = msg.to_text();
                    let _ = peer.receive(msg, now);
                }
            }
        }

        #[test]
        fn well_formed_messages_never_panic_the_peer(kind in 0i64..3, id in -3i64..5, body in "[a-z\\[\\]\", 0-9{}]{0,40}") {
            let now = t0();
            let mut peer = Peer::new(4);
            let _ = peer.request(&Call::new("x", vec![]), now, Some(Duration::from_secs(1)));
            if let Ok(msg) = Message::from_text(&format!("[{kind}, {id}, {body}]")) {
                let _ = peer.receive(msg, now);
            }
            let _ = peer.expire(now + Duration::from_secs(2));
        }
    }

    #[test]
    fn refs_swap_and_resolve() {
        let proxy = Json::parse("{\"__type__\": [0, \"math\"]}").unwrap();
        assert_eq!(swap_refs(proxy).to_text(), "{\"__type__\": [1, \"math\"]}");
        let mut r: Router<()> = Router::new();
        r.sync("math/mul", vec![], |_| Ok(Json::Null));
        assert!(r.is_object("math"));
        assert!(!r.is_object("mat"));
        assert!(r.is_object(""));
    }

    #[test]
    fn type_ids_follow_the_python_rpc_layout() {
        let plain = TypeIds::default();
        assert_eq!((plain.wire_proxy(), plain.wire_exposed()), (0, 1));
        assert_eq!(plain.to_canonical(2), None);
        let t = TypeIds::new(vec!["A".into(), "B".into()], vec!["C".into()]);
        // Wire: A=0, B=1, proxy=2, C=3, exposed=4.
        let wire: Vec<Option<u64>> = (0..6).map(|w| t.to_canonical(w)).collect();
        assert_eq!(
            wire,
            vec![
                Some(2),
                Some(3),
                Some(TYPEID_PROXY),
                Some(4),
                Some(TYPEID_EXPOSED),
                None
            ]
        );
        for w in 0..t.len() {
            let c = t.to_canonical(w).unwrap();
            assert_eq!(t.to_wire(c), Some(w));
        }
        assert_eq!(t.to_wire(5), None);
        assert_eq!(t.name(4), Some("C"));
        assert_eq!(t.name(5), None);
        assert_eq!(t.canonical_id("B"), Some(3));
        assert_eq!(t.canonical_id("proxy"), None);
    }

    proptest::proptest! {
        #[test]
        fn type_id_mapping_round_trips_and_never_panics(
            types in 0usize..5,
            converters in 0usize..5,
            id in proptest::prelude::any::<u64>(),
        ) {
            let t = TypeIds::new(
                (0..types).map(|i| format!("t{i}")).collect(),
                (0..converters).map(|i| format!("c{i}")).collect(),
            );
            if let Some(c) = t.to_canonical(id) {
                proptest::prop_assert_eq!(t.to_wire(c), Some(id));
            }
            if let Some(w) = t.to_wire(id) {
                proptest::prop_assert_eq!(t.to_canonical(w), Some(id));
            }
            let _ = t.name(id);
        }
    }
}
