//! Slow, idle and greedy clients can't tie the portal up: a deadline for a request's headers
//! closes connections that trickle them (and kept-alive ones left idle), a deadline for progress
//! closes those that stop reading their answer, a cap bounds how many connections are open at
//! once, and a smaller one how many one client may hold. These run against the real listener on
//! a loopback port.

use crate::common;

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use axum::{http::header, routing::get, Router};
use common::TestPortal;
use server::config::HttpLimits;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

async fn serve(portal: &TestPortal, limits: HttpLimits) -> SocketAddr {
    serve_router(portal.router.clone(), limits).await
}

async fn serve_router(router: Router, limits: HttpLimits) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    addr
}

/// A connection from `ip`: Linux's loopback answers for the whole of 127/8, so each address
/// is a client of its own.
async fn connect_from(ip: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(ip.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(addr).await.unwrap()
}

/// A whole request on a new connection; the status line that comes back.
async fn health(addr: SocketAddr) -> String {
    health_from("127.0.0.1", addr).await
}

async fn health_from(ip: &str, addr: SocketAddr) -> String {
    let mut stream = connect_from(ip, addr).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Whether the server has closed this connection (a read returns end-of-file or an error).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 256];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return true,
            // A "408"/"400" answer may come first; the close follows.
            Ok(_) => continue,
        }
    }
}

/// Far more than a socket's buffers hold: a client that never reads it stalls its answer.
const LARGE: usize = 32 * 1024 * 1024;

/// The portal, with a large file of the test's own.
fn with_a_large_file(portal: &TestPortal) -> Router {
    let large = bytes::Bytes::from(vec![b'x'; LARGE]);
    Router::new()
        .route(
            "/large",
            get(move || {
                let large = large.clone();
                async move { ([(header::CONTENT_TYPE, "application/octet-stream")], large) }
            }),
        )
        .merge(portal.router.clone())
}

#[tokio::test]
async fn connections_that_trickle_their_headers_are_closed_and_patients_are_still_served() {
    let portal = TestPortal::new().await;
    let limits = HttpLimits {
        header_read_timeout: Duration::from_secs(2),
        max_connections: 1000,
        // All from one address here.
        max_connections_per_client: 1000,
        ..HttpLimits::default()
    };
    let addr = serve(&portal, limits).await;

    // 500 connections, each sending one byte of a request line every 500 ms.
    let mut tricklers = Vec::new();
    for _ in 0..500 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"G").await.unwrap();
        tricklers.push(stream);
    }
    let trickle = tokio::spawn(async move {
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            for stream in tricklers.iter_mut() {
                let _ = stream.write_all(b"E").await;
            }
        }
        tricklers
    });

    // While they hang on, a patient's request is answered.
    assert_eq!(health(addr).await, "HTTP/1.1 200 OK");
    assert!(
        !trickle.is_finished(),
        "answered while the tricklers were still connected"
    );

    // And every trickler is cut off by the header deadline.
    let mut tricklers = trickle.await.unwrap();
    let closing = tricklers.iter_mut().map(|stream| async move {
        tokio::time::timeout(Duration::from_secs(10), closed_by_server(stream))
            .await
            .unwrap_or(false)
    });
    let closed = futures::future::join_all(closing).await;
    assert!(
        closed.iter().all(|c| *c),
        "every slow connection was closed"
    );
    assert_eq!(health(addr).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let portal = TestPortal::new().await;
    let limits = HttpLimits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(60),
        ..HttpLimits::default()
    };
    let addr = serve(&portal, limits).await;
    let idle_a = TcpStream::connect(addr).await.unwrap();
    let idle_b = TcpStream::connect(addr).await.unwrap();
    // Give the server time to accept both before the third arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let third = tokio::spawn(health(addr));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !third.is_finished(),
        "a third connection waits while two are open"
    );
    drop(idle_a);
    assert_eq!(third.await.unwrap(), "HTTP/1.1 200 OK");
    drop(idle_b);
}

