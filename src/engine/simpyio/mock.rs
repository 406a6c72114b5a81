//! The echo/mock service of `tidepool serve --rpc`: the same methods as the
//! Python interop kit's server (`echo`, `add`, `greet`, `fail`, `delay`,
//! `callback`, `math/mul`), so the kit's client passes against us, plus the
//! client-side `ping` the kit's server calls back.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use super::io::{AsyncBody, Service};
use super::json::Json;
use super::protocol::{Body, Call, Failure, Param, Reply};

/// The server's root object.
pub fn server() -> Service {
    let mut root = Service::new();
    root.sync("echo", vec![Param::required("value")], |mut a| {
        Ok(a.pop().unwrap_or(Json::Null))
    });
    root.sync(
        "add",
        vec![Param::required("a"), Param::required("b")],
        |a| binary(&a, "+"),
    );
    root.sync(
        "greet",
        vec![
            Param::required("name"),
            Param::optional("punct", "!".into()),
        ],
        |a| match (&a[0], &a[1]) {
            (Json::Str(n), Json::Str(p)) => Ok(Json::Str(format!("hi {n}{p}"))),
            (x, y) => Err(Failure::new(
                "TypeError",
                format!(
                    "can only concatenate str (not \"{}\") to str",
                    if x.as_str().is_none() {
                        x.type_name()
                    } else {
                        y.type_name()
                    }
                ),
            )),
        },
    );
    root.sync("fail", vec![Param::required("message")], |a| {
        let text = match &a[0] {
            Json::Str(s) => s.clone(),
            other => other.to_text(),
        };
        Err(Failure::new("ValueError", text))
    });
    let delay: AsyncBody = Arc::new(|_ctx, a| {
        async move {
            let secs = match &a[0] {
                Json::Int(i) => *i as f64,
                Json::Float(f) => *f,
                other => {
                    return Err(Failure::new(
                        "TypeError",
                        format!("delay must be a number, not {}", other.type_name()),
                    ))
                }
            };
            // Bounded so that a mistaken call cannot pin a connection for ever.
            let secs = if secs.is_finite() {
                secs.clamp(0.0, 3600.0)
            } else {
                0.0
            };
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            Ok(a[1].clone())
        }
        .boxed()
    });
    root.method(
        "delay",
        vec![Param::required("seconds"), Param::required("value")],
        Body::Async(delay),
    );
    let callback: AsyncBody = Arc::new(|ctx, a| {
        async move {
            match ctx.peer.call(Call::new("ping", vec![a[0].clone()])).await {
                Ok(Reply::Success(Json::Str(s))) => Ok(Json::Str(format!("client said: {s}"))),
                Ok(Reply::Success(other)) => Err(Failure::new(
                    "TypeError",
                    format!(
                        "can only concatenate str (not \"{}\") to str",
                        other.type_name()
                    ),
                )),
                Ok(Reply::Failure(text)) => Err(Failure::new(
                    "RemoteException",
                    Reply::failure_summary(&text).to_owned(),
                )),
                Err(e) => Err(Failure::new("ConnectionError", e.to_string())),
            }
        }
        .boxed()
    });
    root.method(
        "callback",
        vec![Param::required("name")],
        Body::Async(callback),
    );
    let mut math = Service::new();
    math.sync(
        "mul",
        vec![Param::required("a"), Param::required("b")],
        |a| binary(&a, "*"),
    );
    root.nest("math", math);
    root
}

/// The client's root object: `ping(name)` → `"hello " + name`.
pub fn client() -> Service {
    let mut root = Service::new();
    root.sync("ping", vec![Param::required("name")], |a| match &a[0] {
        Json::Str(n) => Ok(Json::Str(format!("hello {n}"))),
        other => Err(Failure::new(
            "TypeError",
            format!(
                "can only concatenate str (not \"{}\") to str",
                other.type_name()
            ),
        )),
    });
    root
}

/// Largest string `math/mul` builds from `str * int`.
const REPEAT_CAP_BYTES: usize = 1 << 20;

/// `a + b` / `a * b` with Python's rules for the JSON types.
fn binary(a: &[Json], op: &str) -> Result<Json, Failure> {
    let unsupported = || {
        Failure::new(
            "TypeError",
            format!(
                "unsupported operand type(s) for {op}: '{}' and '{}'",
                a[0].type_name(),
                a[1].type_name()
            ),
        )
    };
    let as_f = |v: &Json| match v {
        Json::Int(i) => Some(*i as f64),
        Json::Float(f) => Some(*f),
        Json::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    let as_i = |v: &Json| match v {
        Json::Int(i) => Some(*i),
        Json::Bool(b) => Some(i128::from(*b)),
        _ => None,
    };
    match (&a[0], &a[1]) {
        (x, y) if as_i(x).is_some() && as_i(y).is_some() => {
            let (x, y) = (as_i(x).unwrap_or(0), as_i(y).unwrap_or(0));
            let r = if op == "+" {
                x.checked_add(y)
            } else {
                x.checked_mul(y)
            };
            match r {
                Some(r) => Ok(Json::Int(r)),
                None => Err(Failure::new(
                    "OverflowError",
                    "integer too large for tidepool",
                )),
            }
        }
        (x, y) if as_f(x).is_some() && as_f(y).is_some() => {
            let (x, y) = (as_f(x).unwrap_or(0.0), as_f(y).unwrap_or(0.0));
            Ok(Json::Float(if op == "+" { x + y } else { x * y }))
        }
        (Json::Str(x), Json::Str(y)) if op == "+" => Ok(Json::Str(format!("{x}{y}"))),
        (Json::Str(s), Json::Int(n)) | (Json::Int(n), Json::Str(s)) if op == "*" => {
            let n = usize::try_from(*n).unwrap_or(0);
            // Python would try to allocate anything; a mock server should not.
            if s.len().saturating_mul(n) > REPEAT_CAP_BYTES {
                return Err(Failure::new(
                    "MemoryError",
                    "result too large for the mock server",
                ));
            }
            Ok(Json::Str(s.repeat(n)))
        }
        (Json::Array(x), Json::Array(y)) if op == "+" => {
            Ok(Json::Array(x.iter().chain(y).cloned().collect()))
        }
        _ => Err(unsupported()),
    }
}
