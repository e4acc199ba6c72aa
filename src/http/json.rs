//! The JSON writer for response bodies: a serde `Serializer` that writes
//! the same bytes as `serde_json::to_writer`, faster.
//!
//! serde_json checks every byte of every string, key names included, one at
//! a time against its escape table: on a page of 20 workspaces that loop was
//! a tenth of all the instructions the request took (560 keys and 7 KB of
//! strings). This writer checks a string eight bytes at a time and copies
//! one that needs no escape (nearly all of them) whole, and writes struct
//! field names, which come from our own code, without checking them (a
//! debug assertion does). Everything else (numbers, `null`, nesting) is
//! written as serde_json writes it; the tests below compare the two byte
//! for byte.
//!
//! Only serialization: request bodies are still parsed by serde_json.

use std::fmt::{self, Display};

use serde::ser::{self, Serialize};

/// `value` as JSON, in a buffer of `capacity` bytes to start with.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, capacity: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(capacity);
    value.serialize(&mut Writer { out: &mut out })?;
    Ok(out)
}

/// A value that cannot be written as JSON (a map key that is not a string
/// or a number, or a `Serialize` impl that reports an error).
#[derive(Debug)]
pub struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

fn key_must_be_a_string() -> Error {
    Error("key must be a string".to_owned())
}

/// The struct name serde_json's `RawValue` serializes under: its text is
/// written as it is (how `limits`, rendered once per plan, reaches a body).
/// A test pins it against serde_json's own output.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

const ONES: u64 = u64::from_ne_bytes([1; 8]);
const HIGH: u64 = ONES * 0x80;

/// Whether any of the eight bytes in `w` must be escaped in a JSON string:
/// a control character (below 0x20), `"` or `\`. The classic word-at-a-time
/// tests ("has a byte less than n", "has a zero byte"), exact for the word
/// as a whole.
#[inline]
fn word_needs_escape(w: u64) -> bool {
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let q = w ^ (ONES * b'"' as u64);
    let quote = q.wrapping_sub(ONES) & !q & HIGH;
    let b = w ^ (ONES * b'\\' as u64);
    let backslash = b.wrapping_sub(ONES) & !b & HIGH;
    (control | quote | backslash) != 0
}

/// For each byte: 0 when it is written as it is, else the letter after the
/// backslash (`u` for `\u00XX`). The same table as serde_json's.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// `s` as a quoted JSON string. Most strings (ids, names, timestamps, key
/// names) need no escape: those are checked a word at a time and copied
/// whole; the others go byte by byte.
#[inline]
fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if is_clean(bytes) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    } else {
        write_escaped(out, bytes);
    }
}

fn word_at(bytes: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(bytes[i..i + 8].try_into().expect("eight bytes"))
}

/// Whether no byte of `bytes` needs an escape.
#[inline]
fn is_clean(bytes: &[u8]) -> bool {
    let n = bytes.len();
    if n < 8 {
        if n < 4 {
            return bytes.iter().all(|&b| ESCAPE[b as usize] == 0);
        }
        // Two overlapping four-byte halves make one word.
        let half = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("four bytes"));
        return !word_needs_escape(u64::from(half(0)) | u64::from(half(n - 4)) << 32);
    }
    let mut i = 0;
    while i + 8 <= n {
        if word_needs_escape(word_at(bytes, i)) {
            return false;
        }
        i += 8;
    }
    // The last word overlaps the one before unless `n` is a multiple of 8.
    n % 8 == 0 || !word_needs_escape(word_at(bytes, n - 8))
}

