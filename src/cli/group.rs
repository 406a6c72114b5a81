//! `tidepool group …`: watch, join and send to Spread groups (groups spec
//! section 13) through a real Spread daemon or tidepool's embedded one.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncBufReadExt;

use crate::cli::Global;
use crate::engine::groups::codec::{self, SELF_DISCARD};
use crate::engine::groups::{self, Client, ConnectOptions, DaemonAddr, Message, Service};
use crate::error::{Exit, Report};

/// Where and as whom to connect.
#[derive(Debug, Clone, clap::Args)]
pub struct Conn {
    /// Daemon: PORT@HOST for TCP, PORT for the Unix socket <socket-dir>/PORT.
    #[arg(long, default_value = "4803@localhost", value_name = "PORT@HOST")]
    pub daemon: String,

    /// Directory of the daemon's Unix sockets (Spread's SP_UNIX_SOCKET).
    #[arg(long, default_value = "/tmp", value_name = "DIR")]
    pub socket_dir: PathBuf,

    /// Private name (at most 10 characters); empty lets the daemon pick one.
    #[arg(long, default_value = "", value_name = "NAME")]
    pub name: String,

    /// Connect and handshake timeout in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub timeout: f64,
}

/// Subcommands of `tidepool group`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Join groups and print membership changes and messages as they happen.
    Watch {
        /// Groups to watch.
        #[arg(required = true, value_name = "GROUP")]
        groups: Vec<String>,
        /// Connection options.
        #[command(flatten)]
        conn: Conn,
        /// Exit after this many events.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Print messages' payloads as hex.
        #[arg(long)]
        hex: bool,
    },
    /// Join a group; lines typed on stdin are sent to it, messages are printed.
    Join {
        /// The group.
        group: String,
        /// Connection options.
        #[command(flatten)]
        conn: Conn,
        /// Service level of the lines sent.
        #[arg(long, default_value = "agreed")]
        service: Service,
        /// Do not receive our own lines back.
        #[arg(long)]
        self_discard: bool,
    },
    /// Send one message to one or more groups (comma-separated) and exit.
    Send {
        /// Destination groups or private groups (#name#daemon), comma-separated.
        group: String,
        /// The message.
        message: String,
        /// Connection options.
        #[command(flatten)]
        conn: Conn,
        /// Service level: unreliable, reliable, fifo, causal, agreed or safe.
        #[arg(long, default_value = "agreed")]
        service: Service,
        /// Message type (signed 16-bit).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        msg_type: i16,
        /// Do not deliver to our own connection.
        #[arg(long)]
        self_discard: bool,
    },
}

/// Runs `tidepool group`.
pub fn run(global: &Global, cmd: Command) -> Result<(), Report> {
    if let Command::Send { .. } = cmd {
        global.check_writable("group send")?;
    }
    let runtime = crate::cli::runtime()?;
    runtime.block_on(async move {
        match cmd {
            Command::Watch {
                groups,
                conn,
                count,
                hex,
            } => watch(&conn, &groups, count, hex).await,
            Command::Join {
                group,
                conn,
                service,
                self_discard,
            } => join(global, &conn, &group, service, self_discard).await,
            Command::Send {
                group,
                message,
                conn,
                service,
                msg_type,
                self_discard,
            } => {
                let mut c = connect(&conn, false).await?;
                let groups: Vec<&str> = group.split(',').filter(|g| !g.is_empty()).collect();
                let st = service.bits() | if self_discard { SELF_DISCARD } else { 0 };
                let n = c
                    .multicast(st, &groups, msg_type, Bytes::from(message.into_bytes()))
                    .await
                    .map_err(report)?;
                c.disconnect().await.map_err(report)?;
                eprintln!("sent {n} bytes to {group} ({})", service.name());
                Ok(())
            }
        }
    })
}

fn report(e: groups::Error) -> Report {
    let exit = match e {
        groups::Error::Rejected { .. } => Exit::Remote,
        groups::Error::Illegal { .. } | groups::Error::Address(_) => Exit::Usage,
        _ => Exit::Failure,
    };
    Report::from_error(exit, &e)
}

async fn connect(conn: &Conn, membership: bool) -> Result<Client, Report> {
    let addr = DaemonAddr::parse(&conn.daemon, &conn.socket_dir).map_err(report)?;
    if !(conn.timeout > 0.0 && conn.timeout < 86_400.0) {
        return Err(Report::usage(
            "--timeout: expected seconds between 0 and 86400",
        ));
    }
    let opts = ConnectOptions {
        name: conn.name.clone(),
        priority: 0,
        membership,
        timeout: Duration::from_secs_f64(conn.timeout),
    };
    Client::connect(&addr, &opts)
        .await
        .map_err(|e| report(e).context(format!("group: daemon {addr}")))
}

