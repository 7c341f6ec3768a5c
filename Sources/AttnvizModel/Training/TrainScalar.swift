import AttnvizTensor
import Foundation

/// The number type training runs in: Float for real runs, Double for the finite-difference
/// tests. Every product goes through CBLAS (sgemm or dgemm); the element-wise functions are the
/// exact libm ones (training is checked against PyTorch, not against attnviz's fast forward).
public protocol TrainScalar: BinaryFloatingPoint, Sendable {
    /// C = alpha · op(A) · op(B) + beta · C, row-major, as `BLAS.sgemm`.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func erf(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
}

extension Float: TrainScalar {
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
    @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inline(__always) public static func erf(_ x: Float) -> Float { erff(x) }
    @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
}

extension Double: TrainScalar {
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        BLAS.dgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
    @inline(__always) public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inline(__always) public static func erf(_ x: Double) -> Double { Foundation.erf(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
}

/// A fixed-size buffer of scalars with a stable address (parameters, gradients, Adam moments),
/// allocated once and freed in deinit.
public final class Buffer<S: TrainScalar>: @unchecked Sendable {
    public let count: Int
    public let base: UnsafeMutablePointer<S>

    public init(count: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { base.deallocate() }

    public var values: [S] { Array(UnsafeBufferPointer(start: base, count: count)) }
    public func zero() { base.update(repeating: 0, count: count) }
    public func copy(from other: Buffer<S>) { base.update(from: other.base, count: min(count, other.count)) }
}
