//! Slow and idle clients can't tie the portal up: a deadline for a request's headers closes
//! connections that trickle them, and a cap bounds how many connections are open at once. These
//! run against the real listener on a loopback port.

mod common;

use std::{net::SocketAddr, time::Duration};

use common::TestPortal;
use server::config::HttpLimits;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

async fn serve(portal: &TestPortal, limits: HttpLimits) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(
        listener,
        portal.router.clone(),
        limits,
        std::future::pending(),
    ));
    addr
}

/// A whole request on a new connection; the status line that comes back.
async fn health(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
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

#[tokio::test]
async fn connections_that_trickle_their_headers_are_closed_and_patients_are_still_served() {
    let portal = TestPortal::new().await;
    let limits = HttpLimits {
        header_read_timeout: Duration::from_secs(2),
        max_connections: 1000,
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