/// One line per event, in the words Spread tools use.
pub fn describe(m: &Message, hex: bool) -> String {
    match m {
        Message::Regular {
            service,
            sender,
            groups,
            msg_type,
            data,
            endian_mismatch,
        } => {
            let level = Service::from_bits(*service).map_or("?", Service::name);
            let to: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            let body = if hex {
                data.iter().map(|b| format!("{b:02x}")).collect::<String>()
            } else {
                data.escape_ascii().to_string()
            };
            format!(
                "MESSAGE {} from {sender} ({level}, type {msg_type}{}, {} bytes): {body}",
                to.join(","),
                if *endian_mismatch {
                    ", other endian"
                } else {
                    ""
                },
                data.len()
            )
        }
        Message::Membership {
            group,
            cause,
            group_id,
            members,
            ..
        } => {
            let names: Vec<String> = members.iter().map(|m| m.to_string()).collect();
            let about = match m.changed_member() {
                Some(who) => format!(" {who}"),
                None => {
                    let extra: Vec<String> = m.extra().iter().map(|x| x.to_string()).collect();
                    format!(" with [{}]", extra.join(", "))
                }
            };
            format!(
                "{}{about} in {group}: gid {group_id}, {} members [{}]",
                cause.name(),
                members.len(),
                names.join(", ")
            )
        }
        Message::Transitional { group, group_id } => match group_id {
            Some(g) => format!("TRANSITION {group}: previous gid {g}"),
            None => format!("TRANSITION {group}"),
        },
        Message::SelfLeave { group } => format!("SELF-LEAVE {group}"),
        Message::Reject {
            service,
            groups,
            data,
            ..
        } => {
            let to: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            format!(
                "REJECT type {service:#010x} to {} ({} bytes)",
                to.join(","),
                data.len()
            )
        }
    }
}

async fn watch(
    conn: &Conn,
    groups: &[String],
    count: Option<u64>,
    hex: bool,
) -> Result<(), Report> {
    let mut c = connect(conn, true).await?;
    eprintln!("connected to {} as {}", c.addr(), c.private_group());
    for g in groups {
        c.join(g).await.map_err(report)?;
    }
    let mut seen = 0u64;
    loop {
        if count.is_some_and(|n| seen >= n) {
            let _ = c.disconnect().await;
            return Ok(());
        }
        tokio::select! {
            m = c.receive() => {
                let m = m.map_err(|e| report(e).context("group watch"))?;
                println!("{}", describe(&m, hex));
                seen += 1;
            }
            _ = tokio::signal::ctrl_c() => {
                let _ = c.disconnect().await;
                return Ok(());
            }
        }
    }
}

async fn join(
    global: &Global,
    conn: &Conn,
    group: &str,
    service: Service,
    self_discard: bool,
) -> Result<(), Report> {
    let mut c = connect(conn, true).await?;
    c.join(group).await.map_err(report)?;
    eprintln!(
        "joined {group} as {}; type lines to send ({}), ctrl-d to leave",
        c.private_group(),
        service.name()
    );
    let st = service.bits() | if self_discard { SELF_DISCARD } else { 0 };
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            m = c.receive() => {
                let m = m.map_err(|e| report(e).context("group join"))?;
                let done = matches!(&m, Message::SelfLeave { .. });
                println!("{}", describe(&m, false));
                if done {
                    let _ = c.disconnect().await;
                    return Ok(());
                }
            }
            line = lines.next_line(), if stdin_open => match line? {
                Some(line) => {
                    if global.readonly {
                        eprintln!("not sent: tidepool runs with --readonly");
                        continue;
                    }
                    match c.multicast(st, &[group], 0, Bytes::from(line.into_bytes())).await {
                        Ok(_) => {}
                        Err(e @ groups::Error::Illegal { .. }) => {
                            eprintln!("not sent: {e} ({})", codec::code_text(e.code()))
                        }
                        Err(e) => return Err(report(e)),
                    }
                }
                None => {
                    stdin_open = false;
                    c.leave(group).await.map_err(report)?;
                }
            },
            _ = tokio::signal::ctrl_c() => {
                let _ = c.disconnect().await;
                return Ok(());
            }
        }
    }
}
