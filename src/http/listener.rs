//! The server's TCP listener, whose connections hold each response's write
//! back until the runtime has run the rest of its ready work.
//!
//! Every response written to a socket wakes the client waiting on it; when
//! the client's thread is asleep, that wake-up is an inter-processor
//! interrupt, paid by the writer inside `write`. The profile of the point
//! read under load put it at 16 % of the server's time (`sock_def_readable`
//! in `writev`). A connection that has its response ready first yields
//! ([`tokio::task::yield_now`]: the task runs again after the runtime's
//! next poll of the I/O driver, with the other tasks it woke), so the writes
//! of one round go out together and the client, woken by the first, reads
//! the rest without being woken again. The wait is bounded: tokio polls the
//! driver at least every 61 tasks, and at once when it has nothing else to
//! run, so a lone request waits for nothing.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Accepts TCP connections as [`Coalesced`] streams.
pub struct Listener(pub TcpListener);

/// The peer address of a connection (the connect info of every request).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

impl axum::serve::Listener for Listener {
    type Io = Coalesced;
    type Addr = PeerAddr;

    async fn accept(&mut self) -> (Coalesced, PeerAddr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        // Each answer is written whole (and a round's together, above):
        // nothing is gained by Nagle's algorithm holding a small segment
        // back until the previous one is acknowledged.
        if let Err(e) = io.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        (Coalesced::new(io), PeerAddr(addr))
    }

    fn local_addr(&self) -> io::Result<PeerAddr> {
        self.0.local_addr().map(PeerAddr)
    }
}

type Yield = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A TCP stream whose first write after each flush waits one turn of the
/// runtime (see the module comment).
pub struct Coalesced {
    io: TcpStream,
    /// The turn being waited for.
    turn: Option<Yield>,
    /// The turn was had: writes go straight through until the next flush.
    may_write: bool,
}

impl Coalesced {
    fn new(io: TcpStream) -> Self {
        Coalesced {
            io,
            turn: None,
            may_write: false,
        }
    }

    fn wait_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.may_write {
            return Poll::Ready(());
        }
        let turn = self
            .turn
            .get_or_insert_with(|| Box::pin(tokio::task::yield_now()));
        ready!(turn.as_mut().poll(cx));
        self.turn = None;
        self.may_write = true;
        Poll::Ready(())
    }
}

impl AsyncRead for Coalesced {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Coalesced {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.wait_turn(cx));
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.wait_turn(cx));
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = ready!(Pin::new(&mut self.io).poll_flush(cx));
        self.may_write = false;
        Poll::Ready(flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use axum::Router;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;

    use super::{Listener, PeerAddr};

    /// Larger than a loopback socket's send buffer: its write goes out in
    /// parts, with waits for the socket in between.
    const BIG: usize = 4 << 20;

    async fn serve() -> std::net::SocketAddr {
        let app =
            Router::new()
                .route(
                    "/peer",
                    get(
                        |ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>| async move {
                            peer.to_string()
                        },
                    ),
                )
                .route("/big", get(|| async { vec![b'x'; BIG] }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(crate::http::server::serve(
            Listener(listener),
            app,
            tokio_util::sync::CancellationToken::new(),
        ));
        addr
    }

    /// One request on a kept-alive connection; the answer's body.
    async fn fetch(conn: &mut BufReader<TcpStream>, path: &str) -> Vec<u8> {
        let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
        conn.get_mut().write_all(request.as_bytes()).await.unwrap();
        let mut length = None;
        loop {
            let mut line = String::new();
            conn.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = Some(v.trim().parse::<usize>().unwrap());
            }
        }
        let mut body = vec![0; length.expect("content-length")];
        conn.read_exact(&mut body).await.unwrap();
        body
    }

    async fn client(server: std::net::SocketAddr, requests: usize) {
        let stream = TcpStream::connect(server).await.unwrap();
        let me = stream.local_addr().unwrap().to_string();
        let mut conn = BufReader::new(stream);
        for i in 0..requests {
            if i % 5 == 4 {
                let body = fetch(&mut conn, "/big").await;
                assert_eq!(body.len(), BIG);
                assert!(body.iter().all(|&b| b == b'x'));
            } else {
                assert_eq!(fetch(&mut conn, "/peer").await, me.as_bytes());
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_connections_get_every_answer_whole_and_their_own_address() {
        let server = serve().await;
        let clients: Vec<_> = (0..16).map(|_| tokio::spawn(client(server, 20))).collect();
        within_a_minute(async {
            for c in clients {
                c.await.unwrap();
            }
        })
        .await;
    }

    #[tokio::test]
    async fn a_lone_connection_is_answered_on_a_single_threaded_runtime() {
        let server = serve().await;
        within_a_minute(client(server, 10)).await;
    }

    /// The request head may be as large as the server's buffer
    /// (`server::MAX_BUF`, 32 KiB; hyper checks between reads, so a little
    /// more passes); a much larger one is refused with 431.
    #[tokio::test]
    async fn a_request_head_up_to_the_buffer_size_is_read_and_a_larger_one_refused() {
        let server = serve().await;
        for (size, status) in [(20_000, "200"), (200_000, "431")] {
            let mut conn = TcpStream::connect(server).await.unwrap();
            let head = format!(
                "GET /peer HTTP/1.1\r\nhost: test\r\nx-filler: {}\r\n\r\n",
                "a".repeat(size)
            );
            conn.write_all(head.as_bytes()).await.unwrap();
            let mut answer = vec![0; 12];
            within_a_minute(async {
                conn.read_exact(&mut answer).await.unwrap();
            })
            .await;
            assert_eq!(&answer[9..12], status.as_bytes(), "{size}-byte header");
        }
    }

    /// A write held back for good would hang the test: fail it instead.
    async fn within_a_minute(f: impl std::future::Future<Output = ()>) {
        tokio::time::timeout(std::time::Duration::from_secs(60), f)
            .await
            .expect("answers within a minute");
    }
}
