//! One Modbus TCP connection with the safety tokio-modbus leaves to its caller.
//!
//! tokio-modbus has no timeout and no reconnect, and after a late answer or a transaction-id
//! mismatch the stream is out of step for good (grid-x/modbus#78). So every call here is
//! bounded by a timeout, and every error says whether the connection is still usable:
//! an exception reply means the device is talking sensibly, anything else (timeout,
//! transport error, mismatched header, wrong length) means drop this link and connect anew.
//! The link also keeps the pause a slow logger needs between two requests.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_modbus::client::{Client, Context, tcp};
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::{ExceptionCode, Request, Response, Slave};

use super::block::{ReadRequest, RegisterBlock, RegisterKind};
use super::eof_watch::{EofSeen, EofWatch};

/// Connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The name did not resolve.
    #[error("cannot resolve {endpoint}: {source}")]
    Resolve {
        /// `host:port`.
        endpoint: String,
        /// Cause.
        source: io::Error,
    },
    /// Nothing listens there (the device is off, or the port is wrong).
    #[error("connection to {endpoint} refused (设备未开机或端口错误 / device off or wrong port)")]
    Refused {
        /// `host:port`.
        endpoint: String,
    },
    /// No answer to the TCP handshake in time.
    #[error("connecting to {endpoint} timed out after {after:?} (网络不通 / no network path)")]
    Timeout {
        /// `host:port`.
        endpoint: String,
        /// The timeout.
        after: Duration,
    },
    /// Any other socket error.
    #[error("cannot connect to {endpoint}: {source}")]
    Io {
        /// `host:port`.
        endpoint: String,
        /// Cause.
        source: io::Error,
    },
}

/// A read that did not return registers.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The device answered with a Modbus exception; the link is fine.
    #[error("{request}: exception {code:#04x} ({name})", code = u8::from(*.code), name = exception_name(*.code))]
    Exception {
        /// What was read.
        request: RequestLabel,
        /// The exception.
        code: ExceptionCode,
    },
    /// No answer in time; a late answer would desynchronise the stream.
    #[error("{request}: no answer within {after:?}")]
    Timeout {
        /// What was read.
        request: RequestLabel,
        /// The timeout.
        after: Duration,
    },
    /// The socket failed.
    #[error("{request}: {source}")]
    Transport {
        /// What was read.
        request: RequestLabel,
        /// Cause.
        source: io::Error,
    },
    /// The device closed the connection before answering.
    #[error("{request}: connection closed by the device (设备断开连接)")]
    Closed {
        /// What was read.
        request: RequestLabel,
    },
    /// The answer did not match the request (transaction id, function, length).
    #[error("{request}: answer does not match the request: {detail}")]
    Mismatch {
        /// What was read.
        request: RequestLabel,
        /// What was wrong.
        detail: String,
    },
}

impl ReadError {
    /// True when the link must be dropped and reconnected.
    pub fn needs_reconnect(&self) -> bool {
        !matches!(self, ReadError::Exception { .. })
    }

