//! Release downloads that no client can hold for ever: each one streams its file with a
//! deadline, and holds one of [`MAX_DOWNLOADS`] permits and one of its address's
//! [`MAX_DOWNLOADS_PER_CLIENT`] slots until its body ends or is dropped (finished, failed, or
//! the connection gone). A client that asks for more waits and tries again (429).
//!
//! A client that stops reading altogether is cut by the connection's write-stall limit
//! ([`crate::config::WRITE_STALL_TIMEOUT`] unless configured): a body's own timer cannot fire
//! while the socket is full, because hyper does not poll a body it cannot write.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use futures_core::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_util::io::ReaderStream;

/// The most release downloads served at once, far below the server's connection limit: a crowd
/// of downloads never takes the connections laptops sync with.
pub const MAX_DOWNLOADS: usize = 64;

/// The most downloads one address may have at once (a laptop needs one).
pub const MAX_DOWNLOADS_PER_CLIENT: usize = 4;

/// The slowest a download may be, on average: a deadline of a minute plus the artifact's size at
/// this rate. An update over the slowest line a site has still arrives; a drip never holds on.
pub const MIN_DOWNLOAD_RATE: u64 = 32 * 1024;

/// Downloads in progress, overall and per client address.
#[derive(Debug)]
pub struct Downloads {
    all: Arc<Semaphore>,
    per_client: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Default for Downloads {
    fn default() -> Self {
        Self { all: Arc::new(Semaphore::new(MAX_DOWNLOADS)), per_client: Arc::default() }
    }
}

/// Why a download cannot start now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// Every download permit is taken.
    #[error("the server is serving {MAX_DOWNLOADS} downloads already; try again in a minute")]
    Everyone,
    /// The client has its share.
    #[error(
        "this address has {MAX_DOWNLOADS_PER_CLIENT} downloads in progress already; let one finish first"
    )]
    Client,
}

/// A download's right to run: released when dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    client: IpAddr,
    per_client: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.per_client.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

impl Downloads {
    /// Takes a slot for a download by `client`, or says why not.
    pub fn start(&self, client: IpAddr) -> Result<Slot, Busy> {
        let mut counts = self.per_client.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = counts.entry(client).or_default();
        if *mine >= MAX_DOWNLOADS_PER_CLIENT {
            return Err(Busy::Client);
        }
        let permit = Arc::clone(&self.all).try_acquire_owned().map_err(|_| Busy::Everyone)?;
        *mine += 1;
        Ok(Slot { _permit: permit, client, per_client: Arc::clone(&self.per_client) })
    }
}

/// How long a download of `length` bytes may take.
pub fn deadline_for(length: u64) -> Duration {
    Duration::from_secs(60 + length / MIN_DOWNLOAD_RATE)
}

/// A file's bytes as a response body that ends in an error once its deadline passes, holding
/// its [`Slot`] until it is dropped.
pub struct Download {
    bytes: ReaderStream<tokio::fs::File>,
    deadline: Pin<Box<Sleep>>,
    _slot: Slot,
}

impl Download {
    /// Streams `file` for at most `deadline`, holding `slot`.
    pub fn new(file: tokio::fs::File, deadline: Duration, slot: Slot) -> Self {
        Self { bytes: ReaderStream::new(file), deadline: Box::pin(tokio::time::sleep(deadline)), _slot: slot }
    }
}

impl Stream for Download {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            let error = io::Error::new(io::ErrorKind::TimedOut, "the download ran past its deadline");
            return Poll::Ready(Some(Err(error)));
        }
        Pin::new(&mut self.bytes).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_gets_its_share_and_everyone_gets_the_rest() {
        let downloads = Downloads::default();
        let here: IpAddr = "10.0.0.1".parse().unwrap();
        let mine: Vec<Slot> = (0..MAX_DOWNLOADS_PER_CLIENT).map(|_| downloads.start(here).unwrap()).collect();
        assert_eq!(downloads.start(here).unwrap_err(), Busy::Client);
        drop(mine);
        assert!(downloads.start(here).is_ok(), "slots come back when their downloads end");
        let others: Vec<Slot> = (0..MAX_DOWNLOADS)
            .map(|i| downloads.start(IpAddr::from([10, 1, (i / 250) as u8, (i % 250) as u8])).unwrap())
            .collect();
        assert_eq!(downloads.start("10.9.9.9".parse().unwrap()).unwrap_err(), Busy::Everyone);
        drop(others);
    }
}
