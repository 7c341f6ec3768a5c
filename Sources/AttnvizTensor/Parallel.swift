import Dispatch
import Foundation

/// attnviz's own two-core parallelism. OpenBLAS runs single-threaded (its idle workers spin on
/// the second core and would steal it from the element-wise work); instead products are split
/// by rows, attention by heads, and element-wise loops by chunks, all through `chunks`.
public enum Parallel {
    /// Worker count: the cores this process may use, or ATTNVIZ_THREADS.
    public static let workers: Int = {
        if let v = ProcessInfo.processInfo.environment["ATTNVIZ_THREADS"].flatMap(Int.init), v > 0 { return v }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// How `count` items are cut: at most `workers` contiguous parts of at least `minChunk`.
    public struct Plan: Sendable {
        public let count: Int, parts: Int, size: Int

        public func range(_ part: Int) -> Range<Int> {
            let lo = min(count, part * size)
            return lo..<min(count, lo + size)
        }
    }

    public static func plan(_ count: Int, minChunk: Int = 1) -> Plan {
        let count = max(count, 0)
        let wanted = max(1, min(workers, count / max(minChunk, 1)))
        let size = max(1, (count + wanted - 1) / wanted)
        // Recounted from the size so that no part is empty (5 items in 4 parts of 2 are 3 parts).
        return Plan(count: count, parts: max(1, (count + size - 1) / size), size: size)
    }

    /// Runs `body(part, range)` for every part of `plan` concurrently (inline when it has one
    /// part). Ranges are disjoint: bodies may write their own slices, or their own part's buffer.
    public static func run(_ plan: Plan, _ body: (Int, Range<Int>) -> Void) {
        guard plan.count > 0 else { return }
        if plan.parts == 1 { body(0, 0..<plan.count); return }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: plan.parts) { p in
                let r = plan.range(p)
                if !r.isEmpty { box.value(p, r) }
            }
        }
    }

    /// Runs `body(i)` for every i in 0..<count, each item taken by whichever worker is free (a
    /// shared queue: uneven items keep both cores busy). Bodies must synchronise their writes.
    public static func each(_ count: Int, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        if count == 1 || workers == 1 { for i in 0..<count { body(i) }; return }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
        }
    }

    /// Splits 0..<count into at most `workers` contiguous ranges of at least `minChunk` items and
    /// runs `body` on each concurrently. Ranges are disjoint: bodies may write their own slices.
    public static func chunks(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        run(plan(count, minChunk: minChunk)) { _, range in body(range) }
    }
}

/// Carries a non-Sendable closure into concurrentPerform; callers guarantee disjoint writes.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A mutable pointer that may cross into parallel workers writing disjoint ranges.
public struct SharedPointer<T>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<T>
    public init(_ base: UnsafeMutablePointer<T>) { self.base = base }
}

/// Fast, vectorizable float math for the element-wise hot loops (softmax, GELU, SiLU).
public enum FastMath {
    /// e^x with about 1 ulp error (Cephes' polynomial); exactly 0 below −87 (so −∞ → 0).
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let c = min(max(x, -87.3), 88.3)
        // Round to nearest by adding 1.5·2²³ (no libm call, no trapping conversion, so loops
        // vectorize); the sum's low mantissa bits then hold k itself.
        let shifted = c * 1.442_695_04 + 12_582_912
        let k = shifted - 12_582_912
        let r = c - k * 0.693_359_375 + k * 2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let y = p * r * r + r + 1
        let exponent = shifted.bitPattern &- 0x4B40_0000 &+ 127
        let scale = Float(bitPattern: exponent << 23)
        return x < -87 ? 0 : y * scale
    }

    /// erf(x), Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7).
    @inline(__always)
    public static func erf(_ x: Float) -> Float {
        let a = abs(x)
        let t = 1 / (1 + 0.327_591_1 * a)
        var p: Float = 1.061_405_429
        p = p * t - 1.453_152_027
        p = p * t + 1.421_413_741
        p = p * t - 0.284_496_736
        p = p * t + 0.254_829_592
        let y = 1 - p * t * exp(-a * a)
        return x < 0 ? -y : y
    }

    @inline(__always)
    public static func tanh(_ x: Float) -> Float {
        let c = min(max(x, -15), 15)
        let e = exp(2 * c)
        return (e - 1) / (e + 1)
    }
}
