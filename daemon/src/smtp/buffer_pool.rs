//! Buffers an idle SMTP connection gave back, kept per thread for the next
//! operation of any connection on that thread (every session of a worker
//! runs on its thread). An idle connection then holds no buffer memory, and
//! a busy one does not pay an allocation, a copy on growth and a free per
//! operation: reads took a zeroed 4 KiB buffer each (a tenth of the daemon's
//! instructions on the per-call path), a message's write buffer was grown to
//! the message and shrunk back each time.
//!
//! Each pool is bounded in buffers and each buffer in bytes, so a thread
//! keeps at most [`READ_BUFFERS`]' 64 read buffers (4 KiB each) and
//! [`WRITE_BUFFERS`]' 16 write buffers of at most 16 KiB.

use std::cell::RefCell;
use std::thread::LocalKey;

/// The free buffers of one kind on this thread, most recently given first.
pub struct BufferPool {
    free: &'static LocalKey<RefCell<Vec<Vec<u8>>>>,
    /// Buffers kept at most.
    buffers: usize,
    /// A buffer of larger capacity is freed, not kept.
    max_bytes: usize,
}

thread_local! {
    static FREE_READ: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static FREE_WRITE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Read buffers (`crate::smtp::read_buf`), kept zeroed to their length.
pub static READ_BUFFERS: BufferPool = BufferPool {
    free: &FREE_READ,
    buffers: 64,
    max_bytes: 4096,
};

/// Write buffers of the SMTP client (a command line, a message made transparent).
pub static WRITE_BUFFERS: BufferPool = BufferPool {
    free: &FREE_WRITE,
    buffers: 16,
    max_bytes: 16 * 1024,
};

impl BufferPool {
    /// The buffer given back last, if any.
    pub fn take(&self) -> Option<Vec<u8>> {
        self.free.with(|free| free.borrow_mut().pop())
    }

    /// Keeps `buffer` for reuse when the pool has room and it is not too
    /// large; else frees it.
    pub fn give_back(&self, buffer: Vec<u8>) {
        if buffer.capacity() == 0 || buffer.capacity() > self.max_bytes {
            return;
        }
        self.free.with(|free| {
            let mut free = free.borrow_mut();
            if free.len() < self.buffers {
                free.push(buffer);
            }
        });
    }
}

/// Makes `buffer` empty with room for `bytes`: from the pool when `buffer`
/// has too little (its own allocation then goes back to the pool).
pub fn make_room(pool: &BufferPool, buffer: &mut Vec<u8>, bytes: usize) {
    buffer.clear();
    if buffer.capacity() >= bytes {
        return;
    }
    if let Some(mut pooled) = pool.take() {
        pooled.clear();
        pool.give_back(std::mem::replace(buffer, pooled));
    }
    buffer.reserve(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_back_buffer_is_taken_again_on_the_same_thread() {
        let buffer = Vec::with_capacity(1000);
        let at = buffer.as_ptr();
        WRITE_BUFFERS.give_back(buffer);
        let mut next = Vec::new();
        make_room(&WRITE_BUFFERS, &mut next, 900);
        assert_eq!(next.as_ptr(), at);
        assert!(next.is_empty() && next.capacity() >= 900);
        // Another thread has its own pool.
        let other = std::thread::spawn(|| WRITE_BUFFERS.take().is_none()).join();
        assert!(matches!(other, Ok(true)));
    }

    #[test]
    fn the_pool_keeps_neither_large_buffers_nor_more_than_its_count() {
        WRITE_BUFFERS.give_back(Vec::with_capacity(16 * 1024 + 1));
        assert!(WRITE_BUFFERS.take().is_none());
        for _ in 0..20 {
            WRITE_BUFFERS.give_back(Vec::with_capacity(100));
        }
        let kept = std::iter::from_fn(|| WRITE_BUFFERS.take()).count();
        assert_eq!(kept, 16);
    }

    #[test]
    fn too_small_a_pooled_buffer_grows_and_the_own_one_goes_back() {
        WRITE_BUFFERS.give_back(Vec::with_capacity(10));
        let mut buffer = Vec::with_capacity(20);
        buffer.extend_from_slice(b"old");
        make_room(&WRITE_BUFFERS, &mut buffer, 500);
        assert!(buffer.is_empty() && buffer.capacity() >= 500);
        assert_eq!(WRITE_BUFFERS.take().map(|b| b.capacity() >= 20), Some(true));
        assert!(WRITE_BUFFERS.take().is_none());
    }
}
