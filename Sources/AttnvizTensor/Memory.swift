#if canImport(Glibc)
import CMalloc
#endif

/// Process-wide allocator settings for attnviz's executables.
public enum Memory {
    /// A forward pass allocates and frees buffers of hundreds of kilobytes to megabytes many
    /// times (attention maps [heads, n, n], FFN activations [n, d_ff]). glibc serves such sizes with
    /// fresh mmap'd pages by default and returns freed heap tops to the kernel, so every
    /// allocation faults in new zeroed pages: measured at 10,800 page faults per recorded forward
    /// of 128 tokens, about a third of its time. Keeping freed memory in the heap (buffers up to
    /// 32 MiB come from the heap; the heap is never trimmed) lets them be reused instead.
    /// Returns false when glibc refused a setting (nothing else changes then).
    @discardableResult
    public static func keepFreedMemory() -> Bool {
        #if canImport(Glibc)
        let mmapThreshold: Int32 = 32 << 20  // glibc's largest allowed value on 64-bit
        let trimThreshold: Int32 = 1 << 30
        return mallopt(M_MMAP_THRESHOLD, mmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, trimThreshold) == 1
        #else
        return true
        #endif
    }

    /// Returns the heap's free pages to the kernel (glibc's malloc_trim), e.g. after a long run's
    /// buffers were freed. No effect elsewhere.
    public static func trim() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}
