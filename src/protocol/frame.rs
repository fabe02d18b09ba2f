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
use super::records::{
    ConnectRequest, ConnectResponse, ReplyHeader, Request, RequestHeader, Response,
};
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
        return Err(FrameError::TooLarge {
            length,
            max_bytes: max_frame_bytes,
        });
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
        RequestHeader {
            xid,
            op: request.op_code(),
        }
        .encode(buf);
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
        ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid,
            err: 0,
        }
        .encode(buf);
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
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "crst", "srst", "envi", "dirs", "wchs", "wchc",
    "wchp", "isro", "dump", "gtmk", "stmk", "hash",
];

/// If a new connection's first 4 bytes are a four-letter word, return it.
/// (Read as a length prefix, each word is far above any sane frame limit, so
/// the two can never be confused.)
pub fn four_letter_word(first4: &[u8]) -> Option<&'static str> {
    let first4 = first4.get(..4)?;
    FOUR_LETTER_WORDS
        .iter()
        .copied()
        .find(|word| word.as_bytes() == first4)
}

/// Writes a bare length-prefixed payload (used by tests and tools that build
/// odd frames by hand).
pub fn write_raw_frame(out: &mut Vec<u8>, payload: &[u8]) {
    write_frame(out, |buf| buf.put_slice(payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::{CreateRequest, PathWatch};
    use crate::protocol::types::{op, Acl, EventType, KeeperState};
    use bytes::Bytes;
    use proptest::prelude::*;

    const MAX: usize = 1024;

    #[test]
    fn frame_length_waits_for_whole_frames() {
        assert_eq!(frame_length(&[], MAX), Ok(None));
        assert_eq!(frame_length(&[0, 0, 0], MAX), Ok(None));
        assert_eq!(frame_length(&[0, 0, 0, 0], MAX), Ok(Some(0)));
        assert_eq!(frame_length(&[0, 0, 0, 3, 1, 2], MAX), Ok(None));
        assert_eq!(frame_length(&[0, 0, 0, 3, 1, 2, 3], MAX), Ok(Some(3)));
        assert_eq!(frame_length(&[0, 0, 0, 3, 1, 2, 3, 9, 9], MAX), Ok(Some(3)));
    }

    #[test]
    fn frame_length_refuses_bad_lengths_before_the_payload_arrives() {
        assert_eq!(
            frame_length(&(-1i32).to_be_bytes(), MAX),
            Err(FrameError::Negative(-1))
        );
        assert_eq!(
            frame_length(&1025i32.to_be_bytes(), MAX),
            Err(FrameError::TooLarge {
                length: 1025,
                max_bytes: MAX
            })
        );
        assert_eq!(frame_length(&1024i32.to_be_bytes(), MAX), Ok(None));
        // A four-letter word read as a length is far too large.
        assert!(matches!(
            frame_length(b"ruok", 0xfffff),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(
            FrameError::TooLarge {
                length: 5,
                max_bytes: 4
            }
            .to_string(),
            "frame length 5 exceeds the limit of 4 bytes (jute.maxbuffer)"
        );
    }

    #[test]
    fn write_request_is_a_whole_frame() {
        let request = Request::Create {
            op: op::CREATE,
            request: CreateRequest {
                path: "/a".into(),
                data: Bytes::from_static(b"x"),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl_ms: 0,
            },
        };
        let mut out = vec![0xAA]; // frames are appended, never overwrite
        write_request(&mut out, 1, &request);
        let mut expected = vec![0xAA, 0, 0, 0, 50, 0, 0, 0, 1, 0, 0, 0, 1];
        expected.extend_from_slice(&[
            0, 0, 0, 2, b'/', b'a', 0, 0, 0, 1, b'x', 0, 0, 0, 1, 0, 0, 0, 31,
        ]);
        expected.extend_from_slice(&[0, 0, 0, 5, b'w', b'o', b'r', b'l', b'd', 0, 0, 0, 6]);
        expected.extend_from_slice(b"anyone");
        expected.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(out, expected);

        let n = frame_length(&out[1..], MAX).expect("valid").expect("whole");
        assert_eq!(n, 50);
        let (header, decoded) = decode_request(&out[5..5 + n]).expect("decodes");
        assert_eq!(
            header,
            RequestHeader {
                xid: 1,
                op: op::CREATE
            }
        );
        assert_eq!(decoded, request);
    }

    #[test]
    fn write_reply_with_and_without_body() {
        let mut out = Vec::new();
        write_reply(
            &mut out,
            ReplyHeader {
                xid: 3,
                zxid: 9,
                err: -101,
            },
            None,
        );
        assert_eq!(
            out,
            [
                &16i32.to_be_bytes()[..],
                &3i32.to_be_bytes(),
                &9i64.to_be_bytes(),
                &(-101i32).to_be_bytes()
            ]
            .concat()
        );

        let mut out = Vec::new();
        write_reply(
            &mut out,
            ReplyHeader {
                xid: 4,
                zxid: 10,
                err: 0,
            },
            Some(&Response::Sync { path: "/".into() }),
        );
        assert_eq!(
            out,
            [
                &21i32.to_be_bytes()[..],
                &4i32.to_be_bytes(),
                &10i64.to_be_bytes(),
                &0i32.to_be_bytes(),
                &[0, 0, 0, 1, b'/']
            ]
            .concat()
        );
    }

    #[test]
    fn notification_frame_is_byte_exact() {
        let event = WatcherEvent {
            event_type: EventType::NodeCreated,
            state: KeeperState::SyncConnected,
            path: "/n".into(),
        };
        let mut out = Vec::new();
        write_notification(&mut out, 77, &event);
        let expected = [
            &30i32.to_be_bytes()[..],
            &(-1i32).to_be_bytes(),
            &77i64.to_be_bytes(),
            &0i32.to_be_bytes(),
            &1i32.to_be_bytes(),
            &3i32.to_be_bytes(),
            &[0, 0, 0, 2, b'/', b'n'],
        ]
        .concat();
        assert_eq!(out, expected);
    }

    #[test]
    fn connect_frames_round_trip() {
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 30_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: false,
        };
        let mut out = Vec::new();
        write_connect_request(&mut out, &request);
        assert_eq!(out.len(), 4 + 45);
        let n = frame_length(&out, MAX).expect("valid").expect("whole");
        assert_eq!(ConnectRequest::decode(&out[4..4 + n]), Ok(request));

        let response = ConnectResponse {
            protocol_version: 0,
            timeout_ms: 4000,
            session_id: 5,
            passwd: vec![2; 16],
            read_only: false,
        };
        let mut out = Vec::new();
        write_connect_response(&mut out, &response);
        assert_eq!(out.len(), 4 + 37);
        assert_eq!(ConnectResponse::decode(&out[4..]), Ok(response));
    }

    #[test]
    fn decode_request_reports_truncation_and_unknown_ops() {
        assert!(matches!(
            decode_request(&[0, 0, 0, 1]),
            Err(DecodeError::Truncated { .. })
        ));
        let payload = [1i32.to_be_bytes(), 55i32.to_be_bytes()].concat();
        assert_eq!(decode_request(&payload), Err(DecodeError::UnknownOp(55)));
        let mut out = Vec::new();
        write_request(&mut out, -2, &Request::Ping);
        assert_eq!(
            out,
            [
                8i32.to_be_bytes(),
                (-2i32).to_be_bytes(),
                11i32.to_be_bytes()
            ]
            .concat()
        );
        let mut out = Vec::new();
        write_request(
            &mut out,
            5,
            &Request::GetData(PathWatch {
                path: "/a".into(),
                watch: true,
            }),
        );
        assert_eq!(
            decode_request(&out[4..]).expect("decodes").1,
            Request::GetData(PathWatch {
                path: "/a".into(),
                watch: true
            })
        );
    }

    #[test]
    fn four_letter_words_are_recognised() {
        for word in FOUR_LETTER_WORDS {
            assert_eq!(four_letter_word(word.as_bytes()), Some(word));
        }
        assert_eq!(four_letter_word(b"ruok\n"), Some("ruok"));
        assert_eq!(four_letter_word(b"RUOK"), None);
        assert_eq!(four_letter_word(b"ruo"), None);
        assert_eq!(four_letter_word(&[0, 0, 0, 45]), None);
    }

    proptest! {
        #[test]
        fn frame_length_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..128) {
            match frame_length(&buf, max) {
                Ok(Some(n)) => prop_assert!(n <= max && 4 + n <= buf.len()),
                Ok(None) => {}
                Err(FrameError::Negative(n)) => prop_assert!(n < 0),
                Err(FrameError::TooLarge { length, .. }) => prop_assert!(length > max),
            }
        }

        #[test]
        fn decode_request_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_request(&payload);
        }
    }
}
