//! One gzip member inflated by libdeflate, whole, into the output's spare
//! capacity: 18 µs for the benchmark's 32 KB events where zlib-rs takes
//! 29 µs here. libdeflate inflates only into a buffer big enough for the
//! whole member, which a body's announced size (ISIZE) usually gives.
//!
//! The answer is only ever "done" or "not done": anything libdeflate
//! refuses (corrupt data, a member larger than the room left) is left to
//! the streaming decoder in `gzip`, which says precisely what is wrong,
//! so errors and limits do not depend on this path.

use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// A libdeflate decompressor, owned: freed on drop.
struct Decompressor(NonNull<libdeflate_decompressor>);

impl Decompressor {
    fn new() -> Option<Decompressor> {
        // SAFETY: no arguments; a null result (out of memory) is checked.
        NonNull::new(unsafe { libdeflate_alloc_decompressor() }).map(Decompressor)
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: allocated by `libdeflate_alloc_decompressor`, freed once.
        unsafe { libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

thread_local! {
    /// Each thread keeps one: allocating it costs about as much as
    /// inflating a small body.
    static DECOMPRESSOR: Option<Decompressor> = Decompressor::new();
}

/// Inflates the gzip member at the start of `input` (header included)
/// onto `out`, within its spare capacity; returns the input after the
/// member. `None` leaves `out` as it was.
pub(super) fn member<'a>(input: &'a [u8], out: &mut Vec<u8>) -> Option<&'a [u8]> {
    DECOMPRESSOR.with(|decompressor| {
        let decompressor = decompressor.as_ref()?;
        let spare = out.spare_capacity_mut();
        let room = spare.len();
        let mut read = 0_usize;
        let mut written = 0_usize;
        // SAFETY: the decompressor is this thread's own and used by one
        // call at a time; `input` is readable for `input.len()` bytes and
        // `spare` writable for `room` bytes; libdeflate writes nothing
        // else, and sets `read` and `written` on success only.
        let result = unsafe {
            libdeflate_gzip_decompress_ex(
                decompressor.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                spare.as_mut_ptr().cast(),
                room,
                &mut read,
                &mut written,
            )
        };
        if result != libdeflate_result_LIBDEFLATE_SUCCESS || written > room {
            return None;
        }
        let rest = input.get(read..)?;
        // SAFETY: libdeflate initialized the first `written` bytes of the
        // spare capacity, and `written <= room`.
        unsafe { out.set_len(out.len() + written) };
        Some(rest)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use super::member;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut writer = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        writer.write_all(data).unwrap();
        writer.finish().unwrap()
    }

    #[test]
    fn a_member_with_room_is_inflated_and_the_next_one_found() {
        let first = b"{\"event\": 1}".repeat(100);
        let second = b"second member".to_vec();
        let mut input = gzip(&first);
        let first_len = input.len();
        input.extend(gzip(&second));
        let mut out = b"kept".to_vec();
        out.reserve_exact(first.len());
        let rest = member(&input, &mut out).unwrap();
        assert_eq!(rest.len(), input.len() - first_len);
        assert_eq!(&out[..4], b"kept");
        assert_eq!(&out[4..], &first[..]);
        // No room is left for the second member: declined, untouched;
        // with room, it is read to the end of the input.
        assert_eq!(out.capacity(), out.len());
        assert_eq!(member(rest, &mut out), None);
        assert_eq!(out.len(), 4 + first.len());
        out.reserve_exact(second.len());
        assert_eq!(member(rest, &mut out), Some(&[][..]));
        assert_eq!(&out[4 + first.len()..], &second[..]);
    }

    #[test]
    fn too_little_room_or_damage_is_declined_without_output() {
        let data = b"abcdefgh".repeat(500);
        let input = gzip(&data);
        let mut out = Vec::with_capacity(data.len() - 1);
        assert!(member(&input, &mut out).is_none());
        assert!(out.is_empty());
        let mut damaged = input.clone();
        let crc_at = damaged.len() - 8;
        damaged[crc_at] ^= 1;
        let mut out = Vec::with_capacity(data.len());
        assert!(member(&damaged, &mut out).is_none());
        assert!(out.is_empty());
        assert!(member(&input[..input.len() - 1], &mut out).is_none());
        assert!(member(&input, &mut out).is_some());
        assert_eq!(out, data);
    }
}
