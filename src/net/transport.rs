//! Transports every engine uses: one boxed byte [`Stream`] type over TCP, Unix
//! sockets, TLS (see `tls.rs`) or an in-memory pipe, plus [`Listener`],
//! [`Target`] and [`connect`].
//!
//! Engines write their I/O against [`Stream`], so the same client and server code
//! runs on a socket, inside TLS after an in-band upgrade, or over a simulated
//! network in tests.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// Anything a connection can run over.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncStream for T {}

/// A connected byte stream of any transport.
pub type Stream = Box<dyn AsyncStream>;

/// Who is on the other end of a connection, for logs and the console.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A TCP peer.
    Tcp(SocketAddr),
    /// A Unix-socket peer (usually unnamed).
    Unix(Option<PathBuf>),
    /// An in-memory or simulated peer, by name.
    Memory(String),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => write!(f, "{addr}"),
            Peer::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            Peer::Unix(None) => f.write_str("unix:(unnamed)"),
            Peer::Memory(name) => write!(f, "mem:{name}"),
        }
    }
}

/// Where a client connects to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `host:port`; the host may be a name, an IPv4 or a bracketed IPv6 literal.
    Tcp {
        /// Host name or address, without brackets.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A Unix socket path.
    Unix(PathBuf),
}

impl Target {
    /// Parses `host:port`, `[v6]:port`, `host` (with `default_port`) or
    /// `unix:/path`.
    pub fn parse_with_default_port(s: &str, default_port: u16) -> Result<Self, TargetError> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(TargetError(s.to_string(), "empty unix socket path"));
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or(TargetError(s.to_string(), "unclosed '[' in IPv6 literal"))?;
            let port = match after {
                "" => default_port,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or(TargetError(s.to_string(), "bad port after IPv6 literal"))?,
            };
            return Ok(Target::Tcp {
                host: host.to_string(),
                port,
            });
        }
        match s.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => Err(TargetError(
                s.to_string(),
                "IPv6 literals need brackets: [addr]:port",
            )),
            Some((host, port)) => {
                let port = port
                    .parse()
                    .map_err(|_| TargetError(s.to_string(), "bad port"))?;
                if host.is_empty() {
                    return Err(TargetError(s.to_string(), "empty host"));
                }
                Ok(Target::Tcp {
                    host: host.to_string(),
                    port,
                })
            }
            None if s.is_empty() => Err(TargetError(s.to_string(), "empty address")),
            None => Ok(Target::Tcp {
                host: s.to_string(),
                port: default_port,
            }),
        }
    }

    /// The host name to verify a TLS certificate against.
    pub fn server_name(&self) -> &str {
        match self {
            Target::Tcp { host, .. } => host,
            Target::Unix(_) => "localhost",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "{host}:{port}"),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl FromStr for Target {
    type Err = TargetError;

    /// Parses `host:port`, `[v6]:port` or `unix:/path`; a port is required.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let target = Self::parse_with_default_port(s, 0)?;
        if matches!(target, Target::Tcp { port: 0, .. }) {
            return Err(TargetError(s.to_string(), "missing port"));
        }
        Ok(target)
    }
}

/// A target string that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("address {0:?}: {1}")]
pub struct TargetError(String, &'static str);

/// Connects to `target` within `timeout`. TCP connections get `TCP_NODELAY`:
/// every protocol here is request/reply and batches its own writes.
pub async fn connect(target: &Target, timeout: Duration) -> io::Result<(Stream, Peer)> {
    let attempt = async {
        match target {
            Target::Tcp { host, port } => {
                let stream = TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                let peer = Peer::Tcp(stream.peer_addr()?);
                Ok((Box::new(stream) as Stream, peer))
            }
            Target::Unix(path) => {
                let stream = UnixStream::connect(path).await?;
                Ok((Box::new(stream) as Stream, Peer::Unix(Some(path.clone()))))
            }
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connecting to {target} timed out after {timeout:?}"),
        )),
    }
}

/// Exponential backoff for reconnecting clients (the console's remote targets).
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `initial`, doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            current: initial,
        }
    }

    /// The delay before the next attempt; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.current;
        self.current = (self.current * 2).min(self.max);
        delay
    }

    /// Call after a successful connection.
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(10))
    }
}

/// A bound listener of either transport.
#[derive(Debug)]
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix socket, removed from the file system on drop.
    Unix(UnixListener, UnixSocketFile),
}

