//! A `cascade serve` process for the serving tests, and one HTTP/1.1 exchange with it.

use super::text;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `cascade serve`, stopped when dropped.
pub struct Service {
    /// The process.
    pub child: Child,
    /// The `host:port` it listens on.
    pub address: String,
}

impl Service {
    /// Starts `cascade serve ARGS --bind 127.0.0.1:0` (with no MLflow server from the
    /// environment) and waits for the line naming its address.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cascade"))
            .arg("serve")
            .args(args)
            .args(["--bind", "127.0.0.1:0"])
            .env_remove("MLFLOW_TRACKING_URI")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cascade serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the listening line");
        let address = line
            .trim()
            .strip_prefix("cascade serve: listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Self { child, address }
    }

    /// Sends the signal `name` (`HUP`, `TERM`, ...) to the service.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange: the status, the headers (lower-case names) and the body.
pub fn http(address: &str, method: &str, target: &str, body: &[u8]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "{method} {target} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read answer");
    let raw = text(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").expect("head and body");
    let status = head[9..12].parse().expect("status code");
    (status, head.to_lowercase(), body.to_string())
}
