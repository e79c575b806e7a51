//! Running the HTTP server: bind, serve until told to stop, then stop gracefully (in-flight
//! requests finish; waiting long-polls return at once). Used by `pluto-server serve` and by the
//! tests, which start it in-process on `127.0.0.1:0`.
//!
//! The server faces the internet, so every connection is bounded: at most
//! [`MAX_CONNECTIONS`] at once (the rest wait in the kernel's queue), a client has
//! [`HEADER_READ_TIMEOUT`] to send a request's headers (which also closes idle kept-alive
//! connections), a request may take at most [`REQUEST_DEADLINE`] to be answered, and a response
//! the client stops reading for [`crate::config::WRITE_STALL_TIMEOUT`] ends its connection.

use crate::api::REQUEST_DEADLINE;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::config::ServiceOptions;
use crate::service::{SyncService, WaitingPulls};
use crate::storage::{Storage, StorageError};

/// A server accepting connections.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: ShutdownHandle,
    task: JoinHandle<io::Result<()>>,
    waiting: WaitingPulls,
}

/// Tells a running server to stop; cheap to clone (for a signal handler).
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Starts a graceful shutdown.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listening socket is unusable.
    #[error("cannot use the listening socket")]
    Socket(#[source] io::Error),
    /// The storage could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The most connections served at once. Far below the common limit of 1,024 open files, so that
/// a crowd of idle connections cannot take the descriptors the database and the log need; the
/// connections beyond it wait in the listening socket's queue until one closes.
pub const MAX_CONNECTIONS: usize = 512;

/// How long a client has to send a request's headers, on a new connection and between the
/// requests of a kept-alive one (which is closed when it expires). Longer than the laptops' own
/// idle limit for pooled connections (2 s), so the server never closes one a laptop is about to
/// reuse.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the API over `storage` on `listener` until shut down.
pub async fn start<S: Storage>(
    listener: TcpListener,
    storage: S,
    options: ServiceOptions,
) -> Result<RunningServer, StartError> {
    let addr = listener.local_addr().map_err(StartError::Socket)?;
    let (stop, stopped) = watch::channel(false);
    let releases = Arc::new(crate::releases::Releases::new(options.releases.clone()));
    let public_url = options.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let stall = options.write_stall;
    let service = Arc::new(SyncService::new(storage, options, stopped.clone()).await?);
    let waiting = service.waiting_pulls();
    let metrics = service.metrics();
    let watcher = Arc::clone(&service);
    tokio::spawn(async move { watcher.watch_storage().await });
    let app = crate::api::router(service).merge(crate::api::releases_router(releases, public_url));
    let app = app.layer(axum::middleware::from_fn(crate::api::deadline));
    let task = tokio::spawn(serve(listener, app, stall, stopped, metrics));
    Ok(RunningServer { addr, stop: ShutdownHandle(Arc::new(stop)), task, waiting })
}

/// Accepts connections until `stopped`, each holding one of [`MAX_CONNECTIONS`] permits, then
/// waits for the open ones to finish their requests.
async fn serve(
    listener: TcpListener,
    app: axum::Router,
    stall: Duration,
    stopped: watch::Receiver<bool>,
    metrics: Arc<crate::metrics::Metrics>,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).keep_alive(true);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.map_err(io::Error::other)?,
            () = until_stopped(stopped.clone()) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or a connection reset before it was accepted: wait a
                    // little rather than spin, and go on.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = until_stopped(stopped.clone()) => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone().layer(axum::Extension(crate::api::Peer(peer.ip())));
        let connection = http
            .serve_connection(TokioIo::new(StallGuard::new(stream, stall)), TowerToHyperService::new(app));
        let connection = graceful.watch(connection);
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let open = metrics.connection();
            // A client that goes away or times out is no error of the server's.
            let _ = connection.await;
            drop(open);
            drop(permit);
        });
    }
    drop(listener);
    // Requests in flight have their deadline; a connection that outlives it is not waited for.
    let _ = tokio::time::timeout(REQUEST_DEADLINE, graceful.shutdown()).await;
    Ok(())
}

/// A connection whose writes fail once one has made no progress for `limit`, so that hyper
/// drops it: the connection's permit comes back even from a client that never reads.
struct StallGuard<T> {
    inner: T,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> StallGuard<T> {
    fn new(inner: T, limit: Duration) -> Self {
        Self { inner, limit, stalled: None }
    }

    /// What a write that could not proceed answers: wait, or fail once it has waited too long.
    fn wait<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let limit = self.limit;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of the response for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Notes the outcome of a write: progress ends any stall.
    fn progress<R>(&mut self, result: Poll<io::Result<R>>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        match result {
            Poll::Pending => self.wait(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(result, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progress(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.progress(result, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Returns once `stopped` becomes `true` (or its sender is gone: nobody can ask any more).
async fn until_stopped(mut stopped: watch::Receiver<bool>) {
    loop {
        if *stopped.borrow_and_update() {
            return;
        }
        if stopped.changed().await.is_err() {
            return;
        }
    }
}

impl RunningServer {
    /// The address it listens on (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many long-polls wait for new events now.
    pub fn waiting_pulls(&self) -> usize {
        self.waiting.total()
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    /// Waits until the server has stopped (after a shutdown, or a failure to accept).
    pub async fn wait(self) -> io::Result<()> {
        self.task.await.map_err(io::Error::other)?
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(self) -> io::Result<()> {
        self.stop.shutdown();
        self.wait().await
    }
}
