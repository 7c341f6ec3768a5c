import AttnvizModel
@testable import AttnvizReport
import AttnvizTensor
import AttnvizTrace
import Foundation
import Testing

/// pos-why, pos-relative, attn-qkv, attn-head-dim and attn-head-roles: each computed claim
/// checked against its definition with naive loops, independently of the section code.
@Suite struct AttentionChapterSectionTests {
    static let example = (try? String(contentsOf: CLI.repoRoot.appendingPathComponent("examples/sentence.txt"), encoding: .utf8)) ?? ""

    static func miniLM() throws -> Session {
        let dir = ModelRegistry.defaultDirectory
        guard FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("model.safetensors")) else {
            Issue.record("MiniLM not found at \(dir): run scripts/setup.sh")
            throw CancellationError()
        }
        return try Session.open(directory: dir, note: nil)
    }

    static func tiny(_ model: String) throws -> Session {
        try Session.open(directory: CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/\(model)").path, note: nil)
    }

    /// A study with the runs a section asks for made.
    static func study(_ session: Session, _ text: String, for section: any Section) throws -> Study {
        let trace = try session.trace(text: text)
        var s = Study(inputName: "t", text: text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        s.runs = session.run(section.experiments(s), base: trace)
        return s
    }

    static func value(_ c: SectionContent, _ name: String) -> Double? {
        for f in c.findings { for v in f.values where v.name == name { if case let .number(x) = v.value { return x } } }
        return nil
    }

    static let ulp = Double(Float.ulpOfOne)

    // MARK: pos-why

    /// Without positions the shuffled run's outputs are the unshuffled outputs permuted; with
    /// positions they are not. Recomputed here from the three runs with plain loops.
    @Test func withoutPositionsTheOutputsPermute() throws {
        let session = try Self.miniLM()
        let s = try Self.study(session, Self.example, for: PosWhySection())
        let n = s.n, tokens = s.trace.tokens
        let p = try #require(AttentionAnalysis.contentPermutation(tokens))
        // A permutation of 0..<n, not the identity, that fixes the added specials.
        #expect(p.sorted() == Array(0..<n))
        #expect(p != Array(0..<n))
        for i in 0..<n where tokens[i].isSpecial && tokens[i].range == nil { #expect(p[i] == i) }
        #expect(AttentionAnalysis.contentPermutation(tokens) == p, "seeded: the same input gives the same shuffle")

        let plain = try #require(s.run(.reordered(permutation: Array(0..<n), positions: false)).trace)
        let shuffled = try #require(s.run(.reordered(permutation: p, positions: false)).trace)
        let shuffledPos = try #require(s.run(.reordered(permutation: p, positions: true)).trace)
        // The shuffled run really holds the tokens in the new order.
        #expect(shuffled.tokens.map(\.id) == p.map { tokens[$0].id })

        let d = s.trace.model.dModel
        var worstNoPos = 0.0, worstPos = 0.0, scale = 0.0
        for l in 0..<plain.layers.count {
            let u = plain.layers[l].output.data, v = shuffled.layers[l].output.data
            let main = s.trace.layers[l].output.data, w = shuffledPos.layers[l].output.data
            for i in 0..<n {
                for k in 0..<d {
                    worstNoPos = max(worstNoPos, abs(Double(v[i * d + k]) - Double(u[p[i] * d + k])))
                    worstPos = max(worstPos, abs(Double(w[i * d + k]) - Double(main[p[i] * d + k])))
                    scale = max(scale, abs(Double(u[p[i] * d + k])))
                }
            }
        }
        // Rounding differs only in the order of sums; the longest is the feed-forward's (d_ff terms).
        let tol = 8 * Self.ulp * Double(s.trace.model.dFF).squareRoot() * scale
        print("  pos-why: no positions max |Δ| = \(worstNoPos) (tol \(tol), scale \(scale)); with positions max |Δ| = \(worstPos)")
        #expect(worstNoPos <= tol)
        #expect(worstNoPos <= 1e-5, "the issue's acceptance bound")
        #expect(worstPos > 100 * tol, "with positions the shuffle must change the outputs by far more than rounding")

        let content = try PosWhySection().build(s)
        #expect(content.unavailable == nil)
        let reported = try #require(Self.value(content, "nopos_max_abs_diff"))
        let reportedPos = try #require(Self.value(content, "pos_max_abs_diff"))
        print("  pos-why: section reports \(reported) and \(reportedPos)")
        #expect(abs(reported - worstNoPos) <= 1e-12 * max(1, worstNoPos))
        #expect(abs(reportedPos - worstPos) <= 1e-9 * max(1, worstPos))
    }

    /// A causal decoder: the section computes the same quantities but does not claim the proof.
    @Test func causalDecoderIsNotClaimedPermutationInvariant() throws {
        let session = try Self.tiny("gpt2")
        let s = try Self.study(session, "The cat sat on the mat because it was tired.", for: PosWhySection())
        let content = try PosWhySection().build(s)
        let text = content.findings.map(\.text).joined(separator: " ")
        print("  pos-why (tiny GPT-2): \(text)")
        #expect(text.contains("causal"))
        #expect(!text.contains("rounding noise"))
    }

    @Test func tooShortForAShuffle() throws {
        let s = try Self.study(try Self.tiny("bert"), "hi", for: PosWhySection())
        let movable = s.trace.tokens.filter { !($0.isSpecial && $0.range == nil) }.count
        #expect(PosWhySection().experiments(s).isEmpty == (movable < 2))
        if movable < 2 { #expect(try PosWhySection().build(s).unavailable != nil) }
    }

    // MARK: pos-relative

    /// RoPE: rotating q by mθ and k by nθ gives a score that depends only on m − n. The reference
    /// is the closed form Σ_i Re(z_q,i · conj(z_k,i) · e^{i(m−n)θ_i}) with z = x_{2i} + i·x_{2i+1}.
    @Test func ropeScoreDependsOnlyOnTheOffset() throws {
        let session = try Self.miniLM()
        let trace = try session.trace(text: Self.example)
        let a = try #require(trace.layers.first?.selfAttention)
        let nq = a.q.shape[1], dk = a.q.shape[2]
        let q = Array(a.q.data[(1 * dk)..<(2 * dk)]), k = Array(a.k.data[((nq - 2) * dk)..<((nq - 1) * dk)])
        func closedForm(_ offset: Int) -> Double {
            var total = 0.0
            for i in 0..<(dk / 2) {
                let theta = Double(offset) * pow(10000.0, -Double(2 * i) / Double(dk))
                let (qr, qi) = (Double(q[2 * i]), Double(q[2 * i + 1])), (kr, ki) = (Double(k[2 * i]), Double(k[2 * i + 1]))
                // z_q · conj(z_k) = (qr·kr + qi·ki) + i(qi·kr − qr·ki); times e^{iθ}, real part:
                total += (qr * kr + qi * ki) * cos(theta) - (qi * kr - qr * ki) * sin(theta)
            }
            if dk % 2 == 1 { total += Double(q[dk - 1]) * Double(k[dk - 1]) }
            return total
        }
        let norms = q.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() * k.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        var worst = 0.0
        let span = 64
        for m in 0..<span {
            for n in 0..<span {
                let rotated = AttentionAnalysis.dot(AttentionAnalysis.rope(q, position: m), AttentionAnalysis.rope(k, position: n))
                worst = max(worst, abs(rotated - closedForm(m - n)))
            }
        }
        // Double arithmetic; angles up to span·1 rad lose about span ulps.
        let tol = 8 * Double.ulpOfOne * Double(span) * Double(dk).squareRoot() * norms
        print("  RoPE vs closed form: max |Δ| = \(worst) (tol \(tol))")
        #expect(worst <= tol)
        // A rotation keeps lengths.
        let r = AttentionAnalysis.rope(q, position: 37)
        #expect(abs(r.reduce(0) { $0 + $1 * $1 } - q.reduce(0.0) { $0 + Double($1) * Double($1) }) <= tol)

        var s = Study(inputName: "t", text: Self.example, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        s.runs = [:]
        let content = try PosRelativeSection().build(s)
        let deviation = try #require(Self.value(content, "rope_max_deviation"))
        let scale = try #require(Self.value(content, "rope_score_max_abs"))
        let sectionTol = 8 * Double.ulpOfOne * Double(s.n) * Double(dk).squareRoot() * max(scale, 1) * 4
        print("  pos-relative reports rope_max_deviation = \(deviation) (tol \(sectionTol))")
        #expect(deviation <= sectionTol)
    }

    /// ALiBi: slopes 2^(−8k/h), bias −slope·|i − j| (encoder) or −slope·(i − j) with the future masked (causal).
    @Test(arguments: [1, 4, 8, 12])
    func alibiMatchesTheDefinition(heads: Int) {
        let slopes = AttentionAnalysis.alibiSlopes(heads: heads)
        #expect(slopes.count == heads)
        for (k, m) in slopes.enumerated() { #expect(abs(m - pow(2, -8 * Double(k + 1) / Double(heads))) <= 4 * Double.ulpOfOne * m) }
        if heads == 8 { #expect(slopes.first == 0.5 && slopes.last == 1.0 / 256, "the paper's sequence for 8 heads: 1/2 … 1/256") }
        let n = 9
        for m in slopes {
            let bi = AttentionAnalysis.alibiBias(n: n, slope: m, causal: false)
            let ca = AttentionAnalysis.alibiBias(n: n, slope: m, causal: true)
            for i in 0..<n {
                for j in 0..<n {
                    let expected = -m * Double(abs(i - j))
                    #expect(abs(Double(bi[i * n + j]) - expected) <= Self.ulp * max(abs(expected), 1e-30))
                    if j > i { #expect(ca[i * n + j] == -.infinity) } else {
                        #expect(abs(Double(ca[i * n + j]) + m * Double(i - j)) <= Self.ulp * max(m * Double(i - j), 1e-30))
                    }
                }
            }
        }
    }

    // MARK: attn-qkv

    /// weights·V equals the recorded context for every head of every layer, and rows sum to 1.
    @Test(arguments: ["minilm", "gpt2"])
    func weightsTimesValuesIsTheContext(model: String) throws {
        let session = model == "minilm" ? try Self.miniLM() : try Self.tiny(model)
        let trace = try session.trace(text: Self.example)
        var worst = 0.0, worstRow = 0.0, worstTol = 0.0
        for layer in trace.layers {
            let a = try #require(layer.selfAttention)
            let h = a.heads, n = a.weights.shape[1], dk = a.v.shape[2], d = a.context.rowWidth
            let vmax = a.v.data.reduce(0.0) { max($0, abs(Double($1))) }
            let tol = 8 * Self.ulp * Double(n).squareRoot() * max(vmax, 1e-30)
            worstTol = max(worstTol, tol)
            for head in 0..<h {
                for i in 0..<n {
                    var rowSum = 0.0
                    for j in 0..<n { rowSum += Double(a.weights.data[(head * n + i) * n + j]) }
                    worstRow = max(worstRow, abs(rowSum - 1))
                    for c in 0..<dk {
                        var acc = 0.0
                        for j in 0..<n { acc += Double(a.weights.data[(head * n + i) * n + j]) * Double(a.v.data[(head * n + j) * dk + c]) }
                        let diff = abs(acc - Double(a.context.data[i * d + head * dk + c]))
                        worst = max(worst, diff)
                        #expect(diff <= tol)
                    }
                }
            }
        }
        print("  attn-qkv (\(model)): weights·V vs context max |Δ| = \(worst) (tol ≤ \(worstTol)); row sums max |Σ − 1| = \(worstRow)")
        #expect(worstRow <= 8 * Self.ulp * Double(trace.tokens.count).squareRoot())
        let s = Study(inputName: "t", text: Self.example, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        let content = try AttnQKVSection().build(s)
        let reported = try #require(Self.value(content, "context_max_abs_diff"))
        #expect(reported <= worstTol)
    }

    // MARK: attn-head-dim

    @Test func headDimensionCostsAreEqual() {
        for (n, d, h) in [(57, 384, 12), (3, 32, 4), (512, 768, 12)] {
            let multi = AttnHeadDimSection.Cost(n: n, d: d, heads: h), one = AttnHeadDimSection.Cost(n: n, d: d, heads: 1)
            #expect(multi.projectionParams == 4 * d * d + 4 * d && one.projectionParams == multi.projectionParams)
            #expect(multi.scoreFLOPs == 2 * n * n * d && one.scoreFLOPs == 2 * n * n * d)
            #expect(multi.softmaxExps == h * one.softmaxExps)
            #expect(multi.rankBound == min(n, d / h) && one.rankBound == min(n, d))
        }
    }

    // MARK: attn-head-roles

    /// The six categories split every query's keys into disjoint sets covering all keys, so each
    /// head's shares add to 1. Sets built here from their definitions.
    @Test(arguments: ["minilm", "gpt2"])
    func headRoleSharesPartitionTheWeight(model: String) throws {
        let session = model == "minilm" ? try Self.miniLM() : try Self.tiny(model)
        let trace = try session.trace(text: Self.example)
        let s = Study(inputName: "t", text: Self.example, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        let n = s.n
        let sink = Set(s.sinkTokens.indices)
        let punct = Set((0..<n).filter { i in
            let t = s.labels[i].replacingOccurrences(of: "##", with: "").replacingOccurrences(of: "␣", with: "")
            return !trace.tokens[i].isSpecial && !t.isEmpty && t.allSatisfy { $0.isPunctuation || $0.isSymbol }
        })
        var worstShare = 0.0, worstSum = 0.0
        for layer in trace.layers {
            let w = try #require(layer.selfAttention?.weights)
            for head in 0..<w.shape[0] {
                var expected = [Double](repeating: 0, count: 6)
                for i in 0..<n {
                    let all = Set(0..<n)
                    let s0 = sink
                    let s1 = Set([i]).subtracting(s0)
                    let s2 = Set([i - 1]).intersection(all).subtracting(s0).subtracting(s1)
                    let s3 = Set([i + 1]).intersection(all).subtracting(s0).subtracting(s1).subtracting(s2)
                    let s4 = punct.subtracting(s0).subtracting(s1).subtracting(s2).subtracting(s3)
                    let s5 = all.subtracting(s0).subtracting(s1).subtracting(s2).subtracting(s3).subtracting(s4)
                    let sets = [s0, s1, s2, s3, s4, s5]
                    #expect(sets.reduce(0) { $0 + $1.count } == n, "disjoint and covering")
                    for (c, set) in sets.enumerated() { for j in set { expected[c] += Double(w.data[(head * n + i) * n + j]) / Double(n) } }
                }
                let got = AttentionAnalysis.roleShares(w, head: head, sink: sink, punctuation: (0..<n).map { punct.contains($0) })
                for c in 0..<6 { worstShare = max(worstShare, abs(got[c] - expected[c])) }
                worstSum = max(worstSum, abs(got.reduce(0, +) - 1))
            }
        }
        let tol = 8 * Self.ulp * Double(n).squareRoot()
        print("  attn-head-roles (\(model)): shares vs definition max |Δ| = \(worstShare); |Σ shares − 1| ≤ \(worstSum) (tol \(tol))")
        #expect(worstShare <= tol)
        #expect(worstSum <= tol)
        let content = try AttnHeadRolesSection().build(s)
        let counts = ["heads_sink", "heads_previous", "heads_next", "heads_self", "heads_punctuation", "heads_broad"].compactMap { Self.value(content, $0) }
        #expect(counts.count == 6 && counts.reduce(0, +) == Double(trace.layers.count * trace.model.heads), "every head has exactly one class")
    }

    /// The long-distance links are the largest weights among allowed pairs, found by brute force.
    @Test func strongestLinkIsTheLargestAllowedWeight() throws {
        let session = try Self.miniLM()
        let trace = try session.trace(text: Self.example)
        let s = Study(inputName: "t", text: Self.example, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        let n = s.n
        let punct = (0..<n).map { AttentionAnalysis.isPunctuation(s.labels[$0], special: trace.tokens[$0].isSpecial) }
        var best = 0.0
        for layer in trace.layers {
            let w = try #require(layer.selfAttention?.weights)
            for h in 0..<w.shape[0] { for i in 0..<n { for j in 0..<n where abs(i - j) >= 3 && !trace.tokens[i].isSpecial && !trace.tokens[j].isSpecial && !punct[i] && !punct[j] {
                best = max(best, Double(w.data[(h * n + i) * n + j]))
            } } }
        }
        let links = AttentionAnalysis.longLinks(trace, layers: s.layers, heads: s.heads, punctuation: punct)
        print("  attn-head-roles: strongest link weight \(best); section: \(links.first.map { "\(s.labels[$0.query]) → \(s.labels[$0.key]) \($0.weight)" } ?? "none")")
        #expect(links.first?.weight == best)
        #expect(zip(links, links.dropFirst()).allSatisfy { $0.weight >= $1.weight })
        #expect(links.allSatisfy { abs($0.query - $0.key) >= 3 && !punct[$0.query] && !punct[$0.key] })
    }

    // MARK: the real binary

    /// The example rendered by the binary: the five sections are computed in report.json, with
    /// their named values, and every finding's text is on the page.
    @Test func sectionsAreComputedInReportJSON() throws {
        _ = try Self.miniLM()
        let tmp = try TempDir()
        let out = tmp.file("report")
        let r = try CLI.run(["render", CLI.repoRoot.appendingPathComponent("examples/sentence.txt").path, "--output", out, "--quiet", "--no-timings"])
        #expect(r.status == 0, "\(r.stderr)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))) as? [String: Any])
        let sections = try #require(root["sections"] as? [[String: Any]])
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        let expected: [String: [String]] = [
            "pos-why": ["nopos_max_abs_diff", "pos_max_abs_diff", "tokens_moved", "output_max_abs"],
            "pos-relative": ["rope_max_deviation", "alibi_heads", "alibi_slope_max", "alibi_slope_min"],
            "attn-qkv": ["context_max_abs_diff", "row_sum_max_deviation", "scores_max_abs_diff", "d_k"],
            "attn-head-dim": ["projection_params", "flops_multi_head", "flops_single_head", "rank_bound_per_head"],
            "attn-head-roles": ["heads_classified", "heads_sink", "share_sum_max_deviation", "top_link_weight", "top_link_head"],
        ]
        for (id, names) in expected {
            let section = try #require(sections.first { $0["id"] as? String == id }, "\(id) missing")
            #expect(section["status"] as? String == "computed", "\(id): \(section["reason"] ?? "")")
            let values = section["values"] as? [String: Any] ?? [:]
            for name in names { #expect(values[name] != nil, "\(id).\(name) missing") }
            for f in section["findings"] as? [[String: Any]] ?? [] {
                for (_, shown) in f["shown"] as? [String: String] ?? [:] { #expect(html.contains(shown), "\(id): “\(shown)” not on the page") }
            }
        }
        let values = { (id: String) in (sections.first { $0["id"] as? String == id }?["values"] as? [String: Any]) ?? [:] }
        let noPos = try #require(values("pos-why")["nopos_max_abs_diff"] as? Double)
        let pos = try #require(values("pos-why")["pos_max_abs_diff"] as? Double)
        print("  report.json: pos-why nopos \(noPos), pos \(pos); head-dim params \(values("attn-head-dim")["projection_params"] ?? "?")")
        #expect(noPos <= 1e-5 && pos > 1000 * noPos)
        let model = try #require(root["model"] as? [String: Any])
        let d = try #require(model["d_model"] as? Int), h = try #require(model["heads"] as? Int)
        #expect(values("attn-head-dim")["projection_params"] as? Int == 4 * d * d + 4 * d)
        #expect(values("pos-relative")["alibi_heads"] as? Int == h)
        #expect(values("attn-head-roles")["heads_classified"] as? Int == h * (model["layers"] as? Int ?? 0))
    }
}
