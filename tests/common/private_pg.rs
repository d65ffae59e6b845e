//! A PostgreSQL server of the test's own (initdb into a temporary directory, a free port),
//! for drills that stop and restart the database: the machine's server is shared by every
//! other test and must stay up.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct PrivatePg {
    pub port: u16,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

/// PostgreSQL refuses to run as root: its tools run as the `postgres` user then.
fn as_postgres(tool: &str) -> Command {
    let path = format!("{BIN}/{tool}");
    if std::env::var("USER").as_deref() == Ok("root") || is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &path]);
        c
    } else {
        Command::new(path)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PrivatePg {
    pub fn start() -> Self {
        let port = super::ports::free_port();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if is_root() {
            // The postgres user must own the directory it initialises.
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the private cluster's directory");
        }
        let out = as_postgres("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .expect("initdb of PostgreSQL 15");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = PrivatePg {
            port,
            data,
            _dir: dir,
        };
        pg.ctl("start");
        pg
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl(&self, action: &str) {
        let log = self.data.join("server.log");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.data.display()
        );
        let mut cmd = as_postgres("pg_ctl");
        cmd.args([action, "-w", "-m", "fast", "-D"]).arg(&self.data);
        if action == "start" {
            cmd.arg("-l").arg(&log).args(["-o", &options]);
        }
        let out = cmd.output().expect("pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl {action} failed: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server (fast shutdown: sessions are cut), waits, and starts it again.
    pub fn restart(&self, down_for: Duration) {
        self.ctl("stop");
        std::thread::sleep(down_for);
        self.ctl("start");
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = as_postgres("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&self.data)
            .output();
    }
}
