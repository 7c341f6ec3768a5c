import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files with POSIX calls so that every failure (disk full, a file-size limit, a
/// read-only folder) comes back as an errno the callers put in words, and a partial file is
/// removed. Shared by the trace writer and the report writer.
public enum POSIXWrite {
    /// Creates `path` (`exclusive`: it must not exist; else it is truncated) holding `data`.
    /// Returns 0, or the errno of the first failure, with the partial file removed.
    public static func file(_ path: String, _ data: Data, exclusive: Bool) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0o644)
        guard fd >= 0 else { return errno }
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = write(fd, base + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += n
            }
        }
        if close(fd) != 0, failure == 0 { failure = errno }
        if failure != 0 { unlink(path) }
        return failure
    }

    public static func text(_ code: Int32) -> String { String(cString: strerror(code)) }
}
