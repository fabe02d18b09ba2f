//! Jute primitives: big-endian ints and longs, one-byte bools, length-prefixed
//! buffers and strings (-1 = null), counted vectors (-1 = null).
//!
//! Every read checks the remaining length first and every length prefix is
//! checked against the bytes actually left, so a hostile length can never make
//! us allocate or read past the frame.

use bytes::{BufMut, Bytes};

use super::types::{Acl, Id, Stat};

/// Why a record could not be decoded. Always a property of the input bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record truncated: needed {needed} bytes at offset {offset}, {left} left")]
    Truncated {
        offset: usize,
        needed: usize,
        left: usize,
    },
    #[error("bad length {length} at offset {offset}")]
    BadLength { offset: usize, length: i32 },
    #[error("string at offset {offset} is not UTF-8")]
    BadUtf8 { offset: usize },
    #[error("unknown op code {0}")]
    UnknownOp(i32),
    #[error("bad value for {field}: {value}")]
    BadValue { field: &'static str, value: i64 },
}

/// A cursor over one frame's bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    /// The unread rest of the frame.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Skips `n` bytes.
    pub fn advance(&mut self, n: usize) -> Result<(), DecodeError> {
        self.take(n).map(|_| ())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n,
                left: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take(1)?[0] != 0)
    }

    /// Reads a length prefix; -1 means null. Any other negative length, or one
    /// longer than what is left, is an error.
    fn read_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let offset = self.pos;
        let length = self.read_i32()?;
        if length == -1 {
            return Ok(None);
        }
        if length < 0 || length as usize > self.remaining() {
            return Err(DecodeError::BadLength { offset, length });
        }
        Ok(Some(length as usize))
    }

    /// A Jute `buffer`; null reads as `None`.
    pub fn read_buffer_opt(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?)),
        }
    }
    /// A Jute `buffer`; null reads as empty.
    pub fn read_buffer(&mut self) -> Result<&'a [u8], DecodeError> {
        Ok(self.read_buffer_opt()?.unwrap_or(&[]))
    }
    /// A Jute `ustring`; null reads as empty (as ZooKeeper's servers treat it).
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        Ok(self.read_string_opt()?.unwrap_or_default())
    }
    pub fn read_string_opt(&mut self) -> Result<Option<String>, DecodeError> {
        let offset = self.pos;
        match self.read_buffer_opt()? {
            None => Ok(None),
            Some(b) => std::str::from_utf8(b)
                .map(|s| Some(s.to_string()))
                .map_err(|_| DecodeError::BadUtf8 { offset }),
        }
    }
    /// A Jute `vector` count; null reads as 0. The count is bounded by the
    /// bytes left (every element takes at least `min_element_bytes`).
    pub fn read_vec_len(&mut self, min_element_bytes: usize) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let count = self.read_i32()?;
        if count == -1 {
            return Ok(0);
        }
        if count < 0 || (count as usize).saturating_mul(min_element_bytes.max(1)) > self.remaining()
        {
            return Err(DecodeError::BadLength {
                offset,
                length: count,
            });
        }
        Ok(count as usize)
    }

    pub fn read_id(&mut self) -> Result<Id, DecodeError> {
        Ok(Id {
            scheme: self.read_string()?,
            id: self.read_string()?,
        })
    }
    pub fn read_acl(&mut self) -> Result<Acl, DecodeError> {
        Ok(Acl {
            perms: self.read_i32()?,
            id: self.read_id()?,
        })
    }
    pub fn read_acl_vec(&mut self) -> Result<Vec<Acl>, DecodeError> {
        let n = self.read_vec_len(12)?;
        (0..n).map(|_| self.read_acl()).collect()
    }
    pub fn read_string_vec(&mut self) -> Result<Vec<String>, DecodeError> {
        let n = self.read_vec_len(4)?;
        (0..n).map(|_| self.read_string()).collect()
    }
    pub fn read_stat(&mut self) -> Result<Stat, DecodeError> {
        Ok(Stat {
            czxid: self.read_i64()?,
            mzxid: self.read_i64()?,
            ctime: self.read_i64()?,
            mtime: self.read_i64()?,
            version: self.read_i32()?,
            cversion: self.read_i32()?,
            aversion: self.read_i32()?,
            ephemeral_owner: self.read_i64()?,
            data_length: self.read_i32()?,
            num_children: self.read_i32()?,
            pzxid: self.read_i64()?,
        })
    }
    /// Reads a buffer as shared bytes (one copy out of the frame). A null
    /// buffer reads as [`null_bytes`], so node data keeps ZooKeeper's
    /// distinction between null and empty.
    pub fn read_bytes(&mut self) -> Result<Bytes, DecodeError> {
        Ok(match self.read_buffer_opt()? {
            None => null_bytes(),
            Some(b) => Bytes::copy_from_slice(b),
        })
    }
}

