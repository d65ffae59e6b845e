//! A stream that remembers whether the peer closed it.
//!
//! tokio-modbus 0.17 reports a connection the device closed (end of stream) as
//! `io::Error::last_os_error()`, i.e. whatever errno the worker thread last left behind:
//! usually EAGAIN, sometimes 0, and now and then EINPROGRESS from another socket's connect.
//! Guessing "closed" from that errno misnamed a closed connection as "Operation now in
//! progress" on CI. The link wraps its socket in [`EofWatch`] and asks the watch instead.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Wraps a stream; [`EofSeen::get`] turns true once a read returned end of stream.
#[derive(Debug)]
pub struct EofWatch<S> {
    inner: S,
    seen: EofSeen,
}

/// The flag an [`EofWatch`] sets, readable after the stream was handed away.
#[derive(Debug, Clone, Default)]
pub struct EofSeen(Arc<AtomicBool>);

impl EofSeen {
    /// True once the peer closed its side of the stream.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl<S> EofWatch<S> {
    /// Wraps `inner`; the returned flag follows it.
    pub fn new(inner: S) -> (Self, EofSeen) {
        let seen = EofSeen::default();
        (
            EofWatch {
                inner,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for EofWatch<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let room = buf.remaining() > 0;
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        // A successful read into a buffer with room that added nothing is end of stream.
        if matches!(poll, Poll::Ready(Ok(()))) && room && buf.filled().len() == before {
            self.seen.0.store(true, Ordering::Relaxed);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for EofWatch<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    #[tokio::test]
    async fn data_leaves_the_flag_down_and_end_of_stream_raises_it() {
        let (mut peer, ours) = duplex(64);
        let (mut watched, seen) = EofWatch::new(ours);
        peer.write_all(b"ab").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(watched.read(&mut buf).await.unwrap(), 2);
        assert!(!seen.get(), "bytes arrived: not closed");
        // A read into an empty buffer returns nothing without meaning the end.
        peer.write_all(b"c").await.unwrap();
        assert_eq!(watched.read(&mut []).await.unwrap(), 0);
        assert!(!seen.get(), "an empty buffer is not end of stream");
        assert_eq!(watched.read(&mut buf).await.unwrap(), 1);
        drop(peer);
        assert_eq!(watched.read(&mut buf).await.unwrap(), 0);
        assert!(seen.get(), "the peer closed");
    }
}
