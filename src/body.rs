//! Large response bodies written in pieces of [`PIECE`] bytes (issue 18, the soak).
//!
//! `GET /plugins` (about 330 KiB for 1000 checks) and `GET /metrics` (up to a few MiB)
//! used to be written into one buffer. With malloc's `mmap` threshold fixed at 128 KiB
//! (`sys::MallocTuning`) every such buffer became a fresh mapping, faulted in page by
//! page and unmapped after the answer, which halved the throughput of `GET /plugins`;
//! with glibc's raising threshold instead, the buffers came from the arenas and left
//! holes there that kept the RSS climbing. Pieces of 64 KiB are neither: they come from
//! the arenas and are reused by the next answer. Hyper writes them in one `writev` and
//! sends the exact `Content-Length`.

use std::{
    convert::Infallible,
    fmt, io,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// The size of a piece: well under malloc's 128 KiB `mmap` threshold.
pub const PIECE: usize = 64 * 1024;

/// A body being written: full pieces plus the one being filled.
#[derive(Debug, Default)]
pub struct Pieces {
    done: Vec<Bytes>,
    current: Vec<u8>,
    len: usize,
}

impl Pieces {
    pub fn new() -> Pieces {
        Pieces::default()
    }

    /// Appends `data`, starting a new piece whenever one is full.
    pub fn extend(&mut self, mut data: &[u8]) {
        self.len += data.len();
        while !data.is_empty() {
            if self.current.capacity() == 0 {
                self.current = Vec::with_capacity(PIECE);
            }
            let take = (PIECE - self.current.len()).min(data.len());
            self.current.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.current.len() == PIECE {
                self.done
                    .push(Bytes::from(std::mem::take(&mut self.current)));
            }
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces in order.
    pub fn into_pieces(mut self) -> Vec<Bytes> {
        if !self.current.is_empty() {
            self.done.push(Bytes::from(self.current));
        }
        self.done
    }

    /// The body to answer with (its size is exact, so hyper sends `Content-Length`).
    pub fn into_body(self) -> axum::body::Body {
        let left = self.len as u64;
        axum::body::Body::new(PiecesBody {
            pieces: self.into_pieces().into_iter(),
            left,
        })
    }
}

impl io::Write for Pieces {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.extend(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Write for Pieces {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.extend(s.as_bytes());
        Ok(())
    }
}

/// The pieces as an `http_body::Body` of known length.
struct PiecesBody {
    pieces: std::vec::IntoIter<Bytes>,
    left: u64,
}

impl http_body::Body for PiecesBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.pieces.next();
        if let Some(piece) = &next {
            self.left -= piece.len() as u64;
        }
        Poll::Ready(next.map(|piece| Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use http_body_util::BodyExt;

    use super::*;

    #[test]
    fn pieces_hold_the_bytes_in_order_and_none_is_larger_than_a_piece() {
        let mut pieces = Pieces::new();
        let mut expected = Vec::new();
        for i in 0..20_000 {
            let line = format!("line {i} {}\n", "x".repeat(i % 17));
            write!(pieces, "{line}").unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        io::Write::write_all(&mut pieces, &vec![b'y'; 3 * PIECE + 5]).unwrap();
        expected.extend(std::iter::repeat_n(b'y', 3 * PIECE + 5));
        assert_eq!(pieces.len(), expected.len());
        let all = pieces.into_pieces();
        assert!(all.iter().all(|p| !p.is_empty() && p.len() <= PIECE));
        assert!(all.len() > 4);
        assert_eq!(all.concat(), expected);
    }

    #[tokio::test]
    async fn the_body_has_an_exact_length_and_the_same_bytes() {
        let mut pieces = Pieces::new();
        pieces.extend(&vec![b'a'; PIECE + 10]);
        let body = pieces.into_body();
        assert_eq!(
            http_body::Body::size_hint(&body).exact(),
            Some(PIECE as u64 + 10)
        );
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], &vec![b'a'; PIECE + 10][..]);
        let empty = Pieces::new().into_body();
        assert!(http_body::Body::is_end_stream(&empty));
    }
}
