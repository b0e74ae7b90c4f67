//! The append-only journal: every accepted batch of lines is written and
//! `fdatasync`ed here before it is acknowledged, and replayed at start for
//! whatever the index had not committed.
//!
//! Files `journal/<first seq, 20 digits>.log`, each a run of records:
//! ```text
//! u32 LE payload length | u32 LE CRC-32 of payload | payload
//! payload: varint first seq, varint count, count × RawLog::encode
//! ```
//! The CRC finds a record torn by a crash (a power cut mid-write): the file
//! is cut back to the last whole record, which is exactly what was
//! acknowledged, since acknowledgement waits for the sync.
//!
//! After the index commits, the current file is closed and every file
//! whose lines the commit holds is deleted ([`Journal::release`]): the
//! journal only holds what arrived since the last commit, and the lines
//! journaled meanwhile, which the index has not seen yet.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::raw::RawLog;
use crate::varint::{put_varint, Reader};

/// A record larger than this is not one we wrote: stop reading there.
const MAX_RECORD: usize = 256 * 1024 * 1024;
const HEADER: usize = 8;

pub struct Journal {
    dir: PathBuf,
    file: File,
    /// Files before the current one, oldest first, each with the
    /// sequence number of its first line (its name): a file holds the
    /// lines up to the next file's first.
    older: Vec<(u64, PathBuf)>,
    current: PathBuf,
    current_first: u64,
    /// The sequence number after the last line appended.
    appended_next: u64,
    buffer: Vec<u8>,
}

/// What [`Journal::open`] found.
pub struct Replay {
    /// Every whole record, in order, with each line's sequence number.
    pub lines: Vec<(u64, RawLog)>,
    /// Bytes cut from the end of a file: a record torn by a crash.
    pub torn_bytes: u64,
}

