//! RecordIO: how Mesos frames the events of a subscription stream.
//!
//! The answer to SUBSCRIBE is one long HTTP response. Mesos writes each
//! event into it as a *record*: the event's length in bytes as a decimal
//! number, a line feed, then exactly that many bytes (`docs/recordio.md`):
//!
//! ```text
//! 20\n{"type":"HEARTBEAT"}21\n{"type":"HEARTBEAT"} ...
//! ```
//!
//! HTTP chunk boundaries have nothing to do with record boundaries: one chunk
//! can hold several records, and one record can arrive split over many chunks
//! (or split in the middle of its length). So the decoder keeps the bytes it
//! has not used yet and hands out a record only when all of it is there.
//!
//! A length of 0 is an empty record, as Mesos' own decoder
//! (`3rdparty/stout/include/stout/recordio.hpp`) reads it: there is nothing
//! in it to decode, and the stream goes on.
//!
//! A master (or a proxy in front of it) can send garbage. A length that is not
//! a number, or that claims more than [`DEFAULT_MAX_RECORD_LEN`] bytes, is an
//! error at once: we never buffer without bound waiting for a record that
//! would not fit in memory.

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;

/// The largest record accepted by default: 16 MiB. An OFFERS event for a
/// large cluster is big, but nowhere near this.
pub const DEFAULT_MAX_RECORD_LEN: usize = 16 * 1024 * 1024;

/// The most digits a length may have before its line feed. Twenty digits hold
/// any `u64`; a longer "length" means we are not reading RecordIO at all.
const MAX_LENGTH_DIGITS: usize = 20;

/// Why a stream of records could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordIoError {
    /// The bytes before the line feed are not a decimal number.
    #[error("malformed RecordIO length {0:?}: expected a decimal number of bytes")]
    MalformedLength(String),
    /// The length prefix says the record is larger than we accept.
    #[error("RecordIO record of {len} bytes is over the limit of {limit} bytes")]
    RecordTooLarge { len: u64, limit: usize },
    /// The stream ended in the middle of a record.
    #[error("stream ended in the middle of a RecordIO record ({0} bytes left unread)")]
    Truncated(usize),
}

/// An incremental RecordIO decoder: feed it bytes as they arrive, take
/// records out as they complete.
#[derive(Debug)]
pub struct Decoder {
    buffer: BytesMut,
    max_record_len: usize,
    /// The length of the record being read, once its prefix has been parsed.
    pending_len: Option<usize>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder that accepts records up to [`DEFAULT_MAX_RECORD_LEN`].
    pub fn new() -> Self {
        Self::with_max_record_len(DEFAULT_MAX_RECORD_LEN)
    }

    /// A decoder that accepts records up to `max_record_len` bytes.
    pub fn with_max_record_len(max_record_len: usize) -> Self {
        Decoder {
            buffer: BytesMut::new(),
            max_record_len,
            pending_len: None,
        }
    }

    /// Adds bytes received from the stream.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Takes the next complete record, if all of it has arrived.
    ///
    /// Returns `Ok(None)` when more bytes are needed. After an error the
    /// stream is out of step and the decoder must not be used again.
    pub fn next_record(&mut self) -> Result<Option<Bytes>, RecordIoError> {
        let len = match self.pending_len {
            Some(len) => len,
            None => match self.parse_length()? {
                Some(len) => len,
                None => return Ok(None),
            },
        };
        if self.buffer.len() < len {
            // Remember the length so the prefix is parsed once, and make
            // room for the rest of the record in one allocation.
            self.pending_len = Some(len);
            self.buffer.reserve(len - self.buffer.len());
            return Ok(None);
        }
        self.pending_len = None;
        Ok(Some(self.buffer.split_to(len).freeze()))
    }

    /// Checks that the stream ended on a record boundary.
    pub fn finish(&self) -> Result<(), RecordIoError> {
        match (self.pending_len, self.buffer.len()) {
            (None, 0) => Ok(()),
            (Some(len), have) => Err(RecordIoError::Truncated(len - have)),
            (None, have) => Err(RecordIoError::Truncated(have)),
        }
    }

