//! Generic listener loops: UDP sockets and TCP accept loops that feed a
//! [`Protocol`]'s sessions. Nothing here knows any protocol.
//!
//! - UDP: one task per socket; after each readiness event it drains every
//!   queued datagram without waiting, so a burst costs one wake-up. The
//!   receive buffer is enlarged (forced past `rmem_max` when permitted) so
//!   bursts wait in the kernel instead of being dropped while we flush.
//! - TCP: a task per connection, capped by a semaphore; frames are bounded
//!   by the framer, so memory per connection is bounded too.
//! - Shutdown: on cancellation every loop stops waiting, drains what the
//!   kernel already holds for it, hands the last frames on, and returns.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use partout_protocols::framing::{Framer, Step};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{LineSession, Protocol};

/// Largest UDP payload there is.
const MAX_DATAGRAM: usize = 65_536;
/// How much a TCP read asks for at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Pause after a failed accept (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Bounds shared by the listeners of one protocol.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest line or frame accepted over TCP.
    pub max_frame_len: usize,
    /// Concurrent TCP connections per listener.
    pub max_connections: usize,
    /// Requested UDP receive buffer, in bytes.
    pub udp_receive_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_len: 64 * 1024,
            max_connections: 1024,
            udp_receive_buffer: 32 * 1024 * 1024,
        }
    }
}

/// Binds a UDP socket with a large receive buffer.
pub fn bind_udp(addr: SocketAddr, receive_buffer: usize) -> io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if !force_receive_buffer(&socket, receive_buffer) {
        // Without CAP_NET_ADMIN the kernel caps this at net.core.rmem_max.
        let _ = socket.set_recv_buffer_size(receive_buffer);
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// SO_RCVBUFFORCE: past rmem_max, allowed for root and CAP_NET_ADMIN.
fn force_receive_buffer(socket: &socket2::Socket, bytes: usize) -> bool {
    let Ok(bytes) = libc::c_int::try_from(bytes) else {
        return false;
    };
    // SAFETY: setsockopt on a socket we own, with a pointer to a live c_int
    // and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&raw const bytes).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// Receives datagrams until `shutdown`, then drains what is queued.
pub async fn run_udp(socket: UdpSocket, protocol: Arc<dyn Protocol>, shutdown: CancellationToken) {
    let mut session = protocol.session();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            ready = socket.readable() => {
                if let Err(err) = ready {
                    tracing::warn!(protocol = protocol.name(), error = %err, "udp socket failed");
                    break;
                }
                drain_udp(&socket, session.as_mut(), &mut buf, protocol.name());
            }
        }
    }
    drain_udp(&socket, session.as_mut(), &mut buf, protocol.name());
}

fn drain_udp(socket: &UdpSocket, session: &mut dyn LineSession, buf: &mut [u8], name: &str) {
    loop {
        match socket.try_recv_from(buf) {
            Ok((len, peer)) => session.datagram_from(buf.get(..len).unwrap_or_default(), peer),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
            Err(err) => {
                // ICMP errors and the like: the socket itself is fine.
                tracing::debug!(protocol = name, error = %err, "udp receive error");
                return;
            }
        }
    }
}

/// Accepts connections until `shutdown`; each runs on `tracker`.
pub async fn run_tcp(
    listener: TcpListener,
    protocol: Arc<dyn Protocol>,
    limits: Limits,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(protocol = protocol.name(), error = %err, "accept failed; backing off");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            tracing::warn!(protocol = protocol.name(), %peer, limit = limits.max_connections, "too many connections; closing this one");
            continue;
        };
        let (protocol, shutdown) = (Arc::clone(&protocol), shutdown.clone());
        tracker.spawn(async move {
            if let Err(err) = serve_connection(stream, protocol.as_ref(), limits, shutdown).await {
                tracing::debug!(protocol = protocol.name(), %peer, error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    protocol: &dyn Protocol,
    limits: Limits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut session = match stream.peer_addr() {
        Ok(peer) => protocol.session_for_peer(peer),
        Err(_) => protocol.session(),
    };
    let max_frame_len = protocol.max_frame_len().unwrap_or(limits.max_frame_len);
    let mut framer = Framer::new(protocol.framing(), max_frame_len);
    if protocol.truncates_long_frames() {
        framer = framer.truncating();
    }
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    loop {
        buf.reserve(READ_CHUNK);
        let read = tokio::select! {
            _ = shutdown.cancelled() => {
                // Take what the peer already sent, then stop.
                drain_stream(&stream, &mut buf);
                consume_frames(&mut framer, &mut buf, session.as_mut());
                break;
            }
            read = stream.read_buf(&mut buf) => read?,
        };
        consume_frames(&mut framer, &mut buf, session.as_mut());
        session.ready().await;
        if read == 0 {
            break;
        }
    }
    match framer.finish(&buf) {
        Some(Ok(last)) => session.line(last),
        Some(Err(error)) => session.frame_error(&error),
        None => {}
    }
    session.end_of_chunk();
    session.ready().await;
    Ok(())
}

fn drain_stream(stream: &TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = vec![0u8; READ_CHUNK];
    while let Ok(len) = stream.try_read(&mut chunk) {
        if len == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..len).unwrap_or_default());
    }
}

/// Hands every complete frame in `buf` to the session and removes it.
fn consume_frames(framer: &mut Framer, buf: &mut Vec<u8>, session: &mut dyn LineSession) {
    let mut start = 0;
    loop {
        let rest = buf.get(start..).unwrap_or_default();
        match framer.next(rest) {
            Step::Frame { frame, consumed } => {
                session.line(frame);
                start += consumed;
            }
            Step::Skipped { error, consumed } => {
                session.frame_error(&error);
                start += consumed;
            }
            Step::Discarded { consumed } => start += consumed,
            Step::Truncated { frame, consumed } => {
                session.truncated_line(frame);
                start += consumed;
            }
            Step::NeedMore => break,
        }
    }
    buf.drain(..start);
    session.end_of_chunk();
}
