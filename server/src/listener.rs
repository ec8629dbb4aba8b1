//! The listening socket: HTTP/1.1 connections with a deadline for the request's headers (also
//! the idle time between requests on a kept-alive connection), a deadline for progress while an
//! answer is written, a cap on how many are open at once and a smaller one per client, so slow,
//! idle or greedy clients can't tie the portal up; and `TCP_NODELAY`, so small answers aren't
//! held back waiting for an ACK.

use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use app::caller::Caller;
use axum::{extract::ConnectInfo, Router};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

use ipnet::IpNet;

use crate::config::HttpLimits;

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    serve_behind(listener, router, limits, Vec::new(), shutdown).await
}

/// As `serve`, behind the reverse proxies `proxies`: each is the peer of every client it
/// forwards, so it isn't held to one client's share (it must limit its own clients).
pub async fn serve_behind(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    proxies: Vec<IpNet>,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients = Arc::new(Clients::new(&limits, proxies));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        // A deadline for the whole head, also between requests on a kept-alive connection.
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // At the cap, stop accepting until a connection closes; the rest wait in the backlog.
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer, seat) = tokio::select! {
            admitted = admit(&listener, &clients) => admitted,
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut request: http::Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                request
            });
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let connection = http.serve_connection(
            TokioIo::new(Box::pin(stream)),
            TowerToHyperService::new(service),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, %peer, "connection ended with an error");
            }
            drop(seat);
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some requests were still running at shutdown");
    }
}

/// The next connection from a client with a seat to spare. One from a client that already
/// holds its share is closed at once, and the global slot waits for the next.
async fn admit(
    listener: &TcpListener,
    clients: &Arc<Clients>,
) -> (tokio::net::TcpStream, SocketAddr, Seat) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, say: wait a moment rather than spin.
                tracing::warn!(%err, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match clients.seat(peer.ip()) {
            Some(seat) => return (stream, peer, seat),
            None => {
                tracing::debug!(%peer, "closed: this client already has its share of connections");
                drop(stream);
            }
        }
    }
}

/// Connections open per client: an IPv4 address, or an IPv6 network as the limits count it.
struct Clients {
    open: Mutex<HashMap<String, usize>>,
    cap: usize,
    ipv6_prefix: u8,
    /// Trusted reverse proxies: many clients share each one's address.
    proxies: Vec<IpNet>,
}

impl Clients {
    fn new(limits: &HttpLimits, proxies: Vec<IpNet>) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            cap: limits.max_connections_per_client.max(1),
            ipv6_prefix: limits.ipv6_prefix,
            proxies,
        }
    }

    /// A seat for one more connection from `ip`, unless it already holds its share.
    fn seat(self: &Arc<Self>, ip: IpAddr) -> Option<Seat> {
        // `::ffff:a.b.c.d` from a socket bound to `[::]` is the IPv4 client a.b.c.d.
        let ip = ip.to_canonical();
        let client = Caller::new(ip, None).network(self.ipv6_prefix);
        let proxy = self.proxies.iter().any(|net| net.contains(&ip));
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(client.clone()).or_default();
        if *count >= self.cap && !proxy {
            return None;
        }
        *count += 1;
        Some(Seat {
            clients: self.clone(),
            client,
        })
    }
}

/// One connection's place in its client's share, given back when the connection ends.
struct Seat {
    clients: Arc<Clients>,
    client: String,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self
            .clients
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}
