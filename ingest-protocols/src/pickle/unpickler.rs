//! A restricted unpickler: the stack machine of Python's `pickle` for the
//! opcodes that build plain data (lists, tuples, str, bytes, int, float,
//! bool, None) and nothing else.
//!
//! Nothing is ever looked up or called: the opcodes that name a global
//! (GLOBAL, STACK_GLOBAL, INST), call one (REDUCE, NEWOBJ, OBJ), or set
//! state (BUILD) are refused by name, as are dicts, sets, persistent IDs,
//! extension codes and out-of-band buffers, which carbon never sends.
//!
//! Opcode semantics follow CPython's `Lib/pickle.py` (`_Unpickler`) and the
//! descriptions in `Lib/pickletools.py`.
//!
//! Bounds, all from [`Limits`]: values on the stack plus open marks; memo
//! keys; items in any one list; nesting depth (so dropping a value never
//! recurses deeply); length of one string; items copied when a memoized list
//! is appended to. Length fields are checked against these bounds and the
//! bytes actually present before anything is read, and strings are sliced
//! from the input, so no length field ever sizes an allocation.

use std::rc::Rc;

use super::Limits;
use crate::ParseError;

/// A value built by the machine. Containers and strings are reference
/// counted so GET is O(1) however large the memoized value.
#[derive(Debug, Clone)]
pub(super) enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer outside `i64`, as the nearest `f64` (infinite past its
    /// range). Used as a value it is as exact as a float can be; as a
    /// timestamp it is out of range anyway.
    BigInt(f64),
    Float(f64),
    Text(Rc<str>),
    /// Python text with no UTF-8 form: BINUNICODE bytes that are not UTF-8
    /// (CPython accepts encoded lone surrogates there), or a `\ud800`
    /// escape in UNICODE. Refused where it is used, not here, so it costs
    /// only the point it is in.
    BadText,
    Bytes(Rc<[u8]>),
    List(Rc<Seq>),
    Tuple(Rc<Seq>),
}

/// The items of a list or tuple.
#[derive(Debug, Clone)]
pub(super) struct Seq {
    pub(super) items: Vec<Value>,
    /// 1 + the deepest item's depth (scalars are 0), kept at most
    /// `Limits::max_nesting`.
    depth: usize,
}

impl Value {
    fn depth(&self) -> usize {
        match self {
            Value::List(seq) | Value::Tuple(seq) => seq.depth,
            _ => 0,
        }
    }
}

/// Opcodes, named as in CPython's `pickle.py`.
mod op {
    pub const MARK: u8 = b'(';
    pub const STOP: u8 = b'.';
    pub const INT: u8 = b'I';
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const LONG: u8 = b'L';
    pub const BININT2: u8 = b'M';
    pub const NONE: u8 = b'N';
    pub const FLOAT: u8 = b'F';
    pub const BINFLOAT: u8 = b'G';
    pub const STRING: u8 = b'S';
    pub const BINSTRING: u8 = b'T';
    pub const SHORT_BINSTRING: u8 = b'U';
    pub const UNICODE: u8 = b'V';
    pub const BINUNICODE: u8 = b'X';
    pub const BINBYTES: u8 = b'B';
    pub const SHORT_BINBYTES: u8 = b'C';
    pub const APPEND: u8 = b'a';
    pub const APPENDS: u8 = b'e';
    pub const LIST: u8 = b'l';
    pub const EMPTY_LIST: u8 = b']';
    pub const TUPLE: u8 = b't';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const GET: u8 = b'g';
    pub const BINGET: u8 = b'h';
    pub const LONG_BINGET: u8 = b'j';
    pub const PUT: u8 = b'p';
    pub const BINPUT: u8 = b'q';
    pub const LONG_BINPUT: u8 = b'r';
    pub const PROTO: u8 = 0x80;
    pub const TUPLE1: u8 = 0x85;
    pub const TUPLE2: u8 = 0x86;
    pub const TUPLE3: u8 = 0x87;
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const LONG1: u8 = 0x8a;
    pub const LONG4: u8 = 0x8b;
    pub const SHORT_BINUNICODE: u8 = 0x8c;
    pub const BINUNICODE8: u8 = 0x8d;
    pub const MEMOIZE: u8 = 0x94;
    pub const FRAME: u8 = 0x95;
}

/// The newest pickle protocol there is (Python 3.8+).
const HIGHEST_PROTOCOL: u8 = 5;