#[tokio::test]
async fn one_client_that_never_reads_cannot_hold_every_connection() {
    let portal = TestPortal::new().await;
    let write_timeout = Duration::from_secs(3);
    let limits = HttpLimits {
        max_connections: 64,
        max_connections_per_client: 16,
        write_timeout,
        header_read_timeout: Duration::from_secs(60),
        ..HttpLimits::default()
    };
    let addr = serve_router(with_a_large_file(&portal), limits).await;
    let ask = b"GET /large HTTP/1.1\r\nHost: portal\r\n\r\n";

    // 80 connections from one address ask for the large file and never read it.
    let mut stalled = Vec::new();
    for _ in 0..80 {
        let mut stream = connect_from("127.0.0.1", addr).await;
        // Those beyond the client's share may be closed before the request is written.
        let _ = stream.write_all(ask).await;
        stalled.push(stream);
    }

    // Another client is served at once.
    let answer = tokio::time::timeout(Duration::from_secs(30), health_from("127.0.0.2", addr))
        .await
        .expect("another client is answered");
    assert_eq!(answer, "HTTP/1.1 200 OK");
    // While the first client's share is still taken: one more of its connections is closed
    // unanswered.
    let mut one_more = connect_from("127.0.0.1", addr).await;
    let _ = one_more.write_all(ask).await;
    let mut answer = Vec::new();
    let refused = tokio::time::timeout(Duration::from_secs(2), one_more.read_to_end(&mut answer))
        .await
        .expect("closed at once");
    assert!(
        matches!(refused, Ok(0) | Err(_)),
        "a connection beyond the share is closed unanswered"
    );

    // Once the writes have made no progress for the write timeout, the stalled connections
    // are closed: reading them now gives what the socket buffers held, then the end, never
    // the whole file.
    tokio::time::sleep(write_timeout * 2).await;
    let draining = stalled.iter_mut().map(|stream| async move {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut received = 0;
        let read_all = async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => received += n,
                }
            }
        };
        let closed = tokio::time::timeout(Duration::from_secs(30), read_all)
            .await
            .is_ok();
        (closed, received)
    });
    for (closed, received) in futures::future::join_all(draining).await {
        assert!(closed, "a stalled connection was closed");
        assert!(
            received < LARGE,
            "cut off before the whole answer: {received}"
        );
    }
    // And their client has its share back.
    assert_eq!(health_from("127.0.0.1", addr).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn a_kept_alive_connection_left_idle_is_closed_after_the_header_deadline() {
    let portal = TestPortal::new().await;
    let limits = HttpLimits {
        header_read_timeout: Duration::from_secs(1),
        ..HttpLimits::default()
    };
    let addr = serve(&portal, limits).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: portal\r\n\r\n")
        .await
        .unwrap();
    // The whole answer ("ok"), and the connection is kept alive for the next request.
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(b"\r\n\r\nok") {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "kept alive: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..n]);
    }
    // No next request comes: the header deadline closes the idle connection.
    let closed = tokio::time::timeout(Duration::from_secs(30), closed_by_server(&mut stream))
        .await
        .unwrap_or(false);
    assert!(closed, "an idle kept-alive connection is closed");
}

#[tokio::test]
async fn a_trusted_proxy_is_not_held_to_one_clients_share() {
    let portal = TestPortal::new().await;
    let limits = HttpLimits {
        max_connections: 64,
        max_connections_per_client: 2,
        ..HttpLimits::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let proxy: ipnet::IpNet = "127.0.0.3/32".parse().unwrap();
    tokio::spawn(server::serve_behind(
        listener,
        portal.router.clone(),
        limits,
        vec![proxy],
        std::future::pending(),
    ));
    // Many patients behind the proxy, each on a connection of its own, all from its address.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from("127.0.0.3", addr).await);
    }
    assert_eq!(health_from("127.0.0.3", addr).await, "HTTP/1.1 200 OK");
    // Any other client is still held to its share.
    let mut other = Vec::new();
    for _ in 0..2 {
        other.push(connect_from("127.0.0.4", addr).await);
    }
    let mut over = connect_from("127.0.0.4", addr).await;
    let closed = tokio::time::timeout(Duration::from_secs(10), closed_by_server(&mut over))
        .await
        .unwrap_or(false);
    assert!(
        closed,
        "a third connection from an ordinary client is closed"
    );
}
