//! Large answers written into buffers kept in a small pool (issue 18, the soak).
//!
//! `GET /plugins` (about 330 KiB for 1000 checks) and `GET /metrics` (up to a few MiB)
//! used to be written into a new buffer each time:
//! - with glibc's raising `mmap` threshold the buffers came from the arenas, and the
//!   small long-lived allocations made between two answers pinned the holes they left:
//!   the RSS climbed in steps through the soak;
//! - with the threshold fixed at 128 KiB (`sys::MallocTuning`) each buffer became a new
//!   mapping, faulted in page by page and unmapped after the answer, which halved the
//!   throughput of `GET /plugins`. Writing answers in 64 KiB pieces instead cost a
//!   third of it (hyper wrote the pieces with more wake-ups of the reader).
//!
//! So an answer takes a buffer from the pool and gives it back once hyper has sent it:
//! the memory of answers is mapped once, reused, and never split by malloc. The pool
//! keeps at most [`POOL_MAX`] buffers of at most [`KEEP_MAX`] bytes each.

use std::{
    fmt, io,
    sync::{Mutex, PoisonError},
};

use bytes::Bytes;

/// Spare buffers kept (answers served at the same time beyond this allocate their own).
pub const POOL_MAX: usize = 4;
/// Largest buffer kept (`GET /metrics` of 1000 checks with 5 perfdata values is 2.6 MiB).
pub const KEEP_MAX: usize = 16 << 20;

/// Spare buffers, empty.
static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Puts `buffer` back in the pool, when there is room and it is not too large.
fn give_back(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > KEEP_MAX {
        return;
    }
    buffer.clear();
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if pool.len() < POOL_MAX {
        pool.push(buffer);
    }
}

/// Spare buffers in the pool now.
pub fn spare_buffers() -> usize {
    POOL.lock().unwrap_or_else(PoisonError::into_inner).len()
}

/// An answer being written.
#[derive(Debug)]
pub struct Answer {
    buffer: Vec<u8>,
}

impl Default for Answer {
    fn default() -> Self {
        Answer::new()
    }
}

impl Answer {
    /// An empty answer on a buffer from the pool (the largest spare), or a new one.
    pub fn new() -> Answer {
        let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        let largest = (0..pool.len()).max_by_key(|&i| pool[i].capacity());
        let buffer = largest.map(|i| pool.swap_remove(i)).unwrap_or_default();
        Answer { buffer }
    }

    pub fn extend(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// The written bytes; their buffer goes back to the pool when they are dropped.
    pub fn into_bytes(mut self) -> Bytes {
        Bytes::from_owner(Pooled(std::mem::take(&mut self.buffer)))
    }

    /// The body to answer with (one piece of known length: `Content-Length`).
    pub fn into_body(self) -> axum::body::Body {
        axum::body::Body::from(self.into_bytes())
    }
}

/// An answer dropped before it was sent gives its buffer back too.
impl Drop for Answer {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.buffer));
    }
}

impl io::Write for Answer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.extend(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Write for Answer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.extend(s.as_bytes());
        Ok(())
    }
}

/// Sent bytes whose buffer returns to the pool.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.0));
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use http_body_util::BodyExt;

    use super::*;

    /// The pool is global: these tests take turns.
    static TURN: Mutex<()> = Mutex::new(());

    #[test]
    fn an_answer_holds_its_bytes_and_its_buffer_is_reused() {
        let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        let mut answer = Answer::new();
        let mut expected = String::new();
        for i in 0..20_000 {
            let line = format!("line {i} {}\n", "x".repeat(i % 17));
            write!(answer, "{line}").unwrap();
            expected.push_str(&line);
        }
        assert_eq!(answer.len(), expected.len());
        let bytes = answer.into_bytes();
        assert_eq!(&bytes[..], expected.as_bytes());
        let address = bytes.as_ptr();
        drop(bytes);
        assert!(spare_buffers() >= 1);
        let mut again = Answer::new();
        again.extend(b"short");
        assert!(
            again.buffer.capacity() >= expected.len(),
            "the large spare is taken"
        );
        assert_eq!(again.buffer.as_ptr(), address);
        assert_eq!(&again.into_bytes()[..], b"short");
    }

    #[test]
    fn the_pool_keeps_a_few_buffers_of_bounded_size() {
        let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        let answers: Vec<Bytes> = (0..POOL_MAX + 3)
            .map(|_| {
                let mut a = Answer::new();
                a.extend(&[b'a'; 1000]);
                a.into_bytes()
            })
            .collect();
        drop(answers);
        assert_eq!(spare_buffers(), POOL_MAX);
        let mut huge = Answer::new();
        huge.extend(&vec![b'h'; KEEP_MAX + 1]);
        let before = spare_buffers();
        drop(huge.into_bytes());
        assert_eq!(spare_buffers(), before, "a buffer over KEEP_MAX is freed");
    }

    #[test]
    fn the_body_has_an_exact_length_and_the_same_bytes() {
        use futures_util::FutureExt;
        let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        let mut answer = Answer::new();
        answer.extend(&[b'b'; 70_000]);
        let body = answer.into_body();
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(70_000));
        let collected = body.collect().now_or_never().expect("ready").unwrap();
        assert_eq!(&collected.to_bytes()[..], &[b'b'; 70_000][..]);
    }
}
