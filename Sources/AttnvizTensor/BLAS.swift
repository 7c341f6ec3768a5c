import COpenBLAS

/// Every matrix product of attnviz goes through CBLAS sgemm (OpenBLAS).
public enum BLAS {
    /// The OpenBLAS kernel family in use (e.g. "Haswell", "SkylakeX"), for benchmark tables.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    public static var threadCount: Int {
        _ = singleThreaded
        return Int(openblas_get_num_threads())
    }

    public static func setThreadCount(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// OpenBLAS runs on the calling thread only; `Parallel` splits the work instead.
    static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// C = alpha · op(A) · op(B) + beta · C, all row-major; leading dimensions are explicit so
    /// strided sub-matrices (one head's columns) need no copy.
    @inline(__always)
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = singleThreaded
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
            blasint(ldc))
    }
}

extension BLAS {
    /// The float64 twin of `sgemm`, for training code checked by finite differences at double
    /// precision. Same conventions: row-major, explicit leading dimensions.
    @inline(__always)
    public static func dgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double = 1,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        _ = singleThreaded
        cblas_dgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
            blasint(ldc))
    }
}
