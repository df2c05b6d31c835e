//! Running a command to its end within a time limit, with its output captured.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `command` to its end, or kills it and panics after `timeout`; returns whether it
/// succeeded and its standard output and error, interleaved as written.
pub fn run(mut command: Command, timeout: Duration) -> (bool, String) {
    // One file in append mode for both streams, so that neither overwrites the other.
    let out = tempfile::NamedTempFile::new().expect("a file for the output");
    let append = || {
        std::fs::OpenOptions::new()
            .append(true)
            .open(out.path())
            .expect("open the output file")
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(append())
        .stderr(append())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(out.path()).unwrap_or_default();
    match status {
        Some(status) => (status.success(), output),
        None => panic!("timed out after {timeout:?}: {command:?}\n{output}"),
    }
}
