import AttnvizTensor
import Foundation
import Testing

struct LCG {
    var s: UInt64
    mutating func next() -> Float {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Double(s >> 11) / Double(1 << 53)) * 2 - 1
    }
    mutating func tensor(_ shape: [Int]) -> Tensor {
        Tensor.zeros(shape).mapped { _ in next() }
    }
}

/// Checks every element of `actual` against `expected` within its own bound; prints the max |Δ|
/// and the max |Δ| / bound.
func expectWithin(_ actual: Tensor, _ expected: Tensor, bounds: [Double], _ label: String,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.shape == expected.shape, bounds.count == actual.count else {
        Issue.record("\(label): shapes \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
        return
    }
    var worst = 0.0, ratio = 0.0
    for i in 0..<actual.count {
        let d = abs(Double(actual.data[i]) - Double(expected.data[i]))
        worst = max(worst, d)
        ratio = max(ratio, d / max(bounds[i], .leastNormalMagnitude))
    }
    print("\(label): max|Δ| = \(worst), max |Δ|/bound = \(ratio)")
    #expect(ratio <= 1, "\(label): |Δ| exceeds the rounding bound (ratio \(ratio))", sourceLocation: sourceLocation)
}

/// Bounds for two computations of the same float32 function values: a few ulps of the larger
/// of input and output.
func ulpBounds(_ input: Tensor, _ output: Tensor, ulps: Double = 4) -> [Double] {
    zip(input.data, output.data).map { ulps * RoundingBound.eps32 * max(Double(abs($0)), Double(abs($1)), 1e-30) }
}

extension Tensor {
    func mapped(_ f: (Float) -> Float) -> Tensor {
        var t = self
        t.data = t.data.map(f)
        return t
    }
}

@Suite struct OpsTests {
    /// sgemm-based linear and Conv1D equal a naive double-precision loop, at odd sizes, within
    /// the rounding bound of their sums (any kernel, any summation order).
    @Test(arguments: [(1, 1, 1), (3, 5, 7), (17, 33, 9), (64, 48, 130)])
    func linearMatchesNaiveLoop(n: Int, inDim: Int, outDim: Int) throws {
        var rng = LCG(s: UInt64(n * 1000 + inDim * 10 + outDim))
        let x = rng.tensor([n, inDim]), w = rng.tensor([outDim, inDim]), b = rng.tensor([outDim])
        let y = try Ops.linear(x, weight: w, bias: b)
        var naive = Tensor.zeros([n, outDim])
        for i in 0..<n {
            for o in 0..<outDim {
                var acc = Double(b.data[o])
                for k in 0..<inDim { acc += Double(x[i, k]) * Double(w[o, k]) }
                naive[i, o] = Float(acc)
            }
        }
        // The float32 result is within γ(k+1)·Σ|x·w| of the exact sum, plus one rounding of the
        // reference to float.
        let bound = RoundingBound.product(x, w, bias: b)
        expectWithin(y, naive, bounds: bound.map { 2 * $0 }, "linear \(n)x\(inDim)→\(outDim) vs naive")
        // Conv1D with the transposed weight gives the same, up to both results' rounding.
        var wt = Tensor.zeros([inDim, outDim])
        for o in 0..<outDim { for k in 0..<inDim { wt[k, o] = w[o, k] } }
        expectWithin(try Ops.conv1D(x, weight: wt, bias: b), y, bounds: bound.map { 2 * $0 }, "conv1D vs linear")
    }

    @Test func linearRejectsWrongShapes() {
        #expect(throws: TensorError.self) { try Ops.linear(Tensor.zeros([2, 3]), weight: Tensor.zeros([4, 5]), bias: nil) }
        #expect(throws: TensorError.self) { try Ops.linear(Tensor.zeros([2, 3]), weight: Tensor.zeros([4, 3]), bias: Tensor.zeros([5])) }
    }

    @Test func softmaxRowsSumToOneAndMaskedRowsAreZero() {
        var rng = LCG(s: 7)
        var v = (0..<12).map { _ in rng.next() * 50 }
        v[4] = -.infinity
        for j in 8..<12 { v[j] = -.infinity }  // row 2 fully masked
        Ops.softmaxRows(&v, width: 4)
        // Each weight carries FastMath's exp error (≤ 2e-7 relative, README) and a division.
        let tolerance = Float(4 * (2e-7 + 4 * RoundingBound.eps32))
        for r in 0..<2 {
            let sum: Float = v[(r * 4)..<(r * 4 + 4)].reduce(0, +)
            #expect(abs(sum - 1) <= tolerance)
        }
        #expect(v[4] == 0)
        #expect(v[8..<12].allSatisfy { $0 == 0 })
        #expect(v.allSatisfy { !$0.isNaN })
    }

    @Test func softmaxIsStableForLargeScores() {
        var v: [Float] = [1000, 1001, 1002]
        Ops.softmaxRows(&v, width: 3)
        let e = [exp(-2.0), exp(-1.0), 1.0], s = e.reduce(0, +)
        let tolerance: Double = 3 * (2e-7 + 4 * RoundingBound.eps32)
        for i in 0..<3 { #expect(abs(Double(v[i]) - e[i] / s) <= tolerance) }
    }

    @Test func layerNormGivesZeroMeanUnitVariance() throws {
        var rng = LCG(s: 11)
        let x = rng.tensor([5, 64]).mapped { $0 * 10 + 3 }
        let y = try Ops.layerNorm(x, gamma: Tensor.zeros([64]).mapped { _ in 1 }, beta: Tensor.zeros([64]), eps: 1e-12)
        for r in 0..<5 {
            let row = y.row(r).map(Double.init)
            let mean = row.reduce(0, +) / 64
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 64
            // Mean and variance of 64 float32 values are summed with error γ(64)·Σ|x|; divided
            // by σ, every output carries that relative to max|x|/σ.
            let xs = x.row(r).map(Double.init)
            let xMean = xs.reduce(0, +) / 64
            let sigma = (xs.map { ($0 - xMean) * ($0 - xMean) }.reduce(0, +) / 64).squareRoot()
            let scale = (xs.map(abs).max() ?? 1) / sigma
            let tolerance = 2 * RoundingBound.gamma(64 + 4) * scale
            #expect(abs(mean) <= tolerance, "mean \(mean), tolerance \(tolerance)")
            #expect(abs(variance - 1) <= 2 * scale * tolerance, "variance \(variance)")
        }
    }

    @Test func activationsMatchTheirDefinitions() {
        // FastMath's exp/erf/tanh are within 2e-7 relative (README), plus a few float32
        // roundings: a bound relative to the input's magnitude, the scale of these functions.
        for x in stride(from: -6.0, through: 6.0, by: 0.37) {
            let f = Float(x)
            let tolerance = (2e-7 + 8 * RoundingBound.eps32) * max(1, abs(x))
            #expect(abs(Double(Activation.gelu.apply(f)) - 0.5 * x * (1 + erf(x / 2.0.squareRoot()))) <= tolerance)
            let tanhForm = 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            #expect(abs(Double(Activation.geluNew.apply(f)) - tanhForm) <= tolerance)
            #expect(abs(Double(Activation.silu.apply(f)) - x / (1 + exp(-x))) <= tolerance)
            #expect(Activation.relu.apply(f) == max(0, f))
        }
    }

    @Test func gatherChecksIds() throws {
        let table = try Tensor(shape: [3, 2], data: [0, 1, 2, 3, 4, 5])
        #expect(try Ops.gather(table, rows: [2, 0]).data == [4, 5, 0, 1])
        #expect(throws: TensorError.self) { try Ops.gather(table, rows: [3]) }
    }

    @Test func blasReportsItsKernels() {
        #expect(!BLAS.coreName.isEmpty)
        #expect(BLAS.threadCount >= 1)
    }
}

@Suite struct FusedOpsTests {
    /// The one-region feed-forward equals the three separate steps, for both weight layouts and
    /// for inner widths that give one part, two even parts and two uneven parts.
    @Test(arguments: [(3, 8, 37), (5, 16, 130), (9, 24, 200), (1, 4, 257)])
    func feedForwardEqualsSeparateSteps(n: Int, d: Int, inner: Int) throws {
        var rng = LCG(s: UInt64(n * 7 + d * 131 + inner))
        let x = rng.tensor([n, d])
        let w1 = rng.tensor([inner, d]), b1 = rng.tensor([inner]), w2 = rng.tensor([d, inner]), b2 = rng.tensor([d])
        for act in Activation.allCases {
            let pre = try Ops.linear(x, weight: w1, bias: b1)
            let a = act.apply(pre)
            let fused = try Ops.feedForward(x, fc1: (w1, b1, .outIn), activation: act, fc2: (w2, b2, .outIn))
            // Step by step, each within the rounding bound of its own sums: the fused region may
            // split and order the products differently from the separate calls (and the kernel
            // differs between CPUs), so `pre` may differ in the last bits and those carry on.
            let label = "feed-forward \(n)×\(d)→\(inner) \(act.rawValue)"
            let preBound = RoundingBound.product(x, w1, bias: b1).map { 2 * $0 }
            expectWithin(fused.pre, pre, bounds: preBound, "\(label) pre")
            expectWithin(fused.act, act.apply(fused.pre), bounds: ulpBounds(fused.pre, fused.act), "\(label) act")
            expectWithin(fused.out, try Ops.linear(fused.act, weight: w2, bias: b2),
                         bounds: RoundingBound.product(fused.act, w2, bias: b2).map { 2 * $0 }, "\(label) out")
            // The same weights stored [in, out] (GPT-2's Conv1D) give the same result.
            let conv = try Ops.feedForward(x, fc1: (transpose(w1), b1, .inOut), activation: act, fc2: (transpose(w2), nil, .inOut))
            expectWithin(conv.pre, pre, bounds: preBound, "\(label) [in, out] pre")
            expectWithin(conv.act, act.apply(conv.pre), bounds: ulpBounds(conv.pre, conv.act), "\(label) [in, out] act")
            expectWithin(conv.out, try Ops.linear(conv.act, weight: w2, bias: nil),
                         bounds: RoundingBound.product(conv.act, w2).map { 2 * $0 }, "\(label) [in, out] out")
        }
    }

    @Test func feedForwardRejectsMismatchedWeights() {
        let x = Tensor.zeros([2, 4])
        #expect(throws: TensorError.self) {
            try Ops.feedForward(x, fc1: (Tensor.zeros([8, 5]), nil, .outIn), activation: .relu, fc2: (Tensor.zeros([4, 8]), nil, .outIn))
        }
        #expect(throws: TensorError.self) {
            try Ops.feedForward(x, fc1: (Tensor.zeros([8, 4]), nil, .outIn), activation: .relu, fc2: (Tensor.zeros([4, 9]), nil, .outIn))
        }
    }

    @Test func addLayerNormEqualsAddThenLayerNorm() throws {
        var rng = LCG(s: 5)
        let a = rng.tensor([7, 96]).mapped { $0 * 30 }, b = rng.tensor([7, 96])
        let g = rng.tensor([96]), beta = rng.tensor([96])
        let (sum, out) = try Ops.addLayerNorm(a, b, gamma: g, beta: beta, eps: 1e-5)
        let expectedSum = try Ops.add(a, b)
        #expect(sum == expectedSum)
        // The same statistics, possibly summed in another order (vector width): each output is
        // within 2γ(d)·max|x|/σ·|gamma| plus a few ulps of itself.
        let separate = try Ops.layerNorm(expectedSum, gamma: g, beta: beta, eps: 1e-5)
        let d = 96
        var bounds: [Double] = []
        for r in 0..<7 {
            let xs = expectedSum.row(r).map(Double.init)
            let mean = xs.reduce(0, +) / Double(d)
            let sigma = (xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)).squareRoot()
            let scale = (xs.map(abs).max() ?? 1) / sigma
            for c in 0..<d {
                bounds.append(2 * RoundingBound.gamma(d + 4) * scale * Double(abs(g.data[c])) + 4 * RoundingBound.eps32 * Double(abs(separate[r, c])))
            }
        }
        expectWithin(out, separate, bounds: bounds, "addLayerNorm vs add + layerNorm")
        #expect(throws: TensorError.self) { try Ops.addLayerNorm(a, Tensor.zeros([7, 95]), gamma: g, beta: beta, eps: 1e-5) }
    }

    @Test(arguments: [0, 1, 5, 63, 64, 130, 1000])
    func planCoversEveryItemOnceWithNoEmptyPart(count: Int) {
        for minChunk in [1, 3, 64] {
            let plan = Parallel.plan(count, minChunk: minChunk)
            let ranges = (0..<plan.parts).map(plan.range)
            #expect(ranges.reduce(0) { $0 + $1.count } == count)
            #expect(count == 0 || ranges.allSatisfy { !$0.isEmpty })
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            #expect(plan.parts <= max(1, Parallel.workers))
        }
    }

    func transpose(_ t: Tensor) -> Tensor {
        var out = Tensor.zeros([t.shape[1], t.shape[0]])
        for i in 0..<t.shape[0] { for j in 0..<t.shape[1] { out[j, i] = t[i, j] } }
        return out
    }
}