#[cold]
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 8);
    out.push(b'"');
    let mut run = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPE[byte as usize];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(byte >> 4) as usize],
                HEX[(byte & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

fn write_int<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A float as serde_json writes it: a non-finite one as `null`, the rest
/// in the shortest form that reads back the same (serde_json's own crate).
fn write_float<F: zmij::Float>(out: &mut Vec<u8>, v: F, finite: bool) {
    if finite {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// `{"variant":`, which the variant's value and a `}` follow.
fn open_variant(out: &mut Vec<u8>, variant: &str) {
    out.push(b'{');
    write_str(out, variant);
    out.push(b':');
}

impl<'a, 'b> ser::Serializer for &'a mut Writer<'b> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'b>;
    type SerializeTuple = Compound<'a, 'b>;
    type SerializeTupleStruct = Compound<'a, 'b>;
    type SerializeTupleVariant = Compound<'a, 'b>;
    type SerializeMap = Compound<'a, 'b>;
    type SerializeStruct = Compound<'a, 'b>;
    type SerializeStructVariant = Compound<'a, 'b>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        write_float(self.out, v, v.is_finite());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        write_float(self.out, v, v.is_finite());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        open_variant(self.out, variant);
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        Ok(Compound::open(self, b'[', b']', len))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        open_variant(self.out, variant);
        let mut c = self.serialize_seq(Some(len))?;
        c.variant = true;
        Ok(c)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        Ok(Compound::open(self, b'{', b'}', len))
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a, 'b>, Error> {
        if name == RAW_VALUE_TOKEN {
            return Ok(Compound {
                raw: true,
                ..Compound::new(self, 0)
            });
        }
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        open_variant(self.out, variant);
        let mut c = self.serialize_map(Some(len))?;
        c.variant = true;
        Ok(c)
    }
}

/// An array or object being written.
pub struct Compound<'a, 'b> {
    w: &'a mut Writer<'b>,
    first: bool,
    /// `]` or `}` (nothing for a raw value).
    close: u8,
    /// Inside `{"variant": ...}`, which `end` closes too.
    variant: bool,
    /// A serde_json `RawValue`: its one field is written as it is.
    raw: bool,
}

impl<'a, 'b> Compound<'a, 'b> {
    fn new(w: &'a mut Writer<'b>, close: u8) -> Self {
        Compound {
            w,
            first: true,
            close,
            variant: false,
            raw: false,
        }
    }

    fn open(w: &'a mut Writer<'b>, open: u8, close: u8, len: Option<usize>) -> Self {
        w.out.push(open);
        if len == Some(0) {
            // serde_json closes an empty one here; `end` then writes nothing.
            w.out.push(close);
            return Compound::new(w, 0);
        }
        Compound::new(w, close)
    }

    fn separate(&mut self) {
        if !self.first {
            self.w.out.push(b',');
        }
        self.first = false;
    }

    fn close(self) -> Result<(), Error> {
        if self.close != 0 {
            self.w.out.push(self.close);
        }
        if self.variant {
            self.w.out.push(b'}');
        }
        Ok(())
    }

    /// A struct field. Its name is written as it is: struct field names
    /// come from our own code (Rust identifiers and serde renames), never
    /// from a client, and none needs an escape; the debug assertion (on in
    /// every test) checks each one written. Checking them all on every
    /// answer was half the cost of writing a list of workspaces' strings.
    ///
    /// Inlined into each struct's `serialize`, where `key` is a constant:
    /// `,"key":` is then one reservation and a copy of known length (a few
    /// moves), not four appends that each check the capacity and a call to
    /// `memcpy` (a page of workspaces writes 560 of them).
    #[inline(always)]
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        if self.raw {
            if key != RAW_VALUE_TOKEN {
                return Err(not_raw());
            }
            return value.serialize(RawText { out: self.w.out });
        }
        debug_assert!(
            is_clean(key.as_bytes()),
            "field name {key:?} needs an escape"
        );
        let out = &mut *self.w.out;
        let comma = usize::from(!self.first);
        self.first = false;
        let n = comma + key.len() + 3;
        out.reserve(n);
        // SAFETY: `n` bytes past the length are reserved above, and exactly
        // those are written (the comma only when counted) before the
        // length takes them in.
        unsafe {
            let at = out.as_mut_ptr().add(out.len());
            at.write(b',');
            let at = at.add(comma);
            at.write(b'"');
            std::ptr::copy_nonoverlapping(key.as_ptr(), at.add(1), key.len());
            let at = at.add(1 + key.len());
            at.write(b'"');
            at.add(1).write(b':');
            out.set_len(out.len() + n);
        }
        value.serialize(&mut *self.w)
    }
}

/// serde's four kinds of sequence, written alike: `[a,b]`.
macro_rules! sequences {
    ($($kind:ident::$method:ident),*) => {$(
        impl ser::$kind for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.separate();
                value.serialize(&mut *self.w)
            }
            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

sequences!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.separate();
        key.serialize(MapKey { out: self.w.out })?;
        self.w.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// serde's two kinds of struct, written alike: `{"field":value}`.
macro_rules! structs {
    ($($kind:ident),*) => {$(
        impl ser::$kind for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            #[inline(always)]
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.field(key, value)
            }
            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

structs!(SerializeStruct, SerializeStructVariant);

/// A map key: strings as they are; numbers, booleans and chars quoted, as
/// serde_json writes them; anything else is an error, as there.
struct MapKey<'a> {
    out: &'a mut Vec<u8>,
}

macro_rules! quoted_int_keys {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result<(), Error> {
            self.out.push(b'"');
            write_int(self.out, v);
            self.out.push(b'"');
            Ok(())
        }
    )*};
}

macro_rules! refused {
    ($error:ident: $($method:ident($($arg:ty),*)),*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<(), Error> {
            Err($error())
        }
    )*};
}

/// The parts of a `Serializer` that take only scalars: no compound value
/// and no newtype variant, each refused with `$error`.
macro_rules! scalars_only {
    ($error:ident) => {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = ser::Impossible<(), Error>;
        type SerializeTuple = ser::Impossible<(), Error>;
        type SerializeTupleStruct = ser::Impossible<(), Error>;
        type SerializeTupleVariant = ser::Impossible<(), Error>;
        type SerializeMap = ser::Impossible<(), Error>;
        type SerializeStruct = ser::Impossible<(), Error>;
        type SerializeStructVariant = ser::Impossible<(), Error>;

        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), Error> {
            Err($error())
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
            Err($error())
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
            Err($error())
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Error> {
            Err($error())
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Error> {
            Err($error())
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
            Err($error())
        }
        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, Error> {
            Err($error())
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Error> {
            Err($error())
        }
    };
}

impl ser::Serializer for MapKey<'_> {
    scalars_only!(key_must_be_a_string);

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        write_str(self.out, if v { "true" } else { "false" });
        Ok(())
    }
    quoted_int_keys!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        quoted_float(self.out, v, v.is_finite())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        quoted_float(self.out, v, v.is_finite())
    }
    refused!(key_must_be_a_string: serialize_bytes(&[u8]), serialize_none(), serialize_unit(),
        serialize_unit_struct(&'static str));
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
}

/// A float map key: quoted, and finite (as serde_json requires).
fn quoted_float<F: zmij::Float>(out: &mut Vec<u8>, v: F, finite: bool) -> Result<(), Error> {
    if !finite {
        return Err(Error(
            "float key must be finite (got NaN or +/-inf)".to_owned(),
        ));
    }
    out.push(b'"');
    write_float(out, v, true);
    out.push(b'"');
    Ok(())
}

/// The one field of a `RawValue`: JSON text, written as it is.
struct RawText<'a> {
    out: &'a mut Vec<u8>,
}

impl ser::Serializer for RawText<'_> {
    scalars_only!(not_raw);

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }
    refused!(not_raw: serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_bytes(&[u8]), serialize_none(), serialize_unit(),
        serialize_unit_struct(&'static str));
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
        Err(not_raw())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Error> {
        Err(not_raw())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(not_raw())
    }
}

fn not_raw() -> Error {
    Error("a raw JSON value must be text".to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;
    use serde_json::json;

    use super::*;

    /// Ours and serde_json's bytes, which must be the same.
    #[track_caller]
    fn same<T: Serialize + ?Sized>(value: &T) {
        let ours = String::from_utf8(to_vec(value, 0).unwrap()).unwrap();
        let theirs = serde_json::to_string(value).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn every_character_is_escaped_as_serde_json_escapes_it_at_every_offset() {
        let specials: Vec<char> = (0u8..0x80)
            .map(char::from)
            .chain(['é', 'ÿ', '\u{2028}', '\u{fffd}', '😀'])
            .collect();
        // Each character at each position of a word and across word edges.
        for c in specials {
            for before in 0..17 {
                for after in [0, 1, 7, 8, 9] {
                    let s = format!("{}{c}{}", "a".repeat(before), "b".repeat(after));
                    same(&s);
                }
            }
        }
        same("");
        same("\"\\\u{0}\u{1f}\u{7f}\"\"\\\\ several \n escapes \t in a row \r\u{8}\u{c}");
        same(&"x\"".repeat(40));
    }

    #[test]
    fn no_word_that_needs_escaping_is_taken_for_clean() {
        // Every byte value at every position of a word, the rest clean or
        // high (UTF-8 continuation) bytes: the word test matches a byte test.
        for fill in [b'a', 0x80, 0xff, b'!', b'#', b'[', b']'] {
            for pos in 0..8 {
                for byte in 0..=255u8 {
                    let mut word = [fill; 8];
                    word[pos] = byte;
                    let expected = word.iter().any(|&b| ESCAPE[b as usize] != 0);
                    assert_eq!(
                        word_needs_escape(u64::from_le_bytes(word)),
                        expected,
                        "{word:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn values_of_every_kind_are_written_as_serde_json_writes_them() {
        same(&json!(null));
        same(&json!({}));
        same(&json!([]));
        same(&json!({
            "a": [1, -1, 0, i64::MIN, i64::MAX, u64::MAX, true, false, null],
            "floats": [0.1, -0.0, 1e300, 1.5e-7, 123456.789, f64::MAX, f64::MIN_POSITIVE, 3.0],
            "nested": {"x": {"y": [[], {}, [{}], {"z": ""}]}},
            "quote\"key": "\u{1}",
        }));
        same(&[f64::NAN, f64::INFINITY, -f64::INFINITY]);
        same(&[1.5f32, f32::NAN, 0.1f32]);
        same(&(
            1u8,
            -2i16,
            3u16,
            -4i32,
            5u32,
            'c',
            "s",
            (),
            Some(7),
            None::<i8>,
        ));
        same(&(i128::MIN, u128::MAX));
        let mut int_keys = HashMap::new();
        int_keys.insert(-3i64, "a");
        same(&int_keys);
        same(&BTreeMap::from([(true, 1), (false, 2)]));
        same(&BTreeMap::from([('k', 1)]));
        same(&BTreeMap::from([(Some("opt"), 1)]));
        same(&BTreeMap::from([(1.5f64.to_bits(), 1)]));
    }

    #[test]
    fn derived_structs_and_enums_are_written_as_serde_json_writes_them() {
        #[derive(Serialize)]
        struct Unit;
        #[derive(Serialize)]
        struct Newtype(i32);
        #[derive(Serialize)]
        struct Tuple(i32, &'static str);
        #[derive(Serialize)]
        enum E {
            A,
            B(i32),
            C(i32, i32),
            D { x: i32, y: Option<String> },
            Empty {},
            EmptyTuple(),
        }
        #[derive(Serialize)]
        struct Empty {}
        #[derive(Serialize)]
        struct S {
            id: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<i32>,
            #[serde(rename = "renamed-key")]
            renamed: Vec<E>,
            unit: Unit,
            newtype: Newtype,
            tuple: Tuple,
            empty: Empty,
            map: serde_json::Map<String, serde_json::Value>,
            bytes: Bytes,
        }
        struct Bytes(&'static [u8]);
        impl Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        same(&S {
            id: "ws_1".into(),
            skipped: None,
            renamed: vec![
                E::A,
                E::B(1),
                E::C(1, 2),
                E::D { x: 1, y: None },
                E::D {
                    x: 2,
                    y: Some("y".into()),
                },
                E::Empty {},
                E::EmptyTuple(),
            ],
            unit: Unit,
            newtype: Newtype(5),
            tuple: Tuple(1, "t"),
            empty: Empty {},
            map: serde_json::from_str(r#"{"b":1,"a":[2,{"c":null}]}"#).unwrap(),
            bytes: Bytes(&[0, 1, 255]),
        });
        same(&Bytes(&[]));
        // The comma goes before every field written but the first, also
        // when the first declared is skipped; keys of any length.
        #[derive(Serialize)]
        struct FirstSkipped {
            #[serde(skip_serializing_if = "Option::is_none")]
            a: Option<i32>,
            b: i32,
            a_key_longer_than_thirty_two_bytes_x: bool,
        }
        for a in [None, Some(1)] {
            same(&FirstSkipped {
                a,
                b: 2,
                a_key_longer_than_thirty_two_bytes_x: true,
            });
        }
    }

    /// Field names are not escaped; one that would need it is caught in
    /// every test run (debug builds).
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "needs an escape")]
    fn a_field_name_that_needs_an_escape_is_caught() {
        #[derive(Serialize)]
        struct Odd {
            #[serde(rename = "a\"b")]
            a: i32,
        }
        let _ = to_vec(&Odd { a: 1 }, 0);
    }

    #[test]
    fn raw_values_are_written_as_they_are() {
        // Pins serde_json's RawValue token: were it renamed, this would fail.
        let raw = serde_json::value::to_raw_value(&json!({"max": 5, "s": "a\"b"})).unwrap();
        same(&json!({"a": 1}));
        #[derive(Serialize)]
        struct Holder<'a> {
            before: i32,
            limits: &'a serde_json::value::RawValue,
            after: i32,
        }
        same(&Holder {
            before: 1,
            limits: &raw,
            after: 2,
        });
        same(&[&raw, &raw]);
    }

    #[test]
    fn a_raw_value_under_another_field_name_is_refused() {
        struct NotRaw;
        impl Serialize for NotRaw {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut st = s.serialize_struct(RAW_VALUE_TOKEN, 1)?;
                st.serialize_field("other", "{}")?;
                st.end()
            }
        }
        assert!(to_vec(&NotRaw, 0).is_err());
        assert!(serde_json::to_vec(&NotRaw).is_err());
    }

    #[test]
    fn keys_that_are_not_strings_or_numbers_are_refused() {
        assert!(to_vec(&BTreeMap::from([((1, 2), 3)]), 0).is_err());
        assert!(to_vec(&BTreeMap::from([(Vec::<i32>::new(), 3)]), 0).is_err());
        assert!(to_vec(&HashMap::from([(None::<i32>, 3)]), 0).is_err());
        assert!(serde_json::to_vec(&BTreeMap::from([((1, 2), 3)])).is_err());
    }
}
