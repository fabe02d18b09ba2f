//! Framing: every client packet is an int32 big-endian length followed by that
//! many payload bytes. The length is checked against `jute.maxbuffer` before
//! anything is buffered or parsed ("check, then parse"), so an oversized or
//! negative length closes the connection without allocating.
//!
//! The `write_*` helpers append one whole frame to `out` (the length is patched
//! in after the body is written), so a caller can batch many frames into one
//! buffer and one `write`.

use bytes::BufMut;

use super::jute::{DecodeError, Reader};
use super::records::{ConnectRequest, ConnectResponse, ReplyHeader, Request, RequestHeader, Response};
use super::types::{xid, WatcherEvent};

/// Bytes of the length prefix in front of every frame.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// Why a frame's length prefix was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("negative frame length {0}")]
    Negative(i32),
    #[error("frame length {length} exceeds the limit of {max_bytes} bytes (jute.maxbuffer)")]
    TooLarge { length: usize, max_bytes: usize },
}

/// Checks a decoded length prefix against the limit.
pub fn check_length(length: i32, max_frame_bytes: usize) -> Result<usize, FrameError> {
    if length < 0 {
        return Err(FrameError::Negative(length));
    }
    let length = length as usize;
    if length > max_frame_bytes {
        return Err(FrameError::TooLarge { length, max_bytes: max_frame_bytes });
    }
    Ok(length)
}

/// Looks at the start of `buf`: Ok(None) = need more bytes; Ok(Some(n)) = a
/// whole frame of payload length n is at buf[4..4+n].
pub fn frame_length(buf: &[u8], max_frame_bytes: usize) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.first_chunk::<LENGTH_PREFIX_BYTES>() else {
        return Ok(None);
    };
    let length = check_length(i32::from_be_bytes(*prefix), max_frame_bytes)?;
    if buf.len() - LENGTH_PREFIX_BYTES < length {
        return Ok(None);
    }
    Ok(Some(length))
}

/// Appends a frame whose payload `body` writes: a placeholder length, the
/// payload, then the real length patched in.
fn write_frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.put_i32(0);
    body(out);
    let payload_bytes = out.len() - start - LENGTH_PREFIX_BYTES;
    let length = i32::try_from(payload_bytes).expect("a frame we build is far below 2 GiB");
    out[start..start + LENGTH_PREFIX_BYTES].copy_from_slice(&length.to_be_bytes());
}

/// Whole frame: i32 length, `RequestHeader{xid, op}`, body.
pub fn write_request(out: &mut Vec<u8>, xid: i32, request: &Request) {
    write_frame(out, |buf| {
        RequestHeader { xid, op: request.op_code() }.encode(buf);
        request.encode(buf);
    })
}

pub fn write_connect_request(out: &mut Vec<u8>, c: &ConnectRequest) {
    write_frame(out, |buf| c.encode(buf))
}

pub fn write_connect_response(out: &mut Vec<u8>, c: &ConnectResponse) {
    write_frame(out, |buf| c.encode(buf))
}

/// Whole frame: i32 length, `ReplyHeader`, body (None for errors and for
/// replies that carry no record).
pub fn write_reply(out: &mut Vec<u8>, header: ReplyHeader, body: Option<&Response>) {
    write_frame(out, |buf| {
        header.encode(buf);
        if let Some(body) = body {
            body.encode(buf);
        }
    })
}

/// A watch notification: `ReplyHeader{xid -1, zxid, err 0}` + `WatcherEvent`.
pub fn write_notification(out: &mut Vec<u8>, zxid: i64, event: &WatcherEvent) {
    write_frame(out, |buf| {
        ReplyHeader { xid: xid::NOTIFICATION, zxid, err: 0 }.encode(buf);
        event.encode(buf);
    })
}

/// Decodes one request frame's payload (the bytes after the length prefix).
pub fn decode_request(payload: &[u8]) -> Result<(RequestHeader, Request), DecodeError> {
    let mut r = Reader::new(payload);
    let header = RequestHeader::decode(&mut r)?;
    let request = Request::decode(header.op, r.rest())?;
    Ok((header, request))
}

/// The four-letter words ZooKeeper serves on the client port.
pub const FOUR_LETTER_WORDS: [&str; 18] = [
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "crst", "srst", "envi", "dirs", "wchs", "wchc", "wchp", "isro",
    "dump", "gtmk", "stmk", "hash",
];

/// If a new connection's first 4 bytes are a four-letter word, return it.
/// (Read as a length prefix, each word is far above any sane frame limit, so
/// the two can never be confused.)
pub fn four_letter_word(first4: &[u8]) -> Option<&'static str> {
    let first4 = first4.get(..4)?;
    FOUR_LETTER_WORDS.iter().copied().find(|word| word.as_bytes() == first4)
}

/// Writes a bare length-prefixed payload (used by tests and tools that build
/// odd frames by hand).
pub fn write_raw_frame(out: &mut Vec<u8>, payload: &[u8]) {
    write_frame(out, |buf| buf.put_slice(payload))
}
