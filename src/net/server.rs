//! The one accept loop every server uses: connection cap, optional TLS from the
//! start, one task per connection, graceful shutdown, and a log line for every
//! close with the peer and the reason.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::net::shutdown::{CloseReason, Shutdown};
use crate::net::transport::{Listener, Peer, Stream};

/// Options of one server.
#[derive(Clone)]
pub struct Options {
    /// Engine name for logs (`pools`, `hive`, …).
    pub name: &'static str,
    /// Connections served at once; further ones are closed right after accept.
    pub max_connections: usize,
    /// Run TLS from the start on every connection.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Options {
    /// Plain server with a default cap of 1024 connections.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            max_connections: 1024,
            tls: None,
        }
    }
}

/// Accepts connections until `shutdown` is triggered, running `handler` for each
/// on its own task. The handler gets a child shutdown signal (triggered with the
/// server's) and returns why the connection ended.
pub async fn serve<H, F>(listener: Listener, shutdown: Shutdown, options: Options, handler: H)
where
    H: Fn(Stream, Peer, Shutdown) -> F + Send + Sync + 'static,
    F: Future<Output = CloseReason> + Send + 'static,
{
    let handler = Arc::new(handler);
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let name = options.name;
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(engine = name, addr = %local, "listening");
    loop {
        let accepted = tokio::select! {
            _ = shutdown.requested() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning on the error.
                tracing::warn!(engine = name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let reason = CloseReason::Limit(format!("{} connections", options.max_connections));
            tracing::warn!(engine = name, %peer, %reason, "connection refused");
            drop(stream);
            continue;
        };
        let handler = handler.clone();
        let tls = options.tls.clone();
        let conn_shutdown = shutdown.child();
        tracing::debug!(engine = name, %peer, "connection opened");
        shutdown.spawn(async move {
            let _permit = permit;
            let stream = match tls {
                Some(config) => match crate::net::tls::accept(stream, config).await {
                    Ok(stream) => stream,
                    Err(e) => {
                        let reason = CloseReason::Protocol(format!("tls handshake: {e}"));
                        tracing::info!(engine = name, %peer, %reason, "connection closed");
                        return;
                    }
                },
                None => stream,
            };
            let reason = handler(stream, peer.clone(), conn_shutdown).await;
            tracing::info!(engine = name, %peer, %reason, "connection closed");
        });
    }
    tracing::info!(engine = name, addr = %local, "stopped accepting");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::transport::{connect, LocalAddr, Target};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo(mut stream: Stream, _peer: Peer, shutdown: Shutdown) -> CloseReason {
        let mut buf = [0u8; 64];
        loop {
            tokio::select! {
                _ = shutdown.requested() => return CloseReason::Shutdown,
                n = stream.read(&mut buf) => match n {
                    Ok(0) => return CloseReason::PeerClosed,
                    Ok(n) => if stream.write_all(&buf[..n]).await.is_err() {
                        return CloseReason::Io("write".into());
                    },
                    Err(e) => return CloseReason::Io(e.to_string()),
                }
            }
        }
    }

    async fn start(max: usize) -> (Shutdown, Target) {
        let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let LocalAddr::Tcp(addr) = listener.local_addr().unwrap() else {
            unreachable!()
        };
        let shutdown = Shutdown::new();
        let options = Options {
            max_connections: max,
            ..Options::new("echo")
        };
        shutdown.spawn(serve(listener, shutdown.clone(), options, echo));
        (
            shutdown,
            Target::Tcp {
                host: "127.0.0.1".into(),
                port: addr.port(),
            },
        )
    }

    #[tokio::test]
    async fn serves_connections_and_drains_on_shutdown() {
        let (shutdown, target) = start(8).await;
        let (mut c, _) = connect(&target, Duration::from_secs(5)).await.unwrap();
        c.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
        assert!(
            shutdown.drain(Duration::from_secs(5)).await,
            "connections drained"
        );
        let mut rest = Vec::new();
        assert_eq!(
            c.read_to_end(&mut rest).await.unwrap(),
            0,
            "server closed the connection"
        );
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_and_others_unaffected() {
        let (shutdown, target) = start(1).await;
        let (mut first, _) = connect(&target, Duration::from_secs(5)).await.unwrap();
        first.write_all(b"a").await.unwrap();
        let mut one = [0u8; 1];
        first.read_exact(&mut one).await.unwrap();
        let (mut second, _) = connect(&target, Duration::from_secs(5)).await.unwrap();
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(5), second.read_to_end(&mut rest))
            .await
            .expect("refused connection is closed promptly")
            .unwrap_or(0);
        assert_eq!(n, 0);
        first.write_all(b"b").await.unwrap();
        first.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"b");
        shutdown.drain(Duration::from_secs(5)).await;
    }
}