/// The path of a bound Unix socket; the file is removed when dropped.
#[derive(Debug)]
pub struct UnixSocketFile(PathBuf);

impl Drop for UnixSocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The local address a listener is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalAddr {
    /// A TCP address (with the real port when bound to port 0).
    Tcp(SocketAddr),
    /// A Unix socket path.
    Unix(PathBuf),
}

impl fmt::Display for LocalAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalAddr::Tcp(addr) => write!(f, "{addr}"),
            LocalAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl Listener {
    /// Binds a TCP listener.
    pub async fn bind_tcp(addr: SocketAddr) -> io::Result<Self> {
        Ok(Listener::Tcp(TcpListener::bind(addr).await?))
    }

    /// Binds a Unix-socket listener. A stale socket file left by a dead process
    /// is replaced; a live one (something accepts on it) is an `AddrInUse` error.
    pub fn bind_unix(path: &Path) -> io::Result<Self> {
        use std::os::unix::fs::FileTypeExt;
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running server", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        Ok(Listener::Unix(listener, UnixSocketFile(path.to_path_buf())))
    }

    /// Accepts one connection.
    pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, addr) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Box::new(stream), Peer::Tcp(addr)))
            }
            Listener::Unix(listener, _) => {
                let (stream, addr) = listener.accept().await?;
                let path = addr.as_pathname().map(Path::to_path_buf);
                Ok((Box::new(stream), Peer::Unix(path)))
            }
        }
    }

    /// Where the listener is bound.
    pub fn local_addr(&self) -> io::Result<LocalAddr> {
        match self {
            Listener::Tcp(listener) => Ok(LocalAddr::Tcp(listener.local_addr()?)),
            Listener::Unix(_, file) => Ok(LocalAddr::Unix(file.0.clone())),
        }
    }
}

/// A connected in-memory pair of streams, for tests and in-process use.
pub fn memory_pair(buffer_bytes: usize) -> (Stream, Stream) {
    let (a, b) = tokio::io::duplex(buffer_bytes);
    (Box::new(a), Box::new(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn targets_parse_like_operators_write_them() {
        assert_eq!(
            "localhost:65456".parse::<Target>().unwrap(),
            Target::Tcp {
                host: "localhost".into(),
                port: 65456
            }
        );
        assert_eq!(
            "[::1]:7".parse::<Target>().unwrap(),
            Target::Tcp {
                host: "::1".into(),
                port: 7
            }
        );
        assert_eq!(
            Target::parse_with_default_port("example.org", 5909).unwrap(),
            Target::Tcp {
                host: "example.org".into(),
                port: 5909
            }
        );
        assert_eq!(
            "unix:/tmp/s".parse::<Target>().unwrap(),
            Target::Unix("/tmp/s".into())
        );
        assert!("::1:7".parse::<Target>().is_err());
        assert!("host".parse::<Target>().is_err());
        assert!("host:notaport".parse::<Target>().is_err());
        assert!("[::1".parse::<Target>().is_err());
        assert_eq!(
            Target::Tcp {
                host: "::1".into(),
                port: 7
            }
            .to_string(),
            "[::1]:7"
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }

    #[tokio::test]
    async fn tcp_and_unix_listeners_accept_and_carry_bytes() {
        let tcp = Listener::bind_tcp("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let LocalAddr::Tcp(addr) = tcp.local_addr().unwrap() else {
            panic!("tcp")
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        let unix = Listener::bind_unix(&path).unwrap();
        let targets = [
            (
                tcp,
                Target::Tcp {
                    host: "127.0.0.1".into(),
                    port: addr.port(),
                },
            ),
            (unix, Target::Unix(path.clone())),
        ];
        for (listener, target) in targets {
            let client = tokio::spawn(async move {
                let (mut s, _) = connect(&target, Duration::from_secs(5)).await.unwrap();
                s.write_all(b"ping").await.unwrap();
                let mut buf = [0u8; 4];
                s.read_exact(&mut buf).await.unwrap();
                buf
            });
            let (mut server, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            server.read_exact(&mut buf).await.unwrap();
            server.write_all(b"pong").await.unwrap();
            assert_eq!(&buf, b"ping");
            assert_eq!(&client.await.unwrap(), b"pong");
        }
        assert!(
            !path.exists(),
            "unix socket file removed when the listener drops"
        );
    }

    #[tokio::test]
    async fn a_live_unix_socket_is_not_stolen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        let _first = Listener::bind_unix(&path).unwrap();
        let err = Listener::bind_unix(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
