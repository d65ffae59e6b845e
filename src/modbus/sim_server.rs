//! A Modbus TCP device simulator: serves register images on a real socket.
//!
//! Poller and probe tests run against this over real TCP rather than against mocks, so
//! what they exercise is what meets a gateway in the field: framing, transaction ids,
//! exception replies, timeouts and dropped connections. The simulator can be told to hang
//! (accept and read requests, never answer) or be stopped (refuse connections) and started
//! again on the same port, and its images can be changed while clients are connected.
//! Registers that were never set answer exception 0x02, like firmware without them.
//! For fault drills it can also misbehave the other ways field devices do ([`Fault`]):
//! answer every read with an exception, answer with the wrong number of registers, answer
//! with a frame that is not Modbus, or close each connection as soon as it is accepted.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};
use tokio_util::sync::CancellationToken;

use super::block::{MAX_REGISTERS_PER_READ, RegisterKind};

/// The holding and input registers of one unit; unset registers do not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitImage {
    /// Holding registers (function 0x03) by protocol address.
    pub holding: BTreeMap<u16, u16>,
    /// Input registers (function 0x04) by protocol address.
    pub input: BTreeMap<u16, u16>,
}

impl UnitImage {
    /// The table of `kind`.
    pub fn table(&self, kind: RegisterKind) -> &BTreeMap<u16, u16> {
        match kind {
            RegisterKind::Holding => &self.holding,
            RegisterKind::Input => &self.input,
        }
    }

    /// The table of `kind`, to change.
    pub fn table_mut(&mut self, kind: RegisterKind) -> &mut BTreeMap<u16, u16> {
        match kind {
            RegisterKind::Holding => &mut self.holding,
            RegisterKind::Input => &mut self.input,
        }
    }

    /// Writes `words` from `address` on in the table of `kind`.
    pub fn set_block(&mut self, kind: RegisterKind, address: u16, words: &[u16]) {
        let table = self.table_mut(kind);
        for (at, word) in (address..=u16::MAX).zip(words) {
            table.insert(at, *word);
        }
    }

    /// Removes registers, so reading them answers exception 0x02.
    pub fn remove(&mut self, kind: RegisterKind, addresses: RangeInclusive<u16>) {
        let table = self.table_mut(kind);
        for address in addresses {
            table.remove(&address);
        }
    }

    /// `count` registers from `address`, or exception 0x02 if any of them is not set.
    pub fn read(
        &self,
        kind: RegisterKind,
        address: u16,
        count: u16,
    ) -> Result<Vec<u16>, ExceptionCode> {
        if count == 0 || count > MAX_REGISTERS_PER_READ {
            return Err(ExceptionCode::IllegalDataValue);
        }
        let table = self.table(kind);
        (0..count)
            .map(|i| {
                address
                    .checked_add(i)
                    .and_then(|at| table.get(&at).copied())
                    .ok_or(ExceptionCode::IllegalDataAddress)
            })
            .collect()
    }
}

/// A way to misbehave, for fault drills (see [`SimServer::set_fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Accept and read requests, never answer (a hung logger); same as `set_hang(true)`.
    Hang,
    /// Answer every read with this exception, e.g. 0x04 (server device failure).
    Exception(ExceptionCode),
    /// A well-formed reply with one register fewer than asked (a wrong byte count).
    ShortAnswer,
    /// Answer every request with a malformed frame: a header whose protocol id is not
    /// Modbus's 0 ([`GARBAGE_REPLY`]), as from another protocol or line noise on the port.
    /// Applies to connections accepted after it was set.
    Garbage,
    /// Accept each connection and close it at once (a DTU out of client slots).
    /// Applies to connections accepted after it was set.
    CloseOnAccept,
}

/// What [`Fault::Garbage`] answers: transaction 1, protocol id 0xDEAD, length 2, unit 1,
/// function 0x83. A complete header, so the client can reject it at once; bytes that
/// claim a longer frame (text, say) would only make it wait for the rest until its timeout.
pub const GARBAGE_REPLY: &[u8] = &[0x00, 0x01, 0xDE, 0xAD, 0x00, 0x02, 0x01, 0x83];

