//! A growable f32 buffer whose first element is 64-byte aligned: the storage of the embedding
//! tables and of the DLRM's parameters, gradients, activations and packed operands.
//!
//! Owns: the alignment (one cache line) and the zero fill of new floats. Must never: hand out
//! memory that was not initialised, or move the data anywhere but on a `resize`.

use rayon::prelude::*;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// A growable f32 buffer whose first element is 64-byte aligned, so `dim = 16` rows are exactly
/// one cache line each and never straddle two. The DLRM's parameters, gradients and activations
/// use it too: a 16-float vector load of a weight panel that straddles two lines costs two.
#[derive(Clone, Default)]
pub struct AlignedBuf {
    lines: Vec<Line>,
    len: usize,
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf(len {})", self.len)
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [f32] {
        self.as_mut_slice()
    }
}

/// Why `AlignedBuf::try_filled_until` gave no buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillError {
    /// The allocation was refused.
    Alloc,
    /// Its `stop` said so before every chunk was written.
    Stopped,
}

impl AlignedBuf {
    pub fn zeros(len: usize) -> AlignedBuf {
        AlignedBuf {
            lines: vec![Line([0.0; 16]); len.div_ceil(16)],
            len,
        }
    }

    /// A buffer of `len` floats with `fill(i)` at index `i`, written in parallel (so every page
    /// is really mapped), or `None` if the allocation fails (no abort on a huge request).
    pub fn try_filled(len: usize, fill: impl Fn(usize) -> f32 + Sync) -> Option<AlignedBuf> {
        Self::try_filled_until(len, fill, || false).ok()
    }

    /// `try_filled` that `stop` can end between two chunks of 64K floats (filling gigabytes
    /// takes seconds): `Err(FillError::Stopped)`, and nothing is kept.
    pub fn try_filled_until(
        len: usize,
        fill: impl Fn(usize) -> f32 + Sync,
        stop: impl Fn() -> bool + Sync,
    ) -> Result<AlignedBuf, FillError> {
        let n_lines = len.div_ceil(16);
        let mut lines: Vec<Line> = Vec::new();
        lines
            .try_reserve_exact(n_lines)
            .map_err(|_| FillError::Alloc)?;
        lines
            .spare_capacity_mut()
            .par_chunks_mut(4096)
            .enumerate()
            .try_for_each(|(c, chunk)| {
                if stop() {
                    return Err(FillError::Stopped);
                }
                for (i, slot) in chunk.iter_mut().enumerate() {
                    let base = (c * 4096 + i) * 16;
                    slot.write(Line(std::array::from_fn(|x| fill(base + x))));
                }
                Ok(())
            })?;
        // SAFETY: the first `n_lines` slots of the spare capacity were all written above (a
        // stopped fill returned before this, its `Vec` still of length 0).
        unsafe { lines.set_len(n_lines) };
        Ok(AlignedBuf { lines, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Grow (zero-filled) or shrink to `len` floats; amortised like `Vec`. Floats a shrink cut
    /// off inside the last kept line are zeroed when a later grow brings them back, so growing
    /// always shows zeros, as `Vec::resize(len, 0.0)` does.
    pub fn resize(&mut self, len: usize) {
        let old = self.len;
        self.lines.resize(len.div_ceil(16), Line([0.0; 16]));
        self.len = len;
        if len > old {
            // Only the tail of the line that held the old end can be stale; new lines are zero.
            let stale_end = len.min(old.div_ceil(16) * 16);
            if stale_end > old {
                self.as_mut_slice()[old..stale_end].fill(0.0);
            }
        }
    }

    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: `Line` is `repr(C)` of 16 f32 with no padding (64 bytes, align 64), so the
        // lines are a contiguous array of `16 * lines.len() >= len` initialised f32.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<f32>(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as in `as_slice`, and `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f32>(), self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buf_grows_zero_filled_after_a_shrink() {
        let mut b = AlignedBuf::zeros(40);
        b.fill(7.0);
        b.resize(18);
        assert!(b.iter().all(|&x| x == 7.0));
        b.resize(40);
        assert_eq!(b.as_ptr() as usize % 64, 0);
        assert!(b[..18].iter().all(|&x| x == 7.0));
        assert!(b[18..].iter().all(|&x| x == 0.0), "{:?}", &b[18..]);
    }

    #[test]
    fn a_fill_writes_every_float_unless_stopped() {
        let len = 3 * 4096 * 16 + 5;
        let b = AlignedBuf::try_filled_until(len, |i| i as f32, || false).unwrap();
        assert_eq!(b.len(), len);
        assert!(b.as_slice().iter().enumerate().all(|(i, &v)| v == i as f32));
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let stopped = AlignedBuf::try_filled_until(
            len,
            |i| i as f32,
            || asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2,
        );
        assert_eq!(stopped.err(), Some(FillError::Stopped));
        assert_eq!(
            AlignedBuf::try_filled_until(usize::MAX / 2, |_| 0.0, || false).err(),
            Some(FillError::Alloc)
        );
    }

    #[test]
    fn aligned_buffer_is_aligned() {
        let b = AlignedBuf::zeros(33);
        assert_eq!(b.as_slice().as_ptr() as usize % 64, 0);
        assert_eq!(b.len(), 33);
    }
}