impl Journal {
    /// Opens the journal in `dir`, reading back every record it holds, and
    /// starts a new file for lines from `next_seq` on (the caller takes the
    /// larger of its own and the replay's next sequence number).
    pub fn open(dir: &Path) -> io::Result<(Journal, Replay)> {
        fs::create_dir_all(dir)?;
        let mut files = list(dir)?;
        let mut replay = Replay {
            lines: Vec::new(),
            torn_bytes: 0,
        };
        for (_, path) in &files {
            replay.torn_bytes += read_file(path, &mut replay.lines)?;
        }
        let next_seq = replay.lines.last().map_or(0, |(seq, _)| seq + 1);
        let next_seq = next_seq.max(files.last().map_or(0, |(first, _)| *first));
        let current = dir.join(file_name(next_seq));
        // An empty file of that name (a crash right after rotation) is
        // simply reused.
        files.retain(|(_, path)| *path != current);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&current)?;
        sync_dir(dir)?;
        let journal = Journal {
            dir: dir.to_owned(),
            file,
            older: files,
            current,
            current_first: next_seq,
            appended_next: next_seq,
            buffer: Vec::new(),
        };
        Ok((journal, replay))
    }

    /// Writes lines numbered from `first_seq` and waits until they are on
    /// disk.
    pub fn append(&mut self, first_seq: u64, lines: &[RawLog]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.buffer.clear();
        self.buffer.extend_from_slice(&[0; HEADER]);
        put_varint(&mut self.buffer, first_seq);
        put_varint(&mut self.buffer, lines.len() as u64);
        for line in lines {
            line.encode(&mut self.buffer);
        }
        let payload_len = self.buffer.len() - HEADER;
        let len = u32::try_from(payload_len)
            .ok()
            .filter(|&len| (len as usize) <= MAX_RECORD)
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "journal batch too large")
            })?;
        let crc = crc32fast::hash(&self.buffer[HEADER..]);
        self.buffer[..4].copy_from_slice(&len.to_le_bytes());
        self.buffer[4..8].copy_from_slice(&crc.to_le_bytes());
        let before = self.file.metadata()?.len();
        let written = self
            .file
            .write_all(&self.buffer)
            .and_then(|()| self.file.sync_data());
        if let Err(error) = written {
            // A full disk can take part of the record: cut it off, or the
            // records appended once space returns would sit behind a torn
            // one, where a replay stops reading.
            if let Err(cut) = self.file.set_len(before) {
                tracing::error!(%cut, "cannot cut a failed journal record back");
            }
            return Err(error);
        }
        self.appended_next = first_seq.saturating_add(lines.len() as u64);
        Ok(())
    }

    /// Every line the journal holds now (what arrived since the last
    /// release), in order: to index again after a failed commit.
    pub fn unreleased(&self) -> io::Result<Vec<(u64, RawLog)>> {
        let mut lines = Vec::new();
        let older = self.older.iter().map(|(_, path)| path);
        for path in older.chain(std::iter::once(&self.current)) {
            read_file(path, &mut lines)?;
        }
        Ok(lines)
    }

    /// Every line before `committed` is committed in the index: start a
    /// new file for the lines to come and delete every file that holds
    /// only committed lines. Lines appended after those the commit holds
    /// (the journal runs ahead of the index) keep their file until a
    /// later release.
    pub fn release(&mut self, committed: u64) -> io::Result<()> {
        if self.appended_next > self.current_first {
            let next = self.dir.join(file_name(self.appended_next));
            self.file = OpenOptions::new().create(true).append(true).open(&next)?;
            let done = std::mem::replace(&mut self.current, next);
            self.older.push((self.current_first, done));
            self.current_first = self.appended_next;
        }
        // A file's lines end where the next file's begin.
        let mut ends = self
            .older
            .iter()
            .skip(1)
            .map(|(first, _)| *first)
            .chain(std::iter::once(self.current_first));
        let deletable = self
            .older
            .iter()
            .take_while(|_| ends.next().is_some_and(|end| end <= committed))
            .count();
        if deletable == 0 {
            return Ok(());
        }
        for (_, path) in self.older.drain(..deletable) {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        sync_dir(&self.dir)
    }

    /// The sequence number the next appended line takes, as the files
    /// on disk tell it.
    pub fn next_seq(&self) -> u64 {
        self.appended_next
    }

    /// Bytes in the journal's files.
    pub fn disk_bytes(&self) -> u64 {
        std::iter::once(&self.current)
            .chain(self.older.iter().map(|(_, path)| path))
            .filter_map(|path| fs::metadata(path).ok())
            .map(|meta| meta.len())
            .sum()
    }
}

fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.log")
}

/// Journal files by first sequence number.
fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let first = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".log"))
            .and_then(|digits| digits.parse::<u64>().ok());
        if let Some(first) = first {
            files.push((first, path));
        }
    }
    files.sort();
    Ok(files)
}

/// Reads one file's whole records into `lines`; cuts off and returns the
/// length of a torn or corrupt tail.
fn read_file(path: &Path, lines: &mut Vec<(u64, RawLog)>) -> io::Result<u64> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut at = 0;
    while let Some(end) = read_record(&bytes, at, lines) {
        at = end;
    }
    let torn = (bytes.len() - at) as u64;
    if torn > 0 {
        tracing::warn!(
            file = %path.display(),
            bytes = torn,
            "log journal ends with a torn record (a crash mid-write); it was never acknowledged and is dropped"
        );
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(at as u64)?;
        file.sync_all()?;
    }
    Ok(torn)
}

