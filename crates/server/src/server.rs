//! Running the HTTP server: bind, serve until told to stop, then stop gracefully (in-flight
//! requests finish; waiting long-polls return at once). Used by `pluto-server serve` and by the
//! tests, which start it in-process on `127.0.0.1:0`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
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

/// Serves the API over `storage` on `listener` until shut down.
pub async fn start<S: Storage>(
    listener: TcpListener,
    storage: S,
    options: ServiceOptions,
) -> Result<RunningServer, StartError> {
    let addr = listener.local_addr().map_err(StartError::Socket)?;
    let (stop, stopped) = watch::channel(false);
    let releases = Arc::new(crate::releases::Releases::new(options.releases.clone()));
    let service = Arc::new(SyncService::new(storage, options, stopped.clone()).await?);
    let app = crate::api::router(service).merge(crate::api::releases_router(releases));
    let task = tokio::spawn(async move {
        let mut stopped = stopped;
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                // An error means every handle is gone: nobody can ask any more, so stop.
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(RunningServer { addr, stop: ShutdownHandle(Arc::new(stop)), task })
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