/// Names of the opcodes refused on purpose, for the error message.
fn refused_name(opcode: u8) -> &'static str {
    match opcode {
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'i' => "INST",
        b'o' => "OBJ",
        b's' => "SETITEM",
        b'u' => "SETITEMS",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown",
    }
}

/// Runs `input` to its STOP opcode and returns the value it leaves.
/// Bytes after STOP are ignored, as `pickle.loads` does.
pub(super) fn unpickle(input: &[u8], limits: &Limits) -> Result<Value, ParseError> {
    let mut machine = Machine {
        input,
        pos: 0,
        at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Vec::new(),
        memo_len: 0,
        limits,
        copied: 0,
    };
    machine.run()
}

struct Machine<'a> {
    input: &'a [u8],
    /// Next byte to read.
    pos: usize,
    /// Offset of the opcode being run, for error messages.
    at: usize,
    stack: Vec<Value>,
    /// Stack lengths at each open MARK, innermost last. Invariant: they
    /// never decrease and none exceeds `stack.len()`.
    marks: Vec<usize>,
    /// Memo entries by key. Python's picklers number them densely from 0,
    /// so a vector indexed by key; keys must be below `max_memo`, which
    /// bounds its length.
    memo: Vec<Option<Value>>,
    /// How many memo keys are set: MEMOIZE's key.
    memo_len: usize,
    limits: &'a Limits,
    /// Items copied so far because a memoized list was appended to.
    copied: usize,
}

