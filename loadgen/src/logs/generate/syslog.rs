//! The syslog share: sshd and cron as rsyslog forwards them (RFC 5424),
//! nginx access lines and the kernel as BSD syslog (RFC 3164).

use std::io::Write as _;

use super::{weighted, Line, Written, HOSTS, METHODS, RARE_TERM, STATUSES, USER_AGENTS};
use crate::logs::civil::{bsd_time, civil, rfc3339, MONTHS};
use crate::rng::Rng;

const SSH_USERS: [&str; 8] = [
    "deploy", "ansible", "alice", "bob", "carol", "dave", "backup", "ubuntu",
];
const BAD_USERS: [&str; 8] = [
    "admin", "test", "oracle", "pi", "git", "postgres", "guest", "support",
];
const CRON_COMMANDS: [&str; 6] = [
    "/usr/lib/php/sessionclean",
    "   cd / && run-parts --report /etc/cron.hourly",
    "/opt/backup/run.sh --incremental >/dev/null 2>&1",
    "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
    "certbot -q renew",
    "/usr/local/bin/rotate-uploads --older-than 7d",
];

impl Line<'_> {
    fn rfc5424(&mut self, pri: u8, app: &str, structured: &str) -> Written {
        let (host, pid) = (self.host(), 1000 + self.rng.below(64_000));
        write!(
            self.out,
            "<{pri}>1 {} {host} {app} {pid} - {structured} ",
            rfc3339(self.ts)
        )
    }
    fn rfc3164(&mut self, pri: u8, host: &str, tag: &str) -> Written {
        write!(self.out, "<{pri}>{} {host} {tag}: ", bsd_time(self.ts))
    }
    pub(super) fn sshd(&mut self) -> Written {
        let roll = self.rng.unit();
        let pri = if roll > 0.93 { 83 } else { 86 };
        self.rfc5424(pri, "sshd", "-")?;
        let port = 32_768 + self.rng.below(28_000);
        let user = self.rng.pick(&SSH_USERS);
        if roll < 0.30 {
            let ip = self.internal_ip();
            let key = Rng::for_item(0x55_4B, self.rng.below(50)).next();
            write!(self.out, "Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:{key:016x}{:016x}", key.rotate_left(17))
        } else if roll < 0.55 {
            write!(
                self.out,
                "pam_unix(sshd:session): session opened for user {user}(uid={}) by (uid=0)",
                1000 + user.len()
            )
        } else if roll < 0.75 {
            write!(
                self.out,
                "pam_unix(sshd:session): session closed for user {user}"
            )
        } else if roll < 0.85 {
            let (bad, ip) = (self.rng.pick(&BAD_USERS), self.client_ip());
            write!(
                self.out,
                "Failed password for invalid user {bad} from {ip} port {port} ssh2"
            )
        } else if roll < 0.93 {
            let ip = self.internal_ip();
            write!(
                self.out,
                "Received disconnect from {ip} port {port}:11: disconnected by user"
            )
        } else if roll < 0.97 {
            self.tally.phrase += 1;
            let ip = self.client_ip();
            if self.rng.unit() < 0.5 {
                write!(
                    self.out,
                    "Read error from remote host {ip} port {port}: Connection reset by peer"
                )
            } else {
                write!(
                    self.out,
                    "error: kex_exchange_identification: read: Connection reset by peer"
                )
            }
        } else {
            let ip = self.client_ip();
            write!(
                self.out,
                "Connection closed by authenticating user root {ip} port {port} [preauth]"
            )
        }
    }
    pub(super) fn cron(&mut self) -> Written {
        self.rfc5424(
            78,
            "CRON",
            "[timeQuality tzKnown=\"1\" isSynced=\"1\" syncAccuracy=\"500000\"]",
        )?;
        if self.rng.unit() < 0.3 {
            write!(
                self.out,
                "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
            )
        } else {
            let command = self.rng.pick(&CRON_COMMANDS);
            write!(self.out, "(root) CMD ({command})")
        }
    }
    pub(super) fn nginx(&mut self) -> Written {
        let host = self.rng.pick(&HOSTS[..8]);
        self.rfc3164(190, host, "nginx")?;
        let ip = self.client_ip();
        let method = weighted(self.rng, &METHODS);
        if method == "GET" {
            self.tally.common += 1;
        }
        let mut path = self.path();
        if path == "/api/v1/search" {
            path.push_str(&format!(
                "?q=item{}&page={}",
                self.rng.below(500),
                1 + self.rng.below(5)
            ));
        }
        let status = weighted(self.rng, &STATUSES);
        let bytes = if status == 304 || method == "HEAD" {
            0
        } else {
            (1800.0 * (1.2 * self.rng.normal()).exp()) as u64
        };
        let referer = if self.rng.unit() < 0.6 {
            "-".to_owned()
        } else {
            format!("https://shop.example.com{}", self.path())
        };
        let agent = self.rng.pick(&USER_AGENTS);
        let c = civil(self.ts);
        let seconds = self.duration_ms(20.0) / 1000.0;
        write!(
            self.out,
            "{ip} - - [{:02}/{}/{}:{:02}:{:02}:{:02} +0000] \"{method} {path} HTTP/1.1\" {status} {bytes} \"{referer}\" \"{agent}\" rt={seconds:.3}",
            c.day, MONTHS[c.month - 1], c.year, c.hour, c.minute, c.second
        )
    }
    fn uptime(&self, host: &str) -> String {
        let boot = self.ts / 1000 - 1_700_000_000_000_000 + host.len() as i64 * 7_777_777;
        format!(
            "{:>5}.{:06}",
            boot / 1_000_000 % 10_000_000,
            boot % 1_000_000
        )
    }
    pub(super) fn kernel(&mut self) -> Written {
        let host = self.host();
        let roll = self.rng.unit();
        let pri = if roll < 0.7 { 4 } else { 6 };
        self.rfc3164(pri, host, "kernel")?;
        let uptime = self.uptime(host);
        if roll < 0.7 {
            let src = self.client_ip();
            let port = 1024 + self.rng.below(60_000);
            let dpt = self.rng.pick(&[22, 23, 3389, 5432, 6379, 8080, 445]);
            write!(self.out, "[{uptime}] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC={src} DST=10.0.0.{} LEN=60 TOS=0x00 PREC=0x00 TTL={} ID={} DF PROTO=TCP SPT={port} DPT={dpt} WINDOW=64240 RES=0x00 SYN URGP=0", 1 + host.len(), 40 + self.rng.below(24), self.rng.below(65_536))
        } else if roll < 0.8 {
            write!(self.out, "[{uptime}] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.  Check SNMP counters.")
        } else if roll < 0.9 {
            write!(
                self.out,
                "[{uptime}] nf_conntrack: nf_conntrack: table full, dropping packet"
            )
        } else if roll < 0.98 {
            write!(self.out, "[{uptime}] EXT4-fs (nvme0n1p1): mounted filesystem with ordered data mode. Quota mode: none.")
        } else {
            let pid = 1000 + self.rng.below(60_000);
            write!(self.out, "[{uptime}] Out of memory: Killed process {pid} (python3) total-vm:{}kB, anon-rss:{}kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:4567kB oom_score_adj:0", 2_000_000 + self.rng.below(1_000_000), 1_000_000 + self.rng.below(900_000))
        }
    }
    pub(super) fn segfault(&mut self) -> Written {
        self.tally.rare += 1;
        let host = self.host();
        self.rfc3164(3, host, "kernel")?;
        let uptime = self.uptime(host);
        let (pid, ip) = (1000 + self.rng.below(60_000), self.rng.next() >> 20);
        write!(self.out, "[{uptime}] python3[{pid}]: {RARE_TERM} at 0 ip {ip:016x} sp 00007ffd1e2f3a40 error 4 in libc.so.6[7f3a2b0a0000+195000]")
    }
}
