//! Varints, zigzag and decimal floats, shared by our binary encodings
//! (quantile sketches, metric chunks). LEB128: 7 bits per byte, low bits
//! first.

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

/// Appends `value` as a varint of ASCII bytes only: 6 bits per byte, low
/// bits first, 0x40 on every byte but the last. For encodings that must stay
/// valid UTF-8 (a line stored as text), where LEB128's high bit cannot be.
pub fn put_ascii_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x40 {
        out.push((value as u8 & 0x3f) | 0x40);
        value >>= 6;
    }
    out.push(value as u8);
}

/// Largest decimal exponent tried: beyond it values are rarely decimal.
pub const MAX_DECIMAL_EXPONENT: u8 = 6;
/// Integers above this lose precision as f64; the decimal forms stay below.
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;
/// `10^e` for every exponent the decimal forms use.
pub const POWERS_OF_TEN: [f64; MAX_DECIMAL_EXPONENT as usize + 1] =
    [1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0];
/// The exponent slot of [`put_float`] that says "8 raw bytes follow".
const RAW_FLOAT: u64 = 7;

/// The integer `i` with `i / 10^exponent == value` bit for bit, computed
/// exactly as decoders compute it; `None` when there is none (NaN,
/// infinities, -0.0, longer fractions, magnitudes past 2^53).
pub fn decimal_integer(value: f64, exponent: u8) -> Option<i64> {
    let scale = *POWERS_OF_TEN.get(usize::from(exponent))?;
    let scaled = (value * scale).round();
    if !scaled.is_finite() || scaled.abs() >= MAX_EXACT_INT {
        return None;
    }
    let integer = scaled as i64;
    // Exactly what the decoder computes must give back the same bits; this
    // also refuses -0.0, which the integer 0 cannot carry.
    ((integer as f64 / scale).to_bits() == value.to_bits()).then_some(integer)
}

/// Appends one float in as few bytes as its decimal form allows: a varint
/// `zigzag(i) << 3 | e` when `value` is `i / 10^e` exactly (a latency of
/// 12.345 ms takes 3 bytes), else the varint 7 and the 8 raw bytes.
/// Bit-exact either way.
pub fn put_float(out: &mut Vec<u8>, value: f64) {
    for exponent in 0..=MAX_DECIMAL_EXPONENT {
        if let Some(integer) = decimal_integer(value, exponent) {
            put_varint(out, (zigzag(integer) << 3) | u64::from(exponent));
            return;
        }
    }
    put_varint(out, RAW_FLOAT);
    out.extend_from_slice(&value.to_le_bytes());
}

/// Like [`put_float`], but a decimal within `relative` of `value` (as a
/// share of its magnitude) is good enough: for sums, whose last bits are
/// the rounding noise of adding decimals in binary (12.345 + 8.001 is
/// 20.346000000000004), and which are exact decimals again once rounded.
pub fn put_float_within(out: &mut Vec<u8>, value: f64, relative: f64) {
    let tolerance = value.abs() * relative;
    for exponent in 0..=MAX_DECIMAL_EXPONENT {
        let scale = POWERS_OF_TEN[usize::from(exponent)];
        let near = (value * scale).round() / scale;
        if (near - value).abs() <= tolerance {
            if let Some(integer) = decimal_integer(near, exponent) {
                put_varint(out, (zigzag(integer) << 3) | u64::from(exponent));
                return;
            }
        }
    }
    put_float(out, value);
}

/// The integer `prediction` comes to at `exponent` decimals; 0 when that
/// is not a whole number f64 holds exactly. Only IEEE multiplication and
/// rounding: every platform computes the same.
fn predicted_integer(prediction: f64, exponent: u8) -> i64 {
    let Some(scale) = POWERS_OF_TEN.get(usize::from(exponent)) else {
        return 0;
    };
    let scaled = (prediction * scale).round();
    if scaled.is_finite() && scaled.abs() < MAX_EXACT_INT {
        scaled as i64
    } else {
        0
    }
}