/// The one address that marks a null buffer. ZooKeeper keeps `null` node
/// data apart from empty data (zkCli's `create /a` stores null and `get /a`
/// prints "null"); paddock carries that through every layer as an empty
/// `Bytes` that points here, so no record type needs an `Option`.
static NULL_BUFFER: [u8; 1] = [0];

/// Null data: empty, and written as a -1 length.
pub fn null_bytes() -> Bytes {
    Bytes::from_static(&NULL_BUFFER[..0])
}

/// True for data that came from (or stands for) a null buffer.
pub fn is_null(data: &[u8]) -> bool {
    data.is_empty() && std::ptr::eq(data.as_ptr(), NULL_BUFFER.as_ptr())
}

/// Appends Jute values to any `BufMut` (a `Vec<u8>` or a `BytesMut`).
pub trait JuteWrite: BufMut {
    fn write_i32(&mut self, v: i32) {
        self.put_i32(v)
    }
    fn write_i64(&mut self, v: i64) {
        self.put_i64(v)
    }
    fn write_bool(&mut self, v: bool) {
        self.put_u8(v as u8)
    }
    fn write_buffer(&mut self, b: &[u8]) {
        if is_null(b) {
            self.put_i32(-1);
            return;
        }
        self.put_i32(b.len() as i32);
        self.put_slice(b);
    }
    fn write_null_buffer(&mut self) {
        self.put_i32(-1);
    }
    fn write_string(&mut self, s: &str) {
        self.write_buffer(s.as_bytes())
    }
    fn write_id(&mut self, id: &Id) {
        self.write_string(&id.scheme);
        self.write_string(&id.id);
    }
    fn write_acl(&mut self, acl: &Acl) {
        self.put_i32(acl.perms);
        self.write_id(&acl.id);
    }
    fn write_acl_vec(&mut self, acls: &[Acl]) {
        self.put_i32(acls.len() as i32);
        for a in acls {
            self.write_acl(a);
        }
    }
    fn write_string_vec(&mut self, v: &[String]) {
        self.put_i32(v.len() as i32);
        for s in v {
            self.write_string(s);
        }
    }
    fn write_stat(&mut self, s: &Stat) {
        self.put_i64(s.czxid);
        self.put_i64(s.mzxid);
        self.put_i64(s.ctime);
        self.put_i64(s.mtime);
        self.put_i32(s.version);
        self.put_i32(s.cversion);
        self.put_i32(s.aversion);
        self.put_i64(s.ephemeral_owner);
        self.put_i32(s.data_length);
        self.put_i32(s.num_children);
        self.put_i64(s.pzxid);
    }
}

impl<T: BufMut + ?Sized> JuteWrite for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_round_trips() {
        let s = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        let mut v = Vec::new();
        v.write_stat(&s);
        assert_eq!(v.len(), 68);
        assert_eq!(Reader::new(&v).read_stat().unwrap(), s);
    }

    #[test]
    fn null_buffers_survive_a_round_trip_and_differ_from_empty() {
        let mut v = Vec::new();
        v.write_i32(-1);
        v.write_i32(0);
        let mut r = Reader::new(&v);
        let null = r.read_bytes().unwrap();
        let empty = r.read_bytes().unwrap();
        assert!(is_null(&null) && null.is_empty());
        assert!(!is_null(&empty) && empty.is_empty());
        assert!(is_null(&null.clone()), "clones stay null");
        let mut out = Vec::new();
        out.write_buffer(&null);
        out.write_buffer(&empty);
        out.write_buffer(&Bytes::new());
        assert_eq!(out, [255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn hostile_lengths_are_rejected() {
        let mut v = Vec::new();
        v.write_i32(1000);
        v.extend_from_slice(b"abc");
        assert!(matches!(
            Reader::new(&v).read_buffer(),
            Err(DecodeError::BadLength { .. })
        ));
        let mut v = Vec::new();
        v.write_i32(-7);
        assert!(matches!(
            Reader::new(&v).read_buffer(),
            Err(DecodeError::BadLength { .. })
        ));
        let mut v = Vec::new();
        v.write_i32(i32::MAX);
        assert!(Reader::new(&v).read_acl_vec().is_err());
        let mut v = Vec::new();
        v.write_i32(-1);
        assert_eq!(Reader::new(&v).read_buffer_opt().unwrap(), None);
    }
}