    /// The exception code, if the device answered with one.
    pub fn exception(&self) -> Option<ExceptionCode> {
        match self {
            ReadError::Exception { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Names a read in messages: `unit 1 holding 40000+2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLabel {
    /// Unit id.
    pub unit: u8,
    /// The read.
    pub request: ReadRequest,
}

impl std::fmt::Display for RequestLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = match self.request.kind {
            RegisterKind::Holding => "holding",
            RegisterKind::Input => "input",
        };
        write!(
            f,
            "unit {} {table} {}+{}",
            self.unit, self.request.address, self.request.count
        )
    }
}

/// The standard name of a Modbus exception, for logs and the probe.
pub fn exception_name(code: ExceptionCode) -> &'static str {
    match code {
        ExceptionCode::IllegalFunction => "illegal function",
        ExceptionCode::IllegalDataAddress => "illegal data address",
        ExceptionCode::IllegalDataValue => "illegal data value",
        ExceptionCode::ServerDeviceFailure => "server device failure",
        ExceptionCode::Acknowledge => "acknowledge",
        ExceptionCode::ServerDeviceBusy => "server device busy",
        ExceptionCode::MemoryParityError => "memory parity error",
        ExceptionCode::GatewayPathUnavailable => "gateway path unavailable",
        ExceptionCode::GatewayTargetDevice => "gateway target device failed to respond",
        ExceptionCode::Custom(_) => "non-standard exception",
    }
}

/// A connected Modbus TCP client, one request at a time.
pub struct Link {
    ctx: Context,
    /// Set once the device closed the connection; tokio-modbus does not say so itself.
    closed: EofSeen,
    endpoint: String,
    timeout: Duration,
    not_before: Instant,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Connects to `host:port`, bounding name resolution and the handshake by `limit`.
    pub async fn connect(host: &str, port: u16, limit: Duration) -> Result<Link, ConnectError> {
        let endpoint = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let addrs: Vec<SocketAddr> =
            match timeout(limit, tokio::net::lookup_host((host, port))).await {
                Err(_) => {
                    return Err(ConnectError::Timeout {
                        endpoint,
                        after: limit,
                    });
                }
                Ok(Err(source)) => return Err(ConnectError::Resolve { endpoint, source }),
                Ok(Ok(addrs)) => addrs.collect(),
            };
        let Some(addr) = addrs.first().copied() else {
            return Err(ConnectError::Resolve {
                endpoint,
                source: io::Error::new(io::ErrorKind::NotFound, "no address"),
            });
        };
        let stream = match timeout(limit, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(ConnectError::Timeout {
                    endpoint,
                    after: limit,
                });
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(ConnectError::Refused { endpoint });
            }
            Ok(Err(source)) => return Err(ConnectError::Io { endpoint, source }),
            Ok(Ok(stream)) => stream,
        };
        // Modbus requests are tiny; Nagle would only add latency to each round trip.
        let _ = stream.set_nodelay(true);
        let (stream, closed) = EofWatch::new(stream);
        Ok(Link {
            ctx: tcp::attach_slave(stream, Slave(1)),
            closed,
            endpoint,
            timeout: limit,
            not_before: Instant::now(),
        })
    }

    /// `host:port` as connected.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sets the per-request timeout.
    pub fn set_timeout(&mut self, limit: Duration) {
        self.timeout = limit;
    }

    /// Makes the next request wait until `pause` after now (e.g. after connecting).
    pub fn hold_off(&mut self, pause: Duration) {
        self.not_before = self.not_before.max(Instant::now() + pause);
    }

    /// Waits until the next request may be sent (pause after connecting or between
    /// requests), so a caller can take the timestamp of a read when it really happens.
    pub async fn ready(&mut self) {
        sleep_until(self.not_before).await;
    }

    /// Performs `request` on unit `unit`, then keeps `pause_after` before the next request.
    pub async fn read(
        &mut self,
        unit: u8,
        request: &ReadRequest,
        pause_after: Duration,
    ) -> Result<RegisterBlock, ReadError> {
        sleep_until(self.not_before).await;
        let label = RequestLabel {
            unit,
            request: *request,
        };
        self.ctx.set_slave(Slave(unit));
        // `Client::call`, not `Reader::read_*_registers`: those debug-assert the register
        // count and would panic the poller on a device that answers short; checked below.
        let call = match request.kind {
            RegisterKind::Holding => Request::ReadHoldingRegisters(request.address, request.count),
            RegisterKind::Input => Request::ReadInputRegisters(request.address, request.count),
        };
        let call = async {
            self.ctx.call(call).await.map(|answer| {
                answer.map(|response| match response {
                    Response::ReadHoldingRegisters(words) | Response::ReadInputRegisters(words) => {
                        words
                    }
                    // tokio-modbus rejects an answer of another function before this.
                    _ => Vec::new(),
                })
            })
        };
        let outcome = timeout(self.timeout, call).await;
        self.not_before = Instant::now() + pause_after;
        match outcome {
            Err(_) => Err(ReadError::Timeout {
                request: label,
                after: self.timeout,
            }),
            Ok(Err(tokio_modbus::Error::Transport(_))) if self.closed.get() => {
                Err(ReadError::Closed { request: label })
            }
            Ok(Err(tokio_modbus::Error::Transport(source))) => Err(ReadError::Transport {
                request: label,
                source,
            }),
            Ok(Err(tokio_modbus::Error::Protocol(e))) => Err(ReadError::Mismatch {
                request: label,
                detail: e.to_string(),
            }),
            Ok(Ok(Err(code))) => Err(ReadError::Exception {
                request: label,
                code,
            }),
            Ok(Ok(Ok(words))) if words.len() != usize::from(request.count) => {
                Err(ReadError::Mismatch {
                    request: label,
                    detail: format!(
                        "{} registers asked, {} returned",
                        request.count,
                        words.len()
                    ),
                })
            }
            Ok(Ok(Ok(words))) => Ok(RegisterBlock::new(request.address, words)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_exception_keeps_the_link() {
        let request = RequestLabel {
            unit: 1,
            request: ReadRequest {
                kind: RegisterKind::Holding,
                address: 40000,
                count: 2,
            },
        };
        let exception = ReadError::Exception {
            request,
            code: ExceptionCode::IllegalDataAddress,
        };
        assert!(!exception.needs_reconnect());
        assert_eq!(
            exception.to_string(),
            "unit 1 holding 40000+2: exception 0x02 (illegal data address)"
        );
        let late = ReadError::Timeout {
            request,
            after: Duration::from_secs(1),
        };
        assert!(late.needs_reconnect());
        let desync = ReadError::Mismatch {
            request,
            detail: "transaction id".into(),
        };
        assert!(desync.needs_reconnect());
    }

    /// The device reads the request and closes without answering. tokio-modbus reports
    /// that with the thread's stale errno, here the EINPROGRESS of another connect: the
    /// misnaming CI once saw.
    #[tokio::test(flavor = "current_thread")]
    async fn a_device_that_closes_before_answering_is_named_closed() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = other.local_addr().unwrap();
        let device = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 12];
            socket.read_exact(&mut request).await.unwrap();
            // Another link connecting on this thread leaves errno at EINPROGRESS, as a
            // second device's reconnect did on CI.
            let _another = tokio::net::TcpStream::connect(other).await.unwrap();
            // Dropped here: a clean close, the request already read, so no reset.
        });
        let mut link = Link::connect("127.0.0.1", port, Duration::from_secs(2))
            .await
            .unwrap();
        let request = ReadRequest {
            kind: RegisterKind::Holding,
            address: 40000,
            count: 2,
        };
        let e = link.read(1, &request, Duration::ZERO).await.unwrap_err();
        device.await.unwrap();
        assert!(matches!(e, ReadError::Closed { .. }), "{e}");
        assert!(e.needs_reconnect());
        assert_eq!(
            e.to_string(),
            "unit 1 holding 40000+2: connection closed by the device (设备断开连接)"
        );
    }
}
