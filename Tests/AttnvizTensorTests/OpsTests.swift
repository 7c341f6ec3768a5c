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

extension Tensor {
    func mapped(_ f: (Float) -> Float) -> Tensor {
        var t = self
        t.data = t.data.map(f)
        return t
    }
}

@Suite struct OpsTests {
    /// sgemm-based linear and Conv1D equal a naive double-precision loop, at odd sizes.
    @Test(arguments: [(1, 1, 1), (3, 5, 7), (17, 33, 9), (64, 48, 130)])
    func linearMatchesNaiveLoop(n: Int, inDim: Int, outDim: Int) throws {
        var rng = LCG(s: UInt64(n * 1000 + inDim * 10 + outDim))
        let x = rng.tensor([n, inDim]), w = rng.tensor([outDim, inDim]), b = rng.tensor([outDim])
        let y = try Ops.linear(x, weight: w, bias: b)
        var worst: Double = 0
        for i in 0..<n {
            for o in 0..<outDim {
                var acc = Double(b.data[o])
                for k in 0..<inDim { acc += Double(x[i, k]) * Double(w[o, k]) }
                worst = max(worst, abs(acc - Double(y[i, o])))
            }
        }
        print("linear \(n)x\(inDim)→\(outDim): max|Δ| vs naive = \(worst)")
        #expect(worst < 1e-4)
        // Conv1D with the transposed weight gives the same.
        var wt = Tensor.zeros([inDim, outDim])
        for o in 0..<outDim { for k in 0..<inDim { wt[k, o] = w[o, k] } }
        #expect(try Ops.conv1D(x, weight: wt, bias: b).maxAbsDifference(y) < 1e-5)
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
        for r in 0..<2 { #expect(abs(v[(r * 4)..<(r * 4 + 4)].reduce(0, +) - 1) < 1e-6) }
        #expect(v[4] == 0)
        #expect(v[8..<12].allSatisfy { $0 == 0 })
        #expect(v.allSatisfy { !$0.isNaN })
    }

    @Test func softmaxIsStableForLargeScores() {
        var v: [Float] = [1000, 1001, 1002]
        Ops.softmaxRows(&v, width: 3)
        let e = [exp(-2.0), exp(-1.0), 1.0], s = e.reduce(0, +)
        for i in 0..<3 { #expect(abs(Double(v[i]) - e[i] / s) < 1e-6) }
    }

    @Test func layerNormGivesZeroMeanUnitVariance() throws {
        var rng = LCG(s: 11)
        let x = rng.tensor([5, 64]).mapped { $0 * 10 + 3 }
        let y = try Ops.layerNorm(x, gamma: Tensor.zeros([64]).mapped { _ in 1 }, beta: Tensor.zeros([64]), eps: 1e-12)
        for r in 0..<5 {
            let row = y.row(r).map(Double.init)
            let mean = row.reduce(0, +) / 64
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 64
            #expect(abs(mean) < 1e-5)
            #expect(abs(variance - 1) < 1e-4)
        }
    }

    @Test func activationsMatchTheirDefinitions() {
        for x in stride(from: -6.0, through: 6.0, by: 0.37) {
            let f = Float(x)
            #expect(abs(Double(Activation.gelu.apply(f)) - 0.5 * x * (1 + erf(x / 2.0.squareRoot()))) < 1e-5)
            let tanhForm = 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            #expect(abs(Double(Activation.geluNew.apply(f)) - tanhForm) < 1e-5)
            #expect(abs(Double(Activation.silu.apply(f)) - x / (1 + exp(-x))) < 1e-5)
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
            let expected = try Ops.linear(a, weight: w2, bias: b2)
            let fused = try Ops.feedForward(x, fc1: (w1, b1, .outIn), activation: act, fc2: (w2, b2, .outIn))
            let worst = try fused.out.maxAbsDifference(expected)
            print("feed-forward \(n)×\(d)→\(inner) \(act.rawValue): max|Δ| vs separate = \(worst)")
            #expect(try fused.pre.maxAbsDifference(pre) < 1e-6)
            #expect(try fused.act.maxAbsDifference(a) < 1e-6)
            #expect(worst < 1e-5)
            // The same weights stored [in, out] (GPT-2's Conv1D) give the same result.
            let conv = try Ops.feedForward(x, fc1: (transpose(w1), b1, .inOut), activation: act, fc2: (transpose(w2), nil, .inOut))
            let noBias = try Ops.linear(a, weight: w2, bias: nil)
            #expect(try conv.out.maxAbsDifference(noBias) < 1e-5)
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
        let worst = try out.maxAbsDifference(try Ops.layerNorm(expectedSum, gamma: g, beta: beta, eps: 1e-5))
        print("addLayerNorm: max|Δ| vs add + layerNorm = \(worst)")
        #expect(worst == 0)
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