impl<'a> Machine<'a> {
    fn run(&mut self) -> Result<Value, ParseError> {
        loop {
            self.at = self.pos;
            let opcode = self.byte()?;
            match opcode {
                op::STOP => return self.pop(),
                op::PROTO => {
                    if self.byte()? > HIGHEST_PROTOCOL {
                        return Err(self.malformed("unsupported protocol version"));
                    }
                }
                op::FRAME => {
                    // Frames only let the reader prefetch; the opcodes run
                    // the same inside them. A frame longer than the rest
                    // means the pickle was cut.
                    let length = u64::from_le_bytes(self.array()?);
                    if usize::try_from(length).map_or(true, |n| n > self.remaining()) {
                        return Err(self.truncated());
                    }
                }
                op::MARK => {
                    self.check_room()?;
                    self.marks.push(self.stack.len());
                }
                op::EMPTY_LIST => self.push_seq(Vec::new(), Value::List)?,
                op::EMPTY_TUPLE => self.push_seq(Vec::new(), Value::Tuple)?,
                op::LIST => {
                    let items = self.pop_mark()?;
                    self.push_seq(items, Value::List)?;
                }
                op::TUPLE => {
                    let items = self.pop_mark()?;
                    self.push_seq(items, Value::Tuple)?;
                }
                op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                    let items = self.pop_n(usize::from(opcode - op::TUPLE1) + 1)?;
                    self.push_seq(items, Value::Tuple)?;
                }
                op::APPEND => {
                    let item = self.pop()?;
                    self.append(vec![item])?;
                }
                op::APPENDS => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                op::NONE => self.push(Value::None)?,
                op::NEWTRUE => self.push(Value::Bool(true))?,
                op::NEWFALSE => self.push(Value::Bool(false))?,
                op::INT => {
                    // Protocol 0 and 1 write booleans as INT 01 and 00.
                    let value = match self.line()? {
                        b"01" => Value::Bool(true),
                        b"00" => Value::Bool(false),
                        digits => self.decimal(digits)?,
                    };
                    self.push(value)?;
                }
                op::LONG => {
                    let line = self.line()?;
                    // Python 2 wrote a trailing L on longs; Python 3 too,
                    // for compatibility.
                    let digits = line.strip_suffix(b"L").unwrap_or(line);
                    let value = self.decimal(digits)?;
                    self.push(value)?;
                }
                op::BININT => {
                    let value = i32::from_le_bytes(self.array()?);
                    self.push(Value::Int(i64::from(value)))?;
                }
                op::BININT1 => {
                    let value = self.byte()?;
                    self.push(Value::Int(i64::from(value)))?;
                }
                op::BININT2 => {
                    let value = u16::from_le_bytes(self.array()?);
                    self.push(Value::Int(i64::from(value)))?;
                }
                op::LONG1 => {
                    let length = usize::from(self.byte()?);
                    let bytes = self.take(length)?;
                    self.push(long_from_le_bytes(bytes))?;
                }
                op::LONG4 => {
                    let length = self.signed_length()?;
                    let bytes = self.take_bounded(length)?;
                    self.push(long_from_le_bytes(bytes))?;
                }
                op::FLOAT => {
                    let line = self.line()?;
                    let value = std::str::from_utf8(line)
                        .ok()
                        .and_then(|text| text.parse::<f64>().ok())
                        .ok_or_else(|| self.malformed("FLOAT argument is not a number"))?;
                    self.push(Value::Float(value))?;
                }
                op::BINFLOAT => {
                    let value = f64::from_be_bytes(self.array()?);
                    self.push(Value::Float(value))?;
                }
                op::STRING => {
                    let line = self.line()?;
                    let bytes = unquote(line)
                        .and_then(escape_decode)
                        .map_err(|what| self.malformed(what))?;
                    self.push(Value::Bytes(bytes.into()))?;
                }
                op::BINSTRING => {
                    let length = self.signed_length()?;
                    self.push_bytes(length)?;
                }
                op::SHORT_BINSTRING | op::SHORT_BINBYTES => {
                    let length = u64::from(self.byte()?);
                    self.push_bytes(length)?;
                }
                op::BINBYTES => {
                    let length = u64::from(u32::from_le_bytes(self.array()?));
                    self.push_bytes(length)?;
                }
                op::UNICODE => {
                    let line = self.line()?;
                    let value = match raw_unicode_escape(line) {
                        Ok(Some(text)) => Value::Text(text.into()),
                        Ok(None) => Value::BadText,
                        Err(what) => return Err(self.malformed(what)),
                    };
                    self.push(value)?;
                }
                op::SHORT_BINUNICODE => {
                    let length = u64::from(self.byte()?);
                    self.push_text(length)?;
                }
                op::BINUNICODE => {
                    let length = u64::from(u32::from_le_bytes(self.array()?));
                    self.push_text(length)?;
                }
                op::BINUNICODE8 => {
                    let length = u64::from_le_bytes(self.array()?);
                    self.push_text(length)?;
                }
                op::PUT => {
                    let line = self.line()?;
                    let key = self.memo_key(line)?;
                    self.memoize(key)?;
                }
                op::BINPUT => {
                    let key = u64::from(self.byte()?);
                    self.memoize(key)?;
                }
                op::LONG_BINPUT => {
                    let key = u64::from(u32::from_le_bytes(self.array()?));
                    self.memoize(key)?;
                }
                op::MEMOIZE => {
                    // Protocol 4 numbers memo entries in order.
                    let key = self.memo_len as u64;
                    self.memoize(key)?;
                }
                op::GET => {
                    let line = self.line()?;
                    let key = self.memo_key(line)?;
                    self.get(key)?;
                }
                op::BINGET => {
                    let key = u64::from(self.byte()?);
                    self.get(key)?;
                }
                op::LONG_BINGET => {
                    let key = u64::from(u32::from_le_bytes(self.array()?));
                    self.get(key)?;
                }
                other => {
                    return Err(ParseError::PickleOpcode {
                        opcode: other,
                        name: refused_name(other),
                        offset: self.at,
                    })
                }
            }
        }
    }

    // Errors.

    fn malformed(&self, what: &'static str) -> ParseError {
        ParseError::PickleMalformed {
            what,
            offset: self.at,
        }
    }

    fn truncated(&self) -> ParseError {
        ParseError::PickleTruncated { offset: self.at }
    }

    fn too_large(what: &'static str, limit: usize) -> ParseError {
        ParseError::PickleTooLarge { what, limit }
    }

    // Reading arguments.

    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    fn take(&mut self, length: usize) -> Result<&'a [u8], ParseError> {
        let end = self
            .pos
            .checked_add(length)
            .ok_or_else(|| self.truncated())?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(bytes)
    }

    /// `length` bytes of a string argument, refused past the string limit
    /// before anything is read.
    fn take_bounded(&mut self, length: u64) -> Result<&'a [u8], ParseError> {
        let limit = self.limits.max_string_len;
        match usize::try_from(length) {
            Ok(length) if length <= limit => self.take(length),
            _ => Err(Self::too_large("string length", limit)),
        }
    }

    fn byte(&mut self) -> Result<u8, ParseError> {
        let byte = *self.input.get(self.pos).ok_or_else(|| self.truncated())?;
        self.pos += 1;
        Ok(byte)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| self.truncated())
    }

    /// BINSTRING and LONG4 lengths are signed; CPython refuses negatives.
    fn signed_length(&mut self) -> Result<u64, ParseError> {
        let length = i32::from_le_bytes(self.array()?);
        u64::try_from(length).map_err(|_| self.malformed("negative length"))
    }

    /// A protocol 0 argument: the bytes up to the next `\n`, which is
    /// consumed but not returned. Only `max_string_len` bytes are searched.
    fn line(&mut self) -> Result<&'a [u8], ParseError> {
        let limit = self.limits.max_string_len;
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let window = rest.get(..limit.saturating_add(1)).unwrap_or(rest);
        match window.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let line = self.take(end)?;
                self.pos += 1;
                Ok(line)
            }
            None if window.len() > limit => Err(Self::too_large("string length", limit)),
            None => Err(self.truncated()),
        }
    }

    /// INT and LONG arguments: decimal, with an optional sign, as Python's
    /// picklers write them.
    fn decimal(&self, digits: &[u8]) -> Result<Value, ParseError> {
        let unsigned = digits
            .strip_prefix(b"-")
            .or_else(|| digits.strip_prefix(b"+"))
            .unwrap_or(digits);
        let text = std::str::from_utf8(digits)
            .ok()
            .filter(|_| !unsigned.is_empty() && unsigned.iter().all(u8::is_ascii_digit));
        let Some(text) = text else {
            return Err(self.malformed("INT or LONG argument is not a decimal integer"));
        };
        if let Ok(value) = text.parse::<i64>() {
            return Ok(Value::Int(value));
        }
        // Only digits and a sign: this parses, to infinity if need be.
        let value = text.parse::<f64>().unwrap_or(f64::INFINITY);
        Ok(Value::BigInt(value))
    }

    fn memo_key(&self, line: &[u8]) -> Result<u64, ParseError> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| self.malformed("memo key is not a non-negative integer"))
    }

    // The stack.

    /// Refuses to grow the stack (values plus open marks) past its limit.
    fn check_room(&self) -> Result<(), ParseError> {
        let limit = self.limits.max_stack;
        if self.stack.len() + self.marks.len() >= limit {
            return Err(Self::too_large("stack depth", limit));
        }
        Ok(())
    }

    fn push(&mut self, value: Value) -> Result<(), ParseError> {
        self.check_room()?;
        self.stack.push(value);
        Ok(())
    }

    fn push_bytes(&mut self, length: u64) -> Result<(), ParseError> {
        let bytes = self.take_bounded(length)?;
        self.push(Value::Bytes(bytes.into()))
    }

    fn push_text(&mut self, length: u64) -> Result<(), ParseError> {
        let bytes = self.take_bounded(length)?;
        let value = match std::str::from_utf8(bytes) {
            Ok(text) => Value::Text(text.into()),
            Err(_) => Value::BadText,
        };
        self.push(value)
    }

    fn push_seq(
        &mut self,
        items: Vec<Value>,
        wrap: fn(Rc<Seq>) -> Value,
    ) -> Result<(), ParseError> {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        self.check_depth(depth)?;
        self.push(wrap(Rc::new(Seq { items, depth })))
    }

    fn check_depth(&self, depth: usize) -> Result<(), ParseError> {
        let limit = self.limits.max_nesting;
        if depth > limit {
            return Err(Self::too_large("nesting depth", limit));
        }
        Ok(())
    }

    /// Where the values of the innermost open mark start: opcodes never
    /// reach below it, as in CPython, whose MARK starts a fresh stack.
    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<Value, ParseError> {
        if self.stack.len() <= self.floor() {
            return Err(self.malformed("stack underflow"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("stack underflow"))
    }

    fn pop_n(&mut self, n: usize) -> Result<Vec<Value>, ParseError> {
        let available = self.stack.len().saturating_sub(self.floor());
        if available < n {
            return Err(self.malformed("stack underflow"));
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, ParseError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.malformed("no MARK to pop to"))?;
        if mark > self.stack.len() {
            return Err(self.malformed("stack underflow"));
        }
        Ok(self.stack.split_off(mark))
    }

    /// APPEND and APPENDS: `items` onto the list at the top of the stack.
    fn append(&mut self, items: Vec<Value>) -> Result<(), ParseError> {
        let at = self.at;
        let floor = self.floor();
        let max_items = self.limits.max_points;
        let max_copied = self.limits.max_copied;
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        self.check_depth(depth)?;
        let not_a_list = ParseError::PickleMalformed {
            what: "APPEND to something that is not a list",
            offset: at,
        };
        if self.stack.len() <= floor {
            return Err(not_a_list);
        }
        let Some(Value::List(list)) = self.stack.last_mut() else {
            return Err(not_a_list);
        };
        if list.items.len().saturating_add(items.len()) > max_items {
            return Err(Self::too_large("items per list", max_items));
        }
        if Rc::get_mut(list).is_none() {
            // The list is memoized too: appending copies it first, so the
            // memo keeps what was PUT (CPython shares one list instead; a
            // pickler never appends to a list after referring back to it).
            // Copies are bounded so GET-then-APPEND loops cannot multiply
            // memory.
            self.copied = self.copied.saturating_add(list.items.len());
            if self.copied > max_copied {
                return Err(Self::too_large("copied items", max_copied));
            }
        }
        let seq = Rc::make_mut(list);
        seq.items.extend(items);
        seq.depth = seq.depth.max(depth);
        Ok(())
    }

    // The memo.

    fn memoize(&mut self, key: u64) -> Result<(), ParseError> {
        if self.stack.len() <= self.floor() {
            return Err(self.malformed("nothing to memoize"));
        }
        let Some(top) = self.stack.last() else {
            return Err(self.malformed("nothing to memoize"));
        };
        let limit = self.limits.max_memo;
        let index = match usize::try_from(key) {
            Ok(index) if index < limit => index,
            _ => return Err(Self::too_large("memo keys", limit)),
        };
        if index >= self.memo.len() {
            self.memo.resize(index + 1, None);
        }
        if let Some(slot) = self.memo.get_mut(index) {
            if slot.is_none() {
                self.memo_len += 1;
            }
            *slot = Some(top.clone());
        }
        Ok(())
    }

    fn get(&mut self, key: u64) -> Result<(), ParseError> {
        let value = usize::try_from(key)
            .ok()
            .and_then(|index| self.memo.get(index))
            .and_then(Option::as_ref)
            .cloned()
            .ok_or_else(|| self.malformed("GET of a memo key never PUT"))?;
        self.push(value)
    }
}

/// LONG1 and LONG4: little-endian two's complement of any length.
fn long_from_le_bytes(bytes: &[u8]) -> Value {
    let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
    if bytes.len() <= 8 {
        let mut word = if negative { [0xff; 8] } else { [0; 8] };
        for (slot, &byte) in word.iter_mut().zip(bytes) {
            *slot = byte;
        }
        return Value::Int(i64::from_le_bytes(word));
    }
    if bytes.len() <= 16 {
        // Through i128 the float is correctly rounded, as Python's float().
        let mut word = if negative { [0xff; 16] } else { [0; 16] };
        for (slot, &byte) in word.iter_mut().zip(bytes) {
            *slot = byte;
        }
        return Value::BigInt(i128::from_le_bytes(word) as f64);
    }
    // Longer (past 2^127): the magnitude as a float, most significant byte
    // first, which may be one unit in the last place off. For negatives,
    // -x = !x + 1 in two's complement.
    let magnitude = bytes.iter().rev().fold(0.0f64, |acc, &byte| {
        let digit = if negative { !byte } else { byte };
        acc * 256.0 + f64::from(digit)
    });
    Value::BigInt(if negative {
        -(magnitude + 1.0)
    } else {
        magnitude
    })
}

/// The STRING argument is a Python literal: `'...'` or `"..."`.
fn unquote(line: &[u8]) -> Result<&[u8], &'static str> {
    match line {
        [first, inner @ .., last] if first == last && (*first == b'\'' || *first == b'"') => {
            Ok(inner)
        }
        _ => Err("STRING argument is not quoted"),
    }
}