/// The units a simulator serves, shared with the test that changes them.
pub type SharedUnits = Arc<RwLock<HashMap<u8, UnitImage>>>;

#[derive(Debug, Default)]
struct SimState {
    units: SharedUnits,
    fault: Mutex<Option<Fault>>,
    busy_replies: AtomicU32,
    connections: AtomicU32,
    /// Connections open now, and the most ever open at once.
    open: AtomicU32,
    peak_open: AtomicU32,
    requests: Mutex<HashMap<(u8, RegisterKind, u16), u32>>,
}

impl SimState {
    fn fault(&self) -> Option<Fault> {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn answer(&self, request: SlaveRequest<'static>) -> Result<Option<Response>, ExceptionCode> {
        let (kind, address, count) = match request.request {
            Request::ReadHoldingRegisters(a, c) => (RegisterKind::Holding, a, c),
            Request::ReadInputRegisters(a, c) => (RegisterKind::Input, a, c),
            _ => return Err(ExceptionCode::IllegalFunction),
        };
        if let Ok(mut log) = self.requests.lock() {
            *log.entry((request.slave, kind, address)).or_insert(0) += 1;
        }
        let fault = self.fault();
        match fault {
            Some(Fault::Hang) => return Ok(None),
            Some(Fault::Exception(code)) => return Err(code),
            _ => {}
        }
        let busy = self
            .busy_replies
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if busy.is_ok() {
            return Err(ExceptionCode::ServerDeviceBusy);
        }
        let units = self
            .units
            .read()
            .map_err(|_| ExceptionCode::ServerDeviceFailure)?;
        // Like a TCP gateway whose serial device does not answer.
        let unit = units
            .get(&request.slave)
            .ok_or(ExceptionCode::GatewayTargetDevice)?;
        let mut words = unit.read(kind, address, count)?;
        if fault == Some(Fault::ShortAnswer) {
            words.pop();
        }
        Ok(Some(match kind {
            RegisterKind::Holding => Response::ReadHoldingRegisters(words),
            RegisterKind::Input => Response::ReadInputRegisters(words),
        }))
    }
}

/// One connection's service; it lives as long as the connection.
struct SimService(Arc<SimState>);

impl Drop for SimService {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl tokio_modbus::server::Service for SimService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Self::Response, Self::Exception>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        std::future::ready(self.0.answer(request))
    }
}

/// A running simulator. Dropping it stops it.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    state: Arc<SimState>,
    task: Option<JoinHandle<()>>,
}

impl SimServer {
    /// Binds `addr` (port 0 picks a free port) and serves `units` until stopped.
    pub async fn start(addr: SocketAddr, units: HashMap<u8, UnitImage>) -> io::Result<SimServer> {
        let state = Arc::new(SimState {
            units: Arc::new(RwLock::new(units)),
            ..SimState::default()
        });
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = Some(spawn_server(listener, state.clone()));
        Ok(SimServer { addr, state, task })
    }

    /// Serves one unit (`unit`) on 127.0.0.1 at a free port.
    pub async fn start_local(unit: u8, image: UnitImage) -> io::Result<SimServer> {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        SimServer::start(addr, HashMap::from([(unit, image)])).await
    }

    /// The address the simulator listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The served units, to read or change while clients are connected.
    pub fn units(&self) -> &SharedUnits {
        &self.state.units
    }

    /// Replaces (or adds) one unit's image.
    pub fn set_unit(&self, unit: u8, image: UnitImage) {
        if let Ok(mut units) = self.state.units.write() {
            units.insert(unit, image);
        }
    }

    /// `true`: accept and read requests but never answer (a hung logger). `false` clears
    /// any fault.
    pub fn set_hang(&self, hang: bool) {
        self.set_fault(hang.then_some(Fault::Hang));
    }

