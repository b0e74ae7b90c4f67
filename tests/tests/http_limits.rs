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

#[test]
fn connections_past_the_cap_are_closed_and_counted() {
    let (partout, _temp) = with_config("[http]\nmax_connections = 3\n");
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&partout.addrs["http"]).unwrap())
        .collect();
    // Give the server time to take the three.
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect(&partout.addrs["http"]).unwrap();
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
    assert!(
        metrics.contains("partout_http_connections_refused_total 1"),
        "{metrics}"
    );
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
