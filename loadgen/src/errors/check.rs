//! What partout says it holds, through `/api/v1` (always with the
//! token, as reads will soon need it), and what it costs in memory and
//! disk.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::server::Server;

/// How long the issue counts may stand still before the check gives up.
const STALL: Duration = Duration::from_secs(30);
/// Issues per page of `GET /api/v1/issues` (its maximum).
const PAGE: u64 = 1000;

fn get_json(server: &Server, token: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let response = server
        .http
        .get(server.url(path)?)
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .with_context(|| format!("GET {path}"))?;
    let status = response.status();
    let text = response.text()?;
    if !status.is_success() {
        bail!("GET {path} answered {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("GET {path} answered {text:?}"))
}

/// The first project and its first active key.
pub fn default_key(server: &Server, token: &str) -> anyhow::Result<(i64, String)> {
    let projects = get_json(server, token, "/api/v1/projects")?;
    let project = projects
        .as_array()
        .and_then(|all| all.first())
        .context("partout has no error project")?;
    let id = project["id"].as_i64().context("a project without an id")?;
    let key = project["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|key| key["revoked_at_ms"].is_null())
        .and_then(|key| key["public_key"].as_str())
        .context("the default project has no active key")?;
    Ok((id, key.to_owned()))
}

/// (issues, sum of their event counts) of a project now.
fn issue_totals(server: &Server, token: &str, project_id: i64) -> anyhow::Result<(u64, u64)> {
    let (mut issues, mut events) = (0, 0);
    let mut offset = 0;
    // Bounded: a page per thousand issues, and no more than a hundred.
    for _ in 0..100 {
        let page = get_json(
            server,
            token,
            &format!("/api/v1/issues?project={project_id}&limit={PAGE}&offset={offset}"),
        )?;
        let list = page["issues"].as_array().context("no issues array")?;
        issues += list.len() as u64;
        events += list
            .iter()
            .map(|issue| issue["count"].as_u64().unwrap_or(0))
            .sum::<u64>();
        match page["next_offset"].as_u64() {
            Some(next) => offset = next,
            None => return Ok((issues, events)),
        }
    }
    bail!("more than {} issues", 100 * PAGE)
}

/// Waits until the project has exactly `groups` issues whose counts sum
/// to `accepted`, and returns when it saw that.
pub fn wait_counted(
    server: &Server,
    token: &str,
    project_id: i64,
    accepted: u64,
    groups: u64,
    deadline: Instant,
) -> anyhow::Result<Instant> {
    let mut last = (0, 0);
    let mut moved = Instant::now();
    loop {
        let now = issue_totals(server, token, project_id)?;
        if now == (groups, accepted) {
            return Ok(Instant::now());
        }
        if now.0 > groups || now.1 > accepted {
            bail!(
                "{} issues counting {} events, but {groups} issues and {accepted} events were sent",
                now.0,
                now.1
            );
        }
        if now != last {
            last = now;
            moved = Instant::now();
        }
        if moved.elapsed() > STALL || Instant::now() > deadline {
            bail!(
                "{} issues counting {} events after {} s without progress; {groups} issues and {accepted} events expected",
                now.0,
                now.1,
                STALL.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The peak resident set of process `pid` (`VmHWM`), bytes.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes of the files under `dir`, recursively.
pub fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| Some((entry.path(), entry.metadata().ok()?)))
        .map(|(path, meta)| {
            if meta.is_dir() {
                tree_bytes(&path)
            } else {
                meta.len()
            }
        })
        .sum()
}
