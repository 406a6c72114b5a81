//! `tidepool rpc call HOST:PORT PATH [JSON-ARGS] [--kwargs JSON]`: one simpy.io
//! JSON-RPC call, the result printed as JSON on stdout; a FAILURE reply prints
//! the peer's text on stderr and exits with 4.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::Global;
use crate::engine::simpyio::{handle, io, mock, protocol, Json, Reply};
use crate::error::{Exit, Report};
use crate::net::shutdown::Shutdown;
use crate::net::tls::Trust;
use crate::net::transport::Target;

/// Subcommands of `tidepool rpc`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Call a method and print its result as JSON.
    Call(CallArgs),
}

/// Arguments of `tidepool rpc call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The peer: HOST:PORT, [V6]:PORT or unix:/path.
    pub target: String,
    /// Method path, `/`-separated (`echo`, `math/mul`).
    pub path: String,
    /// Positional arguments as a JSON array.
    #[arg(default_value = "[]", value_name = "JSON-ARGS")]
    pub args: String,
    /// Keyword arguments as a JSON object.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub kwargs: String,
    /// Give up after this many seconds (simpy.io itself waits forever).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Speak TLS (server certificate checked against the system roots or --ca).
    #[arg(long)]
    pub tls: bool,
    /// Trust only this CA (PEM) for --tls.
    #[arg(long, value_name = "PEM", requires = "tls")]
    pub ca: Option<PathBuf>,
    /// Largest packet payload in bytes (both peers must agree).
    #[arg(long, value_name = "BYTES", default_value_t = crate::engine::simpyio::codec::MAX_PACKET_SIZE)]
    pub max_packet_size: usize,
    /// The peer's application custom types (its `types`, in order; comma
    /// separated). They shift the `__type__` ids of proxies and exposed
    /// objects as in simpy.io; ids in JSON-ARGS and in the printed result are
    /// the wire ids of that layout.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub types: Vec<String>,
    /// The peer's application converters (its `converters`, in order).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub converters: Vec<String>,
}

/// Runs `tidepool rpc`.
pub fn run(global: &Global, cmd: Command) -> Result<(), Report> {
    let Command::Call(args) = cmd;
    global.check_writable("rpc call")?;
    let mut call =
        handle::parse_call(&args.path, &args.args, &args.kwargs).map_err(Report::usage)?;
    let types = Arc::new(protocol::TypeIds::new(
        args.types.clone(),
        args.converters.clone(),
    ));
    for v in call
        .args
        .iter_mut()
        .chain(call.kwargs.iter_mut().map(|(_, v)| v))
    {
        types.decode_ids(v).map_err(|id| {
            Report::usage(format!(
                "__type__ id {id} is not defined (declare the peer's --types/--converters)"
            ))
        })?;
    }
    let target = Target::parse_with_default_port(&args.target, super::serve::rpc::DEFAULT_PORT)
        .map_err(|e| Report::usage(e.to_string()))?;
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(Report::usage(
            "--timeout must be a positive number of seconds",
        ));
    }
    let timeout = Duration::from_secs_f64(args.timeout.min(1e6));
    let tls = if args.tls {
        let trust = match &args.ca {
            Some(ca) => Trust::CaFile(ca.clone()),
            None => Trust::System,
        };
        Some(
            crate::net::tls::client_config(&trust, None)
                .map_err(|e| Report::from_error(Exit::Failure, &e).context("tls"))?,
        )
    } else {
        None
    };
    let opts = io::Options {
        max_packet_size: args.max_packet_size,
        call_timeout: Some(timeout),
        types: types.clone(),
        ..io::Options::default()
    };
    let path = call.path.clone();
    let runtime = crate::cli::runtime()?;
    let reply = runtime.block_on(async move {
        let shutdown = Shutdown::new();
        let (client, _task) = io::connect(
            &target,
            tls,
            Arc::new(mock::client()),
            opts,
            shutdown.clone(),
        )
        .await?;
        let reply = client.call(call).await;
        shutdown.trigger();
        reply
    });
    match reply {
        Ok(Reply::Success(mut value)) => {
            if let Some(r) = protocol::describe_ref(&value) {
                eprintln!("note: {r}");
            }
            if let Json::Custom { typeid, .. } = &value {
                if let Some(name) = types.name(*typeid).filter(|_| *typeid > 1) {
                    eprintln!("note: custom type {name}");
                }
            }
            types.encode_ids(&mut value);
            println!("{value}");
            Ok(())
        }
        Ok(Reply::Failure(text)) => {
            eprint!("{text}");
            if !text.ends_with('\n') {
                eprintln!();
            }
            Err(Report::new(
                Exit::Remote,
                format!(
                    "rpc call {path:?}: FAILURE from the peer: {}",
                    Reply::failure_summary(&text)
                ),
            ))
        }
        Err(e) => Err(Report::from_error(Exit::Failure, &e).context("rpc call")),
    }
}