/// The escapes of a Python bytes literal, as `codecs.escape_decode` reads
/// them: unknown escapes stay as written, `\x` needs two hex digits, octal
/// takes one to three digits.
fn escape_decode(text: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        let Some((&escape, tail)) = rest.split_first() else {
            return Err("STRING argument ends with a backslash");
        };
        rest = tail;
        match escape {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(escape),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'v' => out.push(0x0b),
            b'f' => out.push(0x0c),
            b'r' => out.push(b'\r'),
            b'0'..=b'7' => {
                let mut code = u32::from(escape - b'0');
                for _ in 0..2 {
                    match rest.split_first() {
                        Some((&digit @ b'0'..=b'7', tail)) => {
                            code = code * 8 + u32::from(digit - b'0');
                            rest = tail;
                        }
                        _ => break,
                    }
                }
                // CPython keeps the low byte of \400 to \777.
                out.push(code.to_le_bytes()[0]);
            }
            b'x' => {
                let (Some(high), Some(low)) = (
                    rest.first().and_then(|&b| hex_digit(b)),
                    rest.get(1).and_then(|&b| hex_digit(b)),
                ) else {
                    return Err("invalid \\x escape in STRING");
                };
                out.push(high * 16 + low);
                rest = rest.get(2..).unwrap_or_default();
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Python's `raw-unicode-escape` decoding, which protocol 0 uses for str:
/// every byte is the code point of the same number (Latin-1), except that
/// `\uXXXX` and `\UXXXXXXXX` after an odd run of backslashes are escapes.
/// `Ok(None)` for text Rust cannot hold (a surrogate code point).
fn raw_unicode_escape(line: &[u8]) -> Result<Option<String>, &'static str> {
    let mut out = String::with_capacity(line.len());
    let mut surrogate = false;
    let mut rest = line;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte != b'\\' {
            out.push(char::from(byte));
            rest = tail;
            continue;
        }
        let run = rest.iter().take_while(|&&b| b == b'\\').count();
        out.extend(std::iter::repeat_n('\\', run));
        rest = rest.get(run..).unwrap_or_default();
        let digits = match rest.first() {
            Some(b'u') if run % 2 == 1 => 4,
            Some(b'U') if run % 2 == 1 => 8,
            _ => continue,
        };
        // The last backslash of the run introduced the escape.
        out.pop();
        let hex = rest
            .get(1..=digits)
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .ok_or("truncated \\u escape in UNICODE")?;
        let code = hex
            .iter()
            .filter_map(|&b| hex_digit(b))
            .fold(0u32, |code, digit| code * 16 + u32::from(digit));
        rest = rest.get(digits + 1..).unwrap_or_default();
        match char::from_u32(code) {
            Some(c) => out.push(c),
            None if code <= 0x10_ffff => surrogate = true,
            None => return Err("\\U escape out of range in UNICODE"),
        }
    }
    Ok((!surrogate).then_some(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn escape_decode_reads_python_bytes_literals() {
        assert_eq!(
            escape_decode(br"a\\b\'c\x41\101\7\q\tz").unwrap(),
            b"a\\b'cAA\x07\\q\tz"
        );
        assert!(escape_decode(br"\x4").is_err());
        assert!(escape_decode(b"ab\\").is_err());
    }

    #[test]
    fn raw_unicode_escape_follows_cpython() {
        assert_eq!(
            raw_unicode_escape(b"caf\xe9\\u005c\\U0001f600").unwrap(),
            Some("café\\😀".to_owned())
        );
        // An even run of backslashes escapes nothing.
        assert_eq!(
            raw_unicode_escape(b"a\\\\u0041").unwrap(),
            Some("a\\\\u0041".to_owned())
        );
        assert_eq!(raw_unicode_escape(b"\\ud800").unwrap(), None);
        assert!(raw_unicode_escape(b"\\u12").is_err());
        assert!(raw_unicode_escape(b"\\U00110000").is_err());
    }

    #[test]
    fn longs_of_any_width() {
        let int = |bytes: &[u8]| match long_from_le_bytes(bytes) {
            Value::Int(value) => value as f64,
            Value::BigInt(value) => value,
            other => panic!("{other:?}"),
        };
        assert_eq!(int(b""), 0.0);
        assert_eq!(int(&[0xff]), -1.0);
        assert_eq!(int(&[0x00, 0x80]), -32768.0);
        assert_eq!(int(&[1, 0, 0, 0, 0, 0, 0, 0, 1]), 2f64.powi(64) + 1.0);
        assert_eq!(int(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff]), -(2f64.powi(64)));
        assert_eq!(int(&[0xff; 300]), -1.0);
        assert!(int(&[0x7f; 300]).is_infinite());
    }
}
