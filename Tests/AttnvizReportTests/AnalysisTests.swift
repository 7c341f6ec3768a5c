@testable import AttnvizReport
import AttnvizTensor
import Foundation
import Testing

/// The report's analyses against direct (slow, obvious) computations.
@Suite struct AnalysisTests {
    static func randomDistribution(_ n: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix(state: seed)
        return Analysis.softmax((0..<n).map { _ in rng.gaussian() * 2 })
    }

    @Test func jacobianNormClosedFormEqualsTheEntrywiseSum() {
        for n in [1, 2, 7, 40] {
            let p = Self.randomDistribution(n, seed: UInt64(n))
            var total = 0.0
            for i in 0..<n { for j in 0..<n { let v = (i == j ? p[i] : 0) - p[i] * p[j]; total += v * v } }
            // Both sum n² non-negative doubles: within γ(n²)·total of each other (and of the truth).
            #expect(abs(Analysis.softmaxJacobianNorm(p) - total.squareRoot()) <= Double(n * n + 2) * Double.ulpOfOne * total.squareRoot())
        }
    }

    @Test func jsDivergenceEqualsTheDefinition() throws {
        let heads = 3, n = 6
        var data: [Float] = []
        for h in 0..<heads { for i in 0..<n { data += Self.randomDistribution(n, seed: UInt64(h * 100 + i)).map(Float.init) } }
        let w = try Tensor(shape: [heads, n, n], data: data)
        let js = Analysis.jsDivergences(w, heads: [0, 1, 2])
        for a in 0..<heads {
            #expect(js[a * heads + a] == 0)
            for b in 0..<heads where b != a {
                var direct = 0.0, magnitude = 0.0
                for i in 0..<n {
                    for j in 0..<n {
                        let p = Double(data[(a * n + i) * n + j]), q = Double(data[(b * n + i) * n + j]), m = (p + q) / 2
                        direct += 0.5 * p * log2(p / m) + 0.5 * q * log2(q / m)
                        // The analysis sums p·log p terms that cancel: their size sets its error.
                        magnitude += abs(p * log2(p)) + abs(q * log2(q)) + 2 * abs(m * log2(m))
                    }
                }
                let tolerance = RoundingBound.eps32 * direct / Double(n) + 16 * Double.ulpOfOne * Double(n * n) * magnitude / Double(n)
                #expect(abs(Double(js[a * heads + b]) - direct / Double(n)) <= tolerance)
            }
        }
    }

    @Test func rolloutOfIdentityAttentionIsIdentity() throws {
        let n = 5
        let eye = (0..<(n * n)).map { Float($0 / n == $0 % n ? 1 : 0) }
        let r = Analysis.rollout([try Tensor(shape: [1, n, n], data: eye), try Tensor(shape: [1, n, n], data: eye)])
        for i in 0..<n { for j in 0..<n { #expect(r[i * n + j] == (i == j ? 1 : 0)) } }  // exact: no rounding happens
    }

    @Test func rolloutRowsSumToOne() throws {
        let n = 7
        var data: [Float] = []
        for i in 0..<(2 * n) { data += Self.randomDistribution(n, seed: UInt64(i)).map(Float.init) }
        let r = Analysis.rollout([try Tensor(shape: [2, n, n], data: data)])
        // Rows of float32 distributions, renormalized in double: off by the float inputs' rounding.
        for i in 0..<n { #expect(abs(r[(i * n)..<((i + 1) * n)].reduce(0, +) - 1) <= Double(4 * n) * RoundingBound.eps32) }
    }

    @Test func sinusoidalDotProductDependsOnlyOnDistance() {
        let pe = Analysis.sinusoidal(positions: 40, dims: 32)
        func dot(_ a: Int, _ b: Int) -> Double { (0..<32).reduce(0.0) { $0 + Double(pe[a, $1]) * Double(pe[b, $1]) } }
        // Float32 entries: sin/cos of an argument up to 40 carry ≈ eps32·40 each; 32 products per dot.
        let entryError = 2 * RoundingBound.eps32 * 41
        for k in [1, 3, 9] { #expect(abs(dot(0, k) - dot(20, 20 + k)) <= 2 * 32 * 2 * entryError) }
        #expect(abs(dot(5, 5) - 16) <= 32 * 2 * entryError)  // d/2 sin²+cos² pairs
    }

    @Test func dotProductVarianceGrowsWithWidth() {
        for d in [4, 64] {
            let v = AttnScaledSection.dotVariance(d: d, samples: 4000, seed: 3)
            #expect(abs(v / Double(d) - 1) < 0.15, "d=\(d): variance \(v)")
        }
    }

    @Test func catalogParsesEveryEntry() throws {
        let md = "## A. Part\n| id | question (en / zh) | what |\n|---|---|---|\n| a-one | First? / 第一 | x |\n| b-two | Second / 第二 | y |\n"
        let c = try Catalog.parse(md, source: "test")
        #expect(c.entries.map(\.id) == ["a-one", "b-two"])
        #expect(c.entries.first?.titleZh == "第一")
        #expect(throws: ReportError.self) { try Catalog.parse("nothing", source: "x") }
    }
}
