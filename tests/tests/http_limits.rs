//! The HTTP listener's limits on the real binary: slow headers are cut
//! off, connections past the cap are closed on arrival and counted, and
//! HTTPS from a PEM certificate and key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use partout_e2e::{http, Partout};

fn with_config(text: &str) -> (Partout, tempfile::TempDir) {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("partout.toml");
    std::fs::write(&config, text).unwrap();
    let partout = Partout::start_with(None, &["--config", config.to_str().unwrap()]);
    (partout, temp)
}

/// Reads until the server closes the connection; how long it took, or
/// `None` if it was still open after `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 1024];
    while started.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            // A 408 or a reset also ends it.
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let (partout, _temp) = with_config("[http]\nheader_timeout_secs = 1\n");
    let mut slow = TcpStream::connect(&partout.addrs["http"]).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: partout\r\nX-Slow: ")
        .unwrap();
    let closed = closed_within(&mut slow, Duration::from_secs(10));
    let took = closed.expect("the connection is still open after 10 s");
    assert!(took < Duration::from_secs(4), "{took:?}");
    // Normal requests are not affected.
    let healthy = http()
        .get(format!("{}/healthz", partout.url()))
        .send()
        .unwrap();
    assert_eq!(healthy.status(), 200);
    partout.stop();
}

/// Opens a connection and has one request served on it, so that it holds
/// one of the server's connection slots, idle and kept alive. `None` when
/// the server closed it instead, as it does when every slot is taken.
fn served_connection(addr: &str) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: partout\r\n\r\n")
        .ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    Some(stream)
}

#[test]
fn connections_past_the_cap_are_closed_and_counted() {
    let (partout, _temp) = with_config("[http]\nmax_connections = 3\n");
    let addr = &partout.addrs["http"];
    // The readiness check's connection, closed by the client, holds a
    // slot until the server has seen it close: a connection refused
    // meanwhile is counted and tried again.
    let mut refused_before = 0;
    let mut idle = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while idle.len() < 3 {
        match served_connection(addr) {
            Some(stream) => idle.push(stream),
            None => {
                refused_before += 1;
                assert!(Instant::now() < deadline, "three connections never served");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    let mut extra = TcpStream::connect(addr).unwrap();
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: partout\r\n\r\n");
    let closed = closed_within(&mut extra, Duration::from_secs(5));
    assert!(closed.is_some(), "a fourth connection was served");
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    let metrics = http()
        .get(format!("{}/metrics", partout.url()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let expected = format!(
        "partout_http_connections_refused_total {}",
        refused_before + 1
    );
    assert!(metrics.contains(&expected), "{expected} in\n{metrics}");
    partout.stop();
}

#[test]
fn https_from_a_pem_certificate_and_key() {
    let temp = tempfile::tempdir().unwrap();
    let (cert, key) = (temp.path().join("cert.pem"), temp.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed to make a test certificate");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let partout = Partout::start_with(
        None,
        &[
            "--http-tls-cert",
            cert.to_str().unwrap(),
            "--http-tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(partout.url().starts_with("https://"));
    let me = http()
        .get(format!("{}/api/v1/whoami", partout.url()))
        .send()
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(
        partout.log().contains("web app at https://"),
        "{}",
        partout.log()
    );
    // Plain HTTP on the TLS port gets no answer it could use.
    let mut plain = TcpStream::connect(&partout.addrs["http"]).unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: partout\r\n\r\n")
        .unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
    partout.stop();
}
