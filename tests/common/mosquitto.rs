//! A private Mosquitto on a free port of 127.0.0.1, for the tests and benchmarks that must
//! configure, restart or overload their broker (the machine's broker on 1883 is shared and
//! keeps its defaults). The one way they all start one; benches/ingest.rs includes this
//! file by path, so it needs nothing from the test helpers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running Mosquitto, killed when dropped. Its log is kept in its own directory.
pub struct Mosquitto {
    pub port: u16,
    child: Option<Child>,
    conf: PathBuf,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts Mosquitto with the `mosquitto.conf` lines `settings` gives for its own
    /// directory (where persistence or TLS files may go), after a listener on a free port.
    pub fn start(settings: impl FnOnce(&Path) -> String) -> Self {
        let port = super::ports::free_port();
        let dir = tempfile::tempdir().unwrap();
        // Started as root, Mosquitto drops to its own user: it must be able to save here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let conf = dir.path().join("mosquitto.conf");
        let mut text = format!("listener {port} 127.0.0.1\n{}", settings(dir.path()));
        // PVLEDGER_TEST_BROKER_LOG=1: every packet in the broker's log, for debugging.
        if std::env::var_os("PVLEDGER_TEST_BROKER_LOG").is_some() {
            text.push_str("\nlog_type all\n");
        }
        std::fs::write(&conf, text).unwrap();
        let mut broker = Mosquitto {
            port,
            child: None,
            conf,
            dir,
        };
        broker.launch();
        broker
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// What the broker logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Stops the broker as an operator would (SIGTERM: it saves its state), waits, and
    /// starts it again on the same port with the same configuration and state.
    pub fn restart(&mut self, down_for: Duration) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = child.wait();
        }
        std::thread::sleep(down_for);
        self.launch();
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mosquitto.log"))
            .unwrap();
        // Debian installs it in /usr/sbin, which a user's PATH may lack.
        let binary = if Path::new("/usr/sbin/mosquitto").exists() {
            "/usr/sbin/mosquitto"
        } else {
            "mosquitto"
        };
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the mosquitto binary");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("mosquitto exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("mosquitto did not listen on {}: {}", self.port, self.log());
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
