import AttnvizModel
import AttnvizRender
@testable import AttnvizReport
import AttnvizTensor
import AttnvizTrace
import Foundation
import Testing

/// Teacher forcing vs step-by-step decoding on the shipped companion (models/reverse-words), and
/// the train-decoder-io / train-parallel sections built on it. The decoder input, the labels and
/// greedy decoding are written out here from their definitions (task: words in reverse order;
/// printable ASCII character ids; start token from config.json) and run on the MarianModel directly.
@Suite struct TeacherForcingTests {
    static let shipped = CompanionSectionTests.shipped
    static let sentences = ["the cat sat on the mat", "a quick brown fox jumps over my lazy dog"]

    struct Setup {
        var model: MarianModel
        var source: [Int], decoderInput: [Int], labels: [Int]
        var start: Int, eos: Int
    }

    /// The companion and the teacher-forced ids of `text` (which must fit and be printable ASCII).
    static func setup(_ text: String) throws -> Setup {
        let session = try Session.open(directory: shipped, note: nil)
        guard case let .marian(model) = session.model else { Issue.record("the shipped companion is not an encoder–decoder"); throw CancellationError() }
        let config = try CompanionSectionTests.json(shipped + "/config.json")
        let start = try #require((config["decoder_start_token_id"] as? NSNumber)?.intValue)
        let eos = try #require((config["eos_token_id"] as? NSNumber)?.intValue)
        let vocab = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: shipped + "/vocab.json"))) as? [String: Int])
        func ids(_ s: String) throws -> [Int] { try s.map { try #require(vocab[String($0)], "\($0) not in vocab.json") } }
        let target = text.split(separator: " ").reversed().joined(separator: " ")
        let labels = try ids(target) + [eos]
        return Setup(model: model, source: try ids(text) + [eos], decoderInput: [start] + labels.dropLast(), labels: labels, start: start, eos: eos)
    }

    /// n cached one-token decoder calls: per step (hidden row, logits row).
    static func steps(_ m: MarianModel, _ encoded: Tensor, _ ids: [Int]) throws -> [(hidden: [Float], logits: [Float])] {
        var cache = m.emptyCache()
        var out: [(hidden: [Float], logits: [Float])] = []
        for id in ids {
            let (h, l) = try m.decode(ids: [id], encoderOutput: encoded, encoderMask: nil, cache: &cache)
            out.append((h.data, l.data))
        }
        return out
    }

    static func row(_ t: Tensor, _ i: Int) -> [Float] { let w = t.shape[1]; return Array(t.data[(i * w)..<((i + 1) * w)]) }
    static func argmax(_ r: [Float]) -> Int { r.indices.reduce(0) { r[$1] > r[$0] ? $1 : $0 } }
    static func maxAbs(_ xs: [Float]) -> Double { xs.reduce(0) { max($0, Double(abs($1))) } }

    /// Tolerances for two float32 computations of the decoder in different summation orders:
    /// outputs by RoundingBound.forward; logits sum d_model products of them with the embedding.
    static func tolerances(_ m: MarianModel, hiddenScale: Double, logitScale: Double) -> (hidden: Double, logits: Double) {
        let c = m.config
        let hidden = RoundingBound.forward(sumLength: max(c.decoderFfnDim, c.dModel), depth: c.decoderLayers, scale: hiddenScale)
        let logits = RoundingBound.forward(sumLength: max(c.decoderFfnDim, c.dModel), depth: c.decoderLayers + 1, scale: logitScale) * Double(c.dModel).squareRoot()
        return (hidden, logits)
    }

    @Test(arguments: sentences) func teacherForcedPassEqualsCachedSteps(text: String) throws {
        let s = try Self.setup(text)
        let encoded = try s.model.encode(ids: s.source)
        var cache = s.model.emptyCache()
        let (h, l) = try s.model.decode(ids: s.decoderInput, encoderOutput: encoded, encoderMask: nil, cache: &cache)
        let steps = try Self.steps(s.model, encoded, s.decoderInput)
        var worstH = 0.0, worstL = 0.0, sameArgmax = 0
        for (i, step) in steps.enumerated() {
            let rh = Self.row(h, i), rl = Self.row(l, i)
            worstH = max(worstH, zip(rh, step.hidden).reduce(0) { max($0, Double(abs($1.0 - $1.1))) })
            worstL = max(worstL, zip(rl, step.logits).reduce(0) { max($0, Double(abs($1.0 - $1.1))) })
            if Self.argmax(rl) == Self.argmax(step.logits) { sameArgmax += 1 }
        }
        let tol = Self.tolerances(s.model, hiddenScale: Self.maxAbs(h.data), logitScale: Self.maxAbs(l.data))
        print("  “\(text)”: \(steps.count) cached steps vs one pass: max|Δ| hidden \(worstH) (tol \(tol.hidden), scale \(Self.maxAbs(h.data))), logits \(worstL) (tol \(tol.logits)); argmax same at \(sameArgmax)/\(steps.count)")
        #expect(steps.count == s.decoderInput.count && h.shape[0] == steps.count)
        #expect(worstH <= tol.hidden)
        #expect(worstL <= tol.logits)
    }

    /// Changing a later decoder input token leaves every earlier cached step bit-identical.
    @Test(arguments: sentences) func causalProofWithTheCache(text: String) throws {
        let s = try Self.setup(text)
        let encoded = try s.model.encode(ids: s.source)
        let n = s.decoderInput.count
        for k in [n / 2, n - 1] where k > 0 {
            var changed = s.decoderInput
            changed[k] = changed[k] == s.decoderInput[1] ? s.decoderInput[0] : s.decoderInput[1]  // another id of the vocabulary
            #expect(changed[k] != s.decoderInput[k])
            let a = try Self.steps(s.model, encoded, s.decoderInput), b = try Self.steps(s.model, encoded, changed)
            let earlierDiffer = (0..<k).filter { a[$0].hidden != b[$0].hidden || a[$0].logits != b[$0].logits }.count
            let atK = zip(a[k].hidden, b[k].hidden).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            print("  “\(text)”: token \(k) changed → \(earlierDiffer) of \(k) earlier cached steps differ; step \(k) max|Δ| \(atK)")
            #expect(earlierDiffer == 0)
            #expect(atK > 0)
        }
    }

    /// Greedy decoding (own loop, with the cache) = argmax of one teacher-forced pass over its own output.
    @Test(arguments: sentences) func greedyEqualsTeacherForcedArgmaxOverItsOutput(text: String) throws {
        let s = try Self.setup(text)
        let encoded = try s.model.encode(ids: s.source)
        var cache = s.model.emptyCache()
        var next = s.start, generated: [Int] = [], stepLogits: [[Float]] = []
        for _ in 0..<s.model.config.maxPositionEmbeddings {
            let (_, l) = try s.model.decode(ids: [next], encoderOutput: encoded, encoderMask: nil, cache: &cache)
            next = Self.argmax(l.data)
            generated.append(next); stepLogits.append(l.data)
            if next == s.eos { break }
        }
        var fresh = s.model.emptyCache()
        let (h, l) = try s.model.decode(ids: [s.start] + generated.dropLast(), encoderOutput: encoded, encoderMask: nil, cache: &fresh)
        let tol = Self.tolerances(s.model, hiddenScale: Self.maxAbs(h.data), logitScale: Self.maxAbs(l.data))
        var agree = 0, close = 0, worst = 0.0
        for (i, id) in generated.enumerated() {
            let r = Self.row(l, i)
            worst = max(worst, zip(r, stepLogits[i]).reduce(0) { max($0, Double(abs($1.0 - $1.1))) })
            if Self.argmax(r) == id { agree += 1 } else if Double(r[Self.argmax(r)] - r[id]) <= 2 * tol.logits { close += 1 }  // a tie within rounding
        }
        let library = try s.model.greedy(source: s.source, maxLength: s.model.config.maxPositionEmbeddings, eos: s.eos)
        print("  “\(text)”: greedy \(generated.count) tokens (gold \(s.labels.count), exact \(generated == s.labels)); one pass over it: argmax agrees at \(agree), ties \(close); max|Δ logits| \(worst) (tol \(tol.logits))")
        #expect(agree + close == generated.count && agree > 0)
        #expect(worst <= tol.logits)
        #expect(library.ids == generated)
        #expect(library.forwardCalls == generated.count + 1)
    }

    /// A study of `text` on the tiny BERT with the shipped companion's runs made for both sections.
    static func study(_ text: String, timings: Bool) throws -> Study {
        let session = try AttentionChapterSectionTests.tiny("bert")
        let trace = try session.trace(text: text)
        var st = Study(inputName: "t", text: text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: timings)
        st.runs = session.run(TrainDecoderIOSection().experiments(st) + TrainParallelSection().experiments(st), base: trace,
                              companion: Companion.open(directory: shipped))
        return st
    }

    static func number(_ c: SectionContent, _ name: String) -> Double? { AttentionChapterSectionTests.value(c, name) }
    static func text(_ c: SectionContent, _ name: String) -> String? {
        for f in c.findings { for v in f.values where v.name == name { if case let .text(x) = v.value { return x } } }
        return nil
    }

    /// The sections' numbers recomputed from the teacher-forced trace and from a greedy run made here.
    @Test(arguments: sentences) func sectionValuesRecomputed(text: String) throws {
        let s = try Self.setup(text)
        let st = try Self.study(text, timings: false)
        let t = try #require(st.run(CompanionAnalysis.run(st)).trace)
        let logits = try #require(t.logits)
        #expect(t.decoderTokens.map(\.id) == s.decoderInput)
        let n = s.decoderInput.count
        var correct = 0, sumP = 0.0
        for i in 0..<n {
            let r = Self.row(logits, i).map(Double.init)
            let m = r.max() ?? 0, z = r.reduce(0) { $0 + exp($1 - m) }
            sumP += exp(r[s.labels[i]] - m) / z
            if Self.argmax(Self.row(logits, i)) == s.labels[i] { correct += 1 }
        }
        let greedy = try s.model.greedy(source: s.source, maxLength: s.model.config.maxPositionEmbeddings, eos: s.eos)
        let clock = ContinuousClock()
        var io = SectionContent(answer: [])
        let ioTime = try clock.measure { io = try TrainDecoderIOSection().build(st) }
        #expect(io.unavailable == nil, "\(io.unavailable ?? "")")
        print("  “\(text)”: teacher-forced \(correct)/\(n), mean p(gold) \(sumP / Double(n)); greedy \(greedy.ids.count) tokens, exact \(greedy.ids == s.labels)")
        #expect(Self.number(io, "teacher_forced_correct") == Double(correct))
        #expect(Self.number(io, "decoder_positions") == Double(n))
        #expect(abs((Self.number(io, "mean_gold_probability") ?? -1) - sumP / Double(n)) <= 1e-12 * Double(n))
        #expect(Self.number(io, "greedy_length") == Double(greedy.ids.count))
        #expect(Self.number(io, "greedy_decoder_calls") == Double(greedy.forwardCalls - 1))
        let first = (0..<max(n, greedy.ids.count)).first { $0 >= n || $0 >= greedy.ids.count || greedy.ids[$0] != s.labels[$0] }
        #expect(Self.number(io, "first_difference") == first.map(Double.init))

        var par = SectionContent(answer: [])
        let parTime = try clock.measure { par = try TrainParallelSection().build(st) }
        print("  build times (this build): train-decoder-io \(ioTime), train-parallel \(parTime)")
        #expect(par.unavailable == nil, "\(par.unavailable ?? "")")
        #expect(Self.number(par, "parallel_decoder_calls") == 1 && Self.number(par, "parallel_encoder_calls") == 1)
        #expect(Self.number(par, "stepwise_decoder_calls") == Double(n) && Self.number(par, "stepwise_encoder_calls") == 1)
        #expect(Self.number(par, "greedy_decoder_calls") == Double(greedy.ids.count))
        // max |Δ| between the one pass and n cached steps, recomputed from this test's own runs.
        let encoded = try s.model.encode(ids: s.source)
        var cache = s.model.emptyCache()
        let (h, _) = try s.model.decode(ids: s.decoderInput, encoderOutput: encoded, encoderMask: nil, cache: &cache)
        let steps = try Self.steps(s.model, encoded, s.decoderInput)
        let worst = steps.enumerated().reduce(0.0) { acc, e in max(acc, zip(Self.row(h, e.offset), e.element.hidden).reduce(0.0) { max($0, Double(abs($1.0 - $1.1))) }) }
        let shown = try #require(Self.number(par, "max_abs_diff_hidden"))
        let tol = Self.tolerances(s.model, hiddenScale: Self.maxAbs(h.data), logitScale: 1).hidden
        print("  train-parallel: max|Δ| hidden section \(shown), recomputed \(worst), tol \(tol)")
        #expect(shown <= tol && worst <= tol)
        #expect(Self.number(par, "argmax_agree") == Double(n))
        #expect(Self.number(par, "greedy_forced_agree") == Double(greedy.ids.count))
        #expect(par.findings.contains { $0.text.contains("--no-timings") })
        #expect(!par.findings.contains { $0.values.contains { $0.name.hasSuffix("_ms") } })
    }

    /// With timings: a timeline figure, positive times, the steps' count n.
    @Test func timedRunHasTheTimeline() throws {
        let text = Self.sentences[0]
        let st = try Self.study(text, timings: true)
        let par = try TrainParallelSection().build(st)
        #expect(par.unavailable == nil, "\(par.unavailable ?? "")")
        let timeline = try #require(par.groups.flatMap(\.figures).first { $0.figure is Timeline }?.figure as? Timeline)
        let n = try Self.setup(text).decoderInput.count
        #expect(timeline.rows.count == 2 && timeline.rows[0].bars.count == 2 && timeline.rows[1].bars.count == n + 1)
        let ms = ["encoder_ms", "parallel_ms", "stepwise_ms"].map { Self.number(par, $0) ?? -1 }
        print("  timed: encoder \(ms[0]) ms, one pass \(ms[1]) ms, \(n) steps \(ms[2]) ms")
        #expect(ms.allSatisfy { $0 > 0 })
    }

    @Test func missingCompanionIsUnavailable() throws {
        let session = try AttentionChapterSectionTests.tiny("bert")
        let trace = try session.trace(text: "hi")
        var st = Study(inputName: "t", text: "hi", pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        st.runs = session.run(TrainParallelSection().experiments(st), base: trace, companion: Companion.open(directory: "/nonexistent/companion"))
        for section in [TrainDecoderIOSection(), TrainParallelSection()] as [any Section] {
            let c = try section.build(st)
            print("  \(section.id): \(c.unavailable ?? "")")
            #expect(c.unavailable != nil && !c.answer.isEmpty)
        }
    }
}
