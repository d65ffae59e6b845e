//! A free TCP port on the loopback, for a private server (Mosquitto, PostgreSQL, a
//! WebDriver) started by a test or a benchmark.

/// A port nothing listens on now (the OS picked it; the listener is closed again).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