    /// Starts misbehaving as `fault` (`None`: behave again). Connections accepted while
    /// [`Fault::Garbage`] or [`Fault::CloseOnAccept`] was set keep that behaviour.
    pub fn set_fault(&self, fault: Option<Fault>) {
        *self.state.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
    }

    /// Answers the next `n` requests with exception 0x06 (busy).
    pub fn answer_busy(&self, n: u32) {
        self.state.busy_replies.store(n, Ordering::SeqCst);
    }

    /// Connections accepted so far, over restarts.
    pub fn connections_accepted(&self) -> u32 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Client connections open now.
    pub fn open_connections(&self) -> u32 {
        self.state.open.load(Ordering::SeqCst)
    }

    /// The most client connections that were ever open at the same time: 1 when only one
    /// poller at a time talked to this device.
    pub fn peak_open_connections(&self) -> u32 {
        self.state.peak_open.load(Ordering::SeqCst)
    }

    /// Read requests received for `unit`, `kind`, starting `address` (answered or not).
    pub fn requests_at(&self, unit: u8, kind: RegisterKind, address: u16) -> u32 {
        self.state
            .requests
            .lock()
            .map(|log| log.get(&(unit, kind, address)).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Closes the listener and every open connection: connecting is refused from now on.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same address after [`SimServer::stop`].
    pub async fn restart(&mut self) -> io::Result<()> {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await?;
        self.task = Some(spawn_server(listener, self.state.clone()));
        Ok(())
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn spawn_server(listener: TcpListener, state: Arc<SimState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Connections answered outside tokio-modbus (garbage) end with the server task.
        let raw_connections = CancellationToken::new();
        let _stop_raw = raw_connections.clone().drop_guard();
        let server = Server::new(listener);
        let new_service = |_peer: SocketAddr| {
            let open = state.open.fetch_add(1, Ordering::SeqCst) + 1;
            state.peak_open.fetch_max(open, Ordering::SeqCst);
            Ok(Some(SimService(state.clone())))
        };
        let on_connected = |stream: TcpStream, peer| {
            state.connections.fetch_add(1, Ordering::SeqCst);
            let accepted = match state.fault() {
                // Dropping the stream closes the connection.
                Some(Fault::CloseOnAccept) => Ok(None),
                Some(Fault::Garbage) => {
                    let stop = raw_connections.clone();
                    tokio::spawn(
                        async move { stop.run_until_cancelled(answer_garbage(stream)).await },
                    );
                    Ok(None)
                }
                _ => accept_tcp_connection(stream, peer, new_service),
            };
            async move { accepted }
        };
        let on_error = |e: io::Error| tracing::debug!(error = %e, "simulator connection ended");
        if let Err(e) = server.serve(&on_connected, on_error).await {
            tracing::warn!(error = %e, "simulator stopped");
        }
    })
}

/// Answers whatever arrives on `stream` with [`GARBAGE_REPLY`] until the peer closes.
async fn answer_garbage(stream: TcpStream) {
    let mut buf = [0u8; 512];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
        let mut rest = GARBAGE_REPLY;
        while !rest.is_empty() {
            if stream.writable().await.is_err() {
                return;
            }
            match stream.try_write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_registers_answer_illegal_data_address() {
        let mut unit = UnitImage::default();
        unit.set_block(RegisterKind::Holding, 100, &[1, 2, 3]);
        assert_eq!(unit.read(RegisterKind::Holding, 101, 2), Ok(vec![2, 3]));
        assert_eq!(
            unit.read(RegisterKind::Holding, 102, 2),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            unit.read(RegisterKind::Input, 100, 1),
            Err(ExceptionCode::IllegalDataAddress)
        );
        unit.remove(RegisterKind::Holding, 100..=100);
        assert!(unit.read(RegisterKind::Holding, 100, 1).is_err());
    }

    #[test]
    fn reads_of_zero_or_more_than_125_registers_are_illegal_values() {
        let unit = UnitImage::default();
        assert_eq!(
            unit.read(RegisterKind::Holding, 0, 126),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            unit.read(RegisterKind::Holding, 0, 0),
            Err(ExceptionCode::IllegalDataValue)
        );
    }

    #[test]
    fn a_block_at_the_top_of_the_address_space_does_not_wrap() {
        let mut unit = UnitImage::default();
        unit.set_block(RegisterKind::Holding, 65535, &[7, 8]);
        assert_eq!(unit.holding.len(), 1);
        assert!(unit.read(RegisterKind::Holding, 65535, 2).is_err());
    }

    mod faults {
        use std::time::Duration;

        use super::super::*;
        use crate::modbus::block::ReadRequest;
        use crate::modbus::link::{Link, ReadError};

        const READ: ReadRequest = ReadRequest {
            kind: RegisterKind::Holding,
            address: 100,
            count: 3,
        };

        async fn sim() -> SimServer {
            let mut unit = UnitImage::default();
            unit.set_block(RegisterKind::Holding, 100, &[1, 2, 3]);
            SimServer::start_local(1, unit).await.unwrap()
        }

        async fn read_once(sim: &SimServer) -> Result<Vec<u16>, ReadError> {
            let addr = sim.local_addr();
            let limit = Duration::from_millis(500);
            let mut link = Link::connect("127.0.0.1", addr.port(), limit)
                .await
                .unwrap();
            link.read(1, &READ, Duration::ZERO)
                .await
                .map(|block| block.registers)
        }

        #[tokio::test]
        async fn an_exception_fault_answers_every_read_with_that_code_until_cleared() {
            let sim = sim().await;
            sim.set_fault(Some(Fault::Exception(ExceptionCode::ServerDeviceFailure)));
            let e = read_once(&sim).await.unwrap_err();
            assert_eq!(e.exception(), Some(ExceptionCode::ServerDeviceFailure));
            assert!(!e.needs_reconnect());
            sim.set_fault(None);
            assert_eq!(read_once(&sim).await.unwrap(), vec![1, 2, 3]);
        }

        #[tokio::test]
        async fn a_short_answer_is_a_mismatch_that_drops_the_link() {
            let sim = sim().await;
            sim.set_fault(Some(Fault::ShortAnswer));
            let e = read_once(&sim).await.unwrap_err();
            assert!(
                matches!(&e, ReadError::Mismatch { detail, .. } if detail.contains("3 registers asked, 2 returned")),
                "{e}"
            );
        }

        #[tokio::test]
        async fn a_garbage_answer_is_a_protocol_error_not_a_timeout() {
            let sim = sim().await;
            sim.set_fault(Some(Fault::Garbage));
            let e = read_once(&sim).await.unwrap_err();
            assert!(e.needs_reconnect(), "{e}");
            assert!(
                !matches!(e, ReadError::Timeout { .. }),
                "answered at once: {e}"
            );
            assert_eq!(sim.connections_accepted(), 1);
        }

        #[tokio::test]
        async fn a_connection_closed_on_accept_fails_the_read_and_is_counted() {
            let sim = sim().await;
            sim.set_fault(Some(Fault::CloseOnAccept));
            let e = read_once(&sim).await.unwrap_err();
            assert!(e.needs_reconnect(), "{e}");
            assert!(
                matches!(e, ReadError::Closed { .. } | ReadError::Transport { .. }),
                "closed at once: {e}"
            );
            assert_eq!(sim.connections_accepted(), 1);
            assert_eq!(sim.open_connections(), 0);
            sim.set_fault(None);
            assert_eq!(read_once(&sim).await.unwrap(), vec![1, 2, 3]);
        }

        #[tokio::test]
        async fn the_hang_fault_is_set_hang() {
            let sim = sim().await;
            sim.set_hang(true);
            assert_eq!(sim.state.fault(), Some(Fault::Hang));
            let e = read_once(&sim).await.unwrap_err();
            assert!(matches!(e, ReadError::Timeout { .. }), "{e}");
            sim.set_hang(false);
            assert_eq!(sim.state.fault(), None);
        }
    }
}