    /// Parses and consumes `<length>\n` from the front of the buffer.
    fn parse_length(&mut self) -> Result<Option<usize>, RecordIoError> {
        let Some(newline) = self.buffer.iter().position(|&b| b == b'\n') else {
            if self.buffer.len() > MAX_LENGTH_DIGITS {
                return Err(RecordIoError::MalformedLength(lossy_prefix(&self.buffer)));
            }
            return Ok(None);
        };
        let digits = &self.buffer[..newline];
        if digits.is_empty()
            || digits.len() > MAX_LENGTH_DIGITS
            || !digits.iter().all(u8::is_ascii_digit)
        {
            return Err(RecordIoError::MalformedLength(lossy_prefix(digits)));
        }
        // All ASCII digits and at most 20 of them: the only failure left is
        // overflow, which is "too large" by any measure.
        let len: u64 = std::str::from_utf8(digits)
            .expect("ASCII digits are UTF-8")
            .parse()
            .unwrap_or(u64::MAX);
        if len > self.max_record_len as u64 {
            return Err(RecordIoError::RecordTooLarge {
                len,
                limit: self.max_record_len,
            });
        }
        self.buffer.advance(newline + 1);
        Ok(Some(len as usize))
    }
}

/// The first bytes of a bad length, for the error message.
fn lossy_prefix(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(32)]).into_owned()
}

/// Frames one record: `<length>\n<record>`.
pub fn encode(record: &[u8]) -> Bytes {
    let mut framed = BytesMut::with_capacity(record.len() + MAX_LENGTH_DIGITS + 1);
    framed.extend_from_slice(record.len().to_string().as_bytes());
    framed.extend_from_slice(b"\n");
    framed.extend_from_slice(record);
    framed.freeze()
}

/// Why reading records from an HTTP body failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    RecordIo(#[from] RecordIoError),
    #[error("reading the event stream: {0}")]
    Body(#[from] hyper::Error),
}

/// Records read from a streaming HTTP body (the SUBSCRIBE response).
pub struct RecordStream<B = hyper::body::Incoming> {
    body: B,
    decoder: Decoder,
    ended: bool,
}