/// Like [`put_float`], but a decimal is written as its difference from
/// `prediction` at the same number of decimals: a value the reader can
/// predict closely takes a byte or two. Read with [`Reader::float_near`]
/// and the same prediction; bit-exact either way.
pub fn put_float_near(out: &mut Vec<u8>, value: f64, prediction: f64) {
    for exponent in 0..=MAX_DECIMAL_EXPONENT {
        if let Some(integer) = decimal_integer(value, exponent) {
            let residual = integer.wrapping_sub(predicted_integer(prediction, exponent));
            put_varint(out, (zigzag(residual) << 3) | u64::from(exponent));
            return;
        }
    }
    put_varint(out, RAW_FLOAT);
    out.extend_from_slice(&value.to_le_bytes());
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

    /// Every byte not read yet; they count as read.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        self.at = self.bytes.len();
        rest
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

    /// A varint written by [`put_ascii_varint`].
    pub fn ascii_varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(6) {
            let byte = self.byte()?;
            if byte >= 0x80 {
                return None;
            }
            value |= u64::from(byte & 0x3f) << shift;
            if byte & 0x40 == 0 {
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

    /// A float written by [`put_float`].
    pub fn float(&mut self) -> Option<f64> {
        let word = self.varint()?;
        let slot = word & 7;
        if slot == RAW_FLOAT {
            return self.f64();
        }
        let scale = POWERS_OF_TEN.get(usize::try_from(slot).ok()?)?;
        Some(unzigzag(word >> 3) as f64 / scale)
    }

    /// A float written by [`put_float_near`] with `prediction`.
    pub fn float_near(&mut self, prediction: f64) -> Option<f64> {
        let word = self.varint()?;
        let slot = word & 7;
        if slot == RAW_FLOAT {
            return self.f64();
        }
        let exponent = u8::try_from(slot).ok()?;
        let scale = POWERS_OF_TEN.get(usize::from(exponent))?;
        let integer = unzigzag(word >> 3).wrapping_add(predicted_integer(prediction, exponent));
        Some(integer as f64 / scale)
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

        #[test]
        fn ascii_varints_round_trip_in_ascii_bytes(values in proptest::collection::vec(proptest::num::u64::ANY, 0..50)) {
            let mut out = Vec::new();
            for &v in &values {
                put_ascii_varint(&mut out, v);
            }
            proptest::prop_assert!(out.is_ascii());
            let mut reader = Reader::new(&out);
            for &v in &values {
                proptest::prop_assert_eq!(reader.ascii_varint(), Some(v));
            }
            proptest::prop_assert!(reader.is_done());
        }

        #[test]
        fn ascii_varints_refuse_what_is_not_one(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..20)) {
            // Never a panic; what is read as one is ASCII, continued on
            // every byte but its last, at most eleven bytes, and written
            // back the same when it has no needless high zero groups.
            let mut reader = Reader::new(&bytes);
            let mut start = 0;
            while let Some(value) = reader.ascii_varint() {
                let read = &bytes[start..reader.position()];
                proptest::prop_assert!(read.is_ascii() && read.len() <= 11);
                let (last, before) = read.split_last().unwrap();
                proptest::prop_assert!(last & 0x40 == 0);
                proptest::prop_assert!(before.iter().all(|byte| byte & 0x40 != 0));
                if *last != 0 && read.len() < 11 {
                    let mut again = Vec::new();
                    put_ascii_varint(&mut again, value);
                    proptest::prop_assert_eq!(&again[..], read);
                }
                start = reader.position();
            }
        }
    }

    #[test]
    fn ascii_varints_take_six_bits_a_byte() {
        let mut out = Vec::new();
        put_ascii_varint(&mut out, 0x3f);
        assert_eq!(out, [0x3f]);
        out.clear();
        put_ascii_varint(&mut out, 0x40);
        assert_eq!(out, [0x40, 0x01]);
        out.clear();
        put_ascii_varint(&mut out, u64::MAX);
        assert_eq!(out.len(), 11);
        assert!(Reader::new(&[0x80]).ascii_varint().is_none());
        assert!(Reader::new(&[0x7f; 12]).ascii_varint().is_none());
    }

    proptest::proptest! {
        #[test]
        fn floats_round_trip_bit_for_bit(values in proptest::collection::vec(proptest::num::f64::ANY, 0..50)) {
            let mut out = Vec::new();
            for &v in &values {
                put_float(&mut out, v);
            }
            let mut reader = Reader::new(&out);
            for &v in &values {
                proptest::prop_assert_eq!(reader.float().map(f64::to_bits), Some(v.to_bits()));
            }
            proptest::prop_assert!(reader.is_done());
        }
    }

    proptest::proptest! {
        #[test]
        fn floats_near_a_prediction_round_trip_bit_for_bit(
            values in proptest::collection::vec(proptest::num::f64::ANY, 0..50),
            predictions in proptest::collection::vec(proptest::num::f64::ANY, 50),
            near in proptest::collection::vec(-1e6f64..1e6, 50),
        ) {
            let mut out = Vec::new();
            // Any value against any prediction, and decimals near their own.
            let decimals: Vec<f64> = near.iter().map(|v| (v * 1000.0).round() / 1000.0).collect();
            for (i, &v) in values.iter().enumerate() {
                put_float_near(&mut out, v, predictions[i]);
                put_float_near(&mut out, decimals[i], near[i] * 1.01);
            }
            let mut reader = Reader::new(&out);
            for (i, &v) in values.iter().enumerate() {
                proptest::prop_assert_eq!(reader.float_near(predictions[i]).map(f64::to_bits), Some(v.to_bits()));
                proptest::prop_assert_eq!(reader.float_near(near[i] * 1.01).map(f64::to_bits), Some(decimals[i].to_bits()));
            }
            proptest::prop_assert!(reader.is_done());
        }
    }

    #[test]
    fn a_well_predicted_decimal_is_short() {
        let length = |value: f64, prediction: f64| {
            let mut out = Vec::new();
            put_float_near(&mut out, value, prediction);
            out.len()
        };
        assert_eq!(length(12_345.678, 0.0), 4);
        assert_eq!(length(12_345.678, 12_345.0), 2);
        assert_eq!(length(12_345.678, 12_345.6), 2);
        assert_eq!(length(0.1 + 0.2, 0.3), 9);
    }

    #[test]
    fn decimal_floats_are_short_and_others_raw() {
        let length = |value: f64| {
            let mut out = Vec::new();
            put_float(&mut out, value);
            out.len()
        };
        assert_eq!(length(0.0), 1);
        assert_eq!(length(12.345), 3);
        assert_eq!(length(-2.0), 1);
        assert_eq!(length(1.5), 2);
        assert_eq!(length(0.1 + 0.2), 9);
        assert_eq!(length(-0.0), 9);
        assert_eq!(length(f64::NAN), 9);
    }

    #[test]
    fn sums_lose_only_their_binary_rounding_noise() {
        let sum = 0.1 + 0.2;
        assert_ne!(sum, 0.3);
        let mut out = Vec::new();
        put_float_within(&mut out, sum, 1e-12);
        put_float_within(&mut out, 1.0 / 3.0, 1e-12);
        put_float_within(&mut out, f64::INFINITY, 1e-12);
        assert_eq!(out.len(), 1 + 9 + 9);
        let mut reader = Reader::new(&out);
        assert_eq!(reader.float(), Some(0.3));
        assert_eq!(reader.float(), Some(1.0 / 3.0));
        assert_eq!(reader.float(), Some(f64::INFINITY));
    }

    proptest::proptest! {
        #[test]
        fn floats_within_stay_within(value in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            let mut out = Vec::new();
            put_float_within(&mut out, value, 1e-12);
            let read = Reader::new(&out).float().unwrap();
            proptest::prop_assert!((read - value).abs() <= value.abs() * 1e-12, "{} read as {}", value, read);
        }
    }

    #[test]
    fn truncated_and_overlong_input_is_none() {
        assert_eq!(Reader::new(&[0x80]).varint(), None);
        assert_eq!(Reader::new(&[0xff; 11]).varint(), None);
        assert_eq!(Reader::new(&[1, 2, 3]).f64(), None);
    }
}
