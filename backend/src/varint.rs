//! Varints and zigzag, shared by our binary encodings (quantile sketches,
//! metric chunks). LEB128: 7 bits per byte, low bits first.

/// Maps signed to unsigned so small magnitudes stay small.
pub fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

pub fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Appends `value` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads bytes, varints and floats off a slice; `None` past its end or on
/// a varint longer than 64 bits, never a panic.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Whether every byte was read.
    pub fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }

    pub fn byte(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    pub fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// The next `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(len)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    /// A little-endian f64.
    pub fn f64(&mut self) -> Option<f64> {
        let raw = self.bytes.get(self.at..self.at + 8)?;
        self.at += 8;
        Some(f64::from_le_bytes(raw.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn varints_and_zigzag_round_trip(values in proptest::collection::vec(proptest::num::i64::ANY, 0..50)) {
            let mut out = Vec::new();
            for &v in &values {
                put_varint(&mut out, zigzag(v));
            }
            let mut reader = Reader::new(&out);
            for &v in &values {
                proptest::prop_assert_eq!(reader.varint().map(unzigzag), Some(v));
            }
            proptest::prop_assert!(reader.is_done());
        }
    }

    #[test]
    fn truncated_and_overlong_input_is_none() {
        assert_eq!(Reader::new(&[0x80]).varint(), None);
        assert_eq!(Reader::new(&[0xff; 11]).varint(), None);
        assert_eq!(Reader::new(&[1, 2, 3]).f64(), None);
    }
}