impl<B> RecordStream<B>
where
    B: hyper::body::Body<Data = Bytes, Error = hyper::Error> + Unpin,
{
    pub fn new(body: B, max_record_len: usize) -> Self {
        RecordStream {
            body,
            decoder: Decoder::with_max_record_len(max_record_len),
            ended: false,
        }
    }

    /// The next record, or `None` when the stream ended cleanly.
    ///
    /// Cancel-safe: a record half read when the future is dropped stays in
    /// the decoder for the next call.
    pub async fn next(&mut self) -> Result<Option<Bytes>, ReadError> {
        loop {
            if let Some(record) = self.decoder.next_record()? {
                return Ok(Some(record));
            }
            if self.ended {
                return Ok(None);
            }
            match self.body.frame().await {
                Some(frame) => {
                    // Trailers carry no records; only data frames matter.
                    if let Ok(data) = frame?.into_data() {
                        self.decoder.feed(&data);
                    }
                }
                None => {
                    self.ended = true;
                    self.decoder.finish()?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(decoder: &mut Decoder) -> Vec<Bytes> {
        let mut records = Vec::new();
        while let Some(record) = decoder.next_record().unwrap() {
            records.push(record);
        }
        records
    }

    #[test]
    fn several_records_in_one_chunk() {
        let mut decoder = Decoder::new();
        decoder.feed(b"5\nhello3\nabc1\nx");
        assert_eq!(decode_all(&mut decoder), vec!["hello", "abc", "x"]);
        assert!(decoder.finish().is_ok());
    }

    #[test]
    fn record_split_over_chunks_byte_by_byte() {
        let stream = b"11\nhello world2\nok";
        let mut decoder = Decoder::new();
        let mut records = Vec::new();
        for byte in stream {
            decoder.feed(&[*byte]);
            records.extend(decode_all(&mut decoder));
        }
        assert_eq!(records, vec!["hello world", "ok"]);
    }

    #[test]
    fn record_split_inside_its_length() {
        let mut decoder = Decoder::new();
        decoder.feed(b"1");
        assert_eq!(decoder.next_record(), Ok(None));
        decoder.feed(b"2\nhello");
        assert_eq!(decoder.next_record(), Ok(None));
        decoder.feed(b" world!7\nnext");
        assert_eq!(decoder.next_record(), Ok(Some(Bytes::from("hello world!"))));
        assert_eq!(decoder.next_record(), Ok(None));
        assert_eq!(decoder.finish(), Err(RecordIoError::Truncated(3)));
    }

    #[test]
    fn encode_then_decode() {
        let mut decoder = Decoder::new();
        let payload = vec![b'\n'; 300]; // line feeds inside a record are data
        decoder.feed(&encode(&payload));
        decoder.feed(&encode(b"{}"));
        assert_eq!(
            decode_all(&mut decoder),
            vec![Bytes::from(payload), "{}".into()]
        );
    }

    #[test]
    fn non_numeric_length_is_an_error() {
        let mut decoder = Decoder::new();
        decoder.feed(b"12a\nhello");
        assert_eq!(
            decoder.next_record(),
            Err(RecordIoError::MalformedLength("12a".into()))
        );
    }

    #[test]
    fn a_zero_length_record_is_an_empty_record() {
        // Mesos' own decoder (stout/recordio.hpp) hands out an empty
        // record for a length of 0, and reads on.
        let mut decoder = Decoder::new();
        decoder.feed(b"0\n3\nabc");
        assert_eq!(decode_all(&mut decoder), vec!["", "abc"]);
        assert!(decoder.finish().is_ok());
    }

    #[test]
    fn negative_and_missing_lengths_are_errors() {
        for input in [&b"-5\nhello"[..], b"\nhello", b" 5\nhello"] {
            let mut decoder = Decoder::new();
            decoder.feed(input);
            assert!(matches!(
                decoder.next_record(),
                Err(RecordIoError::MalformedLength(_))
            ));
        }
    }

    #[test]
    fn length_without_newline_is_not_buffered_forever() {
        let mut decoder = Decoder::new();
        decoder.feed(b"HTTP/1.1 200 OK garbage without a line feed");
        assert!(matches!(
            decoder.next_record(),
            Err(RecordIoError::MalformedLength(_))
        ));
    }

    #[test]
    fn huge_lengths_are_rejected_before_buffering() {
        let mut decoder = Decoder::with_max_record_len(1024);
        decoder.feed(b"1025\n");
        assert_eq!(
            decoder.next_record(),
            Err(RecordIoError::RecordTooLarge {
                len: 1025,
                limit: 1024
            })
        );
        let mut decoder = Decoder::new();
        decoder.feed(b"99999999999999999999\n");
        assert!(matches!(
            decoder.next_record(),
            Err(RecordIoError::RecordTooLarge { .. })
        ));
        let mut decoder = Decoder::new();
        decoder.feed(b"999999999999999999999\n"); // 21 digits
        assert!(matches!(
            decoder.next_record(),
            Err(RecordIoError::MalformedLength(_))
        ));
    }

    #[test]
    fn record_at_the_limit_is_accepted() {
        let mut decoder = Decoder::with_max_record_len(4);
        decoder.feed(b"4\nabcd");
        assert_eq!(decoder.next_record(), Ok(Some(Bytes::from("abcd"))));
    }

    /// A body that yields the given chunks, as hyper would from a socket.
    struct Chunks(std::collections::VecDeque<&'static str>);

    impl hyper::body::Body for Chunks {
        type Data = Bytes;
        type Error = hyper::Error;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, hyper::Error>>> {
            let chunk = self.0.pop_front();
            std::task::Poll::Ready(chunk.map(|c| Ok(hyper::body::Frame::data(Bytes::from(c)))))
        }
    }

    #[tokio::test]
    async fn reads_records_from_a_body_stream() {
        let body = Chunks(["3\nab", "c2\nde4", "\nfghi"].into());
        let mut stream = RecordStream::new(body, DEFAULT_MAX_RECORD_LEN);
        let mut records = Vec::new();
        while let Some(record) = stream.next().await.unwrap() {
            records.push(record);
        }
        assert_eq!(records, vec!["abc", "de", "fghi"]);
    }

    #[tokio::test]
    async fn body_ending_mid_record_is_an_error() {
        let body = Chunks(["10\nshort"].into());
        let mut stream = RecordStream::new(body, DEFAULT_MAX_RECORD_LEN);
        assert!(matches!(
            stream.next().await,
            Err(ReadError::RecordIo(RecordIoError::Truncated(5)))
        ));
    }
}