/// Reads the record at `at`; the offset after it, or `None` if there is
/// no whole, intact record there.
fn read_record(bytes: &[u8], at: usize, lines: &mut Vec<(u64, RawLog)>) -> Option<usize> {
    let header = bytes.get(at..at + HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    if len > MAX_RECORD {
        return None;
    }
    let payload = bytes.get(at + HEADER..at + HEADER + len)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let mut reader = Reader::new(payload);
    let first_seq = reader.varint()?;
    let count = reader.varint()?;
    let mut decoded = Vec::new();
    for offset in 0..count {
        decoded.push((first_seq.checked_add(offset)?, RawLog::decode(&mut reader)?));
    }
    lines.extend(decoded);
    Some(at + HEADER + len)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::raw::Source;

    fn line(text: &str) -> RawLog {
        RawLog::new(Source::JsonLine, 7, text.as_bytes(), 1 << 20)
    }

    fn texts(replay: &Replay) -> Vec<(u64, String)> {
        replay
            .lines
            .iter()
            .map(|(seq, raw)| (*seq, String::from_utf8_lossy(&raw.bytes).into_owned()))
            .collect()
    }

    #[test]
    fn appended_lines_replay_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, replay) = Journal::open(dir.path()).unwrap();
        assert!(replay.lines.is_empty());
        journal.append(0, &[line("a"), line("b")]).unwrap();
        journal.append(2, &[line("c")]).unwrap();
        drop(journal);

        let (mut journal, replay) = Journal::open(dir.path()).unwrap();
        assert_eq!(
            texts(&replay),
            vec![(0, "a".into()), (1, "b".into()), (2, "c".into())]
        );
        journal.append(3, &[line("d")]).unwrap();
        journal.release(4).unwrap();
        journal.append(4, &[line("e")]).unwrap();
        drop(journal);

        let (_, replay) = Journal::open(dir.path()).unwrap();
        assert_eq!(texts(&replay), vec![(4, "e".into())]);
    }

    #[test]
    fn a_release_keeps_the_files_of_lines_past_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path()).unwrap();
        journal.append(0, &[line("a"), line("b")]).unwrap();
        journal.append(2, &[line("c")]).unwrap();
        // The index committed a and b; c was journaled meanwhile.
        journal.release(2).unwrap();
        journal.append(3, &[line("d")]).unwrap();
        drop(journal);
        let (mut journal, replay) = Journal::open(dir.path()).unwrap();
        let all = vec![
            (0, "a".into()),
            (1, "b".into()),
            (2, "c".into()),
            (3, "d".into()),
        ];
        assert_eq!(texts(&replay), all, "c's file holds a and b too");
        assert_eq!(journal.next_seq(), 4);

        // Now c is committed, d not yet.
        journal.release(3).unwrap();
        drop(journal);
        let (mut journal, replay) = Journal::open(dir.path()).unwrap();
        assert_eq!(texts(&replay), vec![(3, "d".into())]);
        journal.release(4).unwrap();
        assert_eq!(journal.unreleased().unwrap().len(), 0);
        drop(journal);
        let (_, replay) = Journal::open(dir.path()).unwrap();
        assert!(replay.lines.is_empty());
    }

    #[test]
    fn a_torn_tail_is_cut_and_earlier_records_survive() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path()).unwrap();
        journal.append(0, &[line("kept")]).unwrap();
        journal.append(1, &[line("torn")]).unwrap();
        let path = journal.current.clone();
        drop(journal);
        let full = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(full - 3)
            .unwrap();

        let (mut journal, replay) = Journal::open(dir.path()).unwrap();
        assert_eq!(texts(&replay), vec![(0, "kept".into())]);
        assert!(replay.torn_bytes > 0);
        // Appends after the cut are read back whole.
        journal.append(1, &[line("again")]).unwrap();
        drop(journal);
        let (_, replay) = Journal::open(dir.path()).unwrap();
        assert_eq!(
            texts(&replay),
            vec![(0, "kept".into()), (1, "again".into())]
        );
    }

    #[test]
    fn a_flipped_bit_stops_the_read_at_that_record() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path()).unwrap();
        journal.append(0, &[line("one")]).unwrap();
        journal.append(1, &[line("two")]).unwrap();
        let path = journal.current.clone();
        drop(journal);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        fs::write(&path, bytes).unwrap();
        let (_, replay) = Journal::open(dir.path()).unwrap();
        assert_eq!(texts(&replay), vec![(0, "one".into())]);
    }
}
