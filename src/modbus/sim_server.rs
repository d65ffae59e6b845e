//! A Modbus TCP device simulator: serves register images on a real socket.
//!
//! Poller and probe tests run against this over real TCP rather than against mocks, so
//! what they exercise is what meets a gateway in the field: framing, transaction ids,
//! exception replies, timeouts and dropped connections. The simulator can be told to hang
//! (accept and read requests, never answer) or be stopped (refuse connections) and started
//! again on the same port, and its images can be changed while clients are connected.
//! Registers that were never set answer exception 0x02, like firmware without them.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

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

/// The units a simulator serves, shared with the test that changes them.
pub type SharedUnits = Arc<RwLock<HashMap<u8, UnitImage>>>;

#[derive(Debug, Default)]
struct SimState {
    units: SharedUnits,
    hang: AtomicBool,
    busy_replies: AtomicU32,
    connections: AtomicU32,
    /// Connections open now, and the most ever open at once.
    open: AtomicU32,
    peak_open: AtomicU32,
    requests: Mutex<HashMap<(u8, RegisterKind, u16), u32>>,
}

impl SimState {
    fn answer(&self, request: SlaveRequest<'static>) -> Result<Option<Response>, ExceptionCode> {
        let (kind, address, count) = match request.request {
            Request::ReadHoldingRegisters(a, c) => (RegisterKind::Holding, a, c),
            Request::ReadInputRegisters(a, c) => (RegisterKind::Input, a, c),
            _ => return Err(ExceptionCode::IllegalFunction),
        };
        if let Ok(mut log) = self.requests.lock() {
            *log.entry((request.slave, kind, address)).or_insert(0) += 1;
        }
        if self.hang.load(Ordering::SeqCst) {
            return Ok(None);
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
        let words = unit.read(kind, address, count)?;
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

    /// `true`: accept and read requests but never answer (a hung logger).
    pub fn set_hang(&self, hang: bool) {
        self.state.hang.store(hang, Ordering::SeqCst);
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
        let server = Server::new(listener);
        let new_service = |_peer: SocketAddr| {
            state.connections.fetch_add(1, Ordering::SeqCst);
            let open = state.open.fetch_add(1, Ordering::SeqCst) + 1;
            state.peak_open.fetch_max(open, Ordering::SeqCst);
            Ok(Some(SimService(state.clone())))
        };
        let on_connected = |stream, peer| {
            let accepted = accept_tcp_connection(stream, peer, new_service);
            async move { accepted }
        };
        let on_error = |e: io::Error| tracing::debug!(error = %e, "simulator connection ended");
        if let Err(e) = server.serve(&on_connected, on_error).await {
            tracing::warn!(error = %e, "simulator stopped");
        }
    })
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
}
