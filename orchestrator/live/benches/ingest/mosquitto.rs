//! The Mosquitto broker the bench runs against: the one named by
//! `BORDERLANE_MOSQUITTO` (`host:port`), or one the bench starts itself on a
//! free loopback port and stops at the end. The bench's own broker sends
//! without Nagle's algorithm (`set_tcp_nodelay true`), as a broker set up
//! for control traffic would.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the usual install puts the broker when `/usr/sbin` is not on the
/// `PATH`.
const SBIN: &str = "/usr/sbin/mosquitto";

/// A Mosquitto broker to connect to.
pub struct Mosquitto {
    pub host: String,
    pub port: u16,
    /// How it was found, for the report.
    pub origin: String,
    /// The broker process, when the bench started it.
    child: Option<Child>,
}

impl Mosquitto {
    /// The broker of `BORDERLANE_MOSQUITTO`, or a new one if a `mosquitto`
    /// binary is installed; `Ok(None)` if there is neither.
    pub fn find(scratch: &Path) -> Result<Option<Mosquitto>, String> {
        if let Ok(value) = std::env::var("BORDERLANE_MOSQUITTO") {
            let (host, port) = value
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse().ok()?)))
                .ok_or_else(|| format!("BORDERLANE_MOSQUITTO = {value:?}: expected host:port"))?;
            return Ok(Some(Mosquitto {
                host,
                port,
                origin: "from BORDERLANE_MOSQUITTO, with its own settings".to_string(),
                child: None,
            }));
        }
        match binary() {
            Some(bin) => Mosquitto::start(&bin, scratch).map(Some),
            None => Ok(None),
        }
    }

    /// Starts `bin` on a free loopback port, with its log in `scratch`, and
    /// waits until it accepts connections.
    fn start(bin: &Path, scratch: &Path) -> Result<Mosquitto, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let conf = scratch.join("ingest-mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"),
        )
        .map_err(|e| format!("{}: {e}", conf.display()))?;
        let log = std::fs::File::create(scratch.join("ingest-mosquitto.log"))
            .map_err(|e| format!("mosquitto log: {e}"))?;
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let broker = Mosquitto {
            host: "127.0.0.1".to_string(),
            port,
            origin: format!(
                "started by the bench ({}, set_tcp_nodelay true)",
                bin.display()
            ),
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{} did not listen on port {port}", bin.display()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(broker)
    }

    /// The broker's process id, when the bench started it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `mosquitto` binary on the `PATH`, or in `/usr/sbin`.
fn binary() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("mosquitto"))
        .chain([PathBuf::from(SBIN)])
        .find(|p| p.is_file())
}
