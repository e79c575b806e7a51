//! Running the HTTP server: bind, serve until told to stop, then stop gracefully (in-flight
//! requests finish; waiting long-polls return at once). Used by `pluto-server serve` and by the
//! tests, which start it in-process on `127.0.0.1:0`.
//!
//! The server faces the internet, so every connection is bounded: at most
//! [`MAX_CONNECTIONS`] at once (the rest wait in the kernel's queue), a client has
//! [`HEADER_READ_TIMEOUT`] to send a request's headers (which also closes idle kept-alive
//! connections), and a request may take at most [`REQUEST_DEADLINE`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::config::ServiceOptions;
use crate::service::SyncService;
use crate::storage::{Storage, StorageError};

/// A server accepting connections.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: ShutdownHandle,
    task: JoinHandle<io::Result<()>>,
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

/// The longest a request may take, long-polls (at most 60 s of waiting) included.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(90);

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
    let service = Arc::new(SyncService::new(storage, options, stopped.clone()).await?);
    let watcher = Arc::clone(&service);
    tokio::spawn(async move { watcher.watch_storage().await });
    let app = crate::api::router(service).merge(crate::api::releases_router(releases, public_url));
    let app = app.layer(axum::middleware::from_fn(crate::api::deadline));
    let task = tokio::spawn(serve(listener, app, stopped));
    Ok(RunningServer { addr, stop: ShutdownHandle(Arc::new(stop)), task })
}

/// Accepts connections until `stopped`, each holding one of [`MAX_CONNECTIONS`] permits, then
/// waits for the open ones to finish their requests.
async fn serve(listener: TcpListener, app: axum::Router, stopped: watch::Receiver<bool>) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).keep_alive(true);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.map_err(io::Error::other)?,
            () = until_stopped(stopped.clone()) => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
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
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out is no error of the server's.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
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
