import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// train-decoder-io: what the companion decoder reads and predicts in training (teacher forcing:
/// start token + gold target shifted right in, gold target + </s> as labels) and at inference
/// (its own previous outputs), from the teacher-forced trace and a greedy run with the KV cache.
struct TrainDecoderIOSection: Section {
    let id = "train-decoder-io"

    func experiments(_ s: Study) -> [Experiment] { [CompanionAnalysis.run(s), DecodingAnalysis.experiment(s)] }

    /// The first position where `a` and `b` differ (a length difference counts), nil when equal.
    static func firstDifference(_ a: [Int], _ b: [Int]) -> Int? {
        for i in 0..<max(a.count, b.count) where i >= a.count || i >= b.count || a[i] != b[i] { return i }
        return nil
    }

    func build(_ s: Study) throws -> SectionContent {
        let main = s.trace.model
        let mainSentence: String
        switch main.architecture {
        case .encoder: mainSentence = "The main model of this report, \(main.name), is an encoder (BERT-style): it has no decoder and generates nothing; in pre-training its labels are the masked-out tokens, predicted all at once. What follows is the companion encoder–decoder's decoder."
        case .decoder: mainSentence = "The main model of this report, \(main.name), is a decoder-only model: there the input is the text itself and the labels are the same tokens shifted left by one (no encoder, no cross-attention, usually no separate start token); generation feeds its own outputs back exactly as below."
        case .encoderDecoder: mainSentence = "The main model of this report, \(main.name), is an encoder–decoder and is trained the same way."
        }
        var answer = [
            "In training, an encoder–decoder's decoder reads the gold target shifted right by one position: a start token, then the gold tokens except the last. Its labels are the gold target followed by the end token </s>, so the output at position i is scored against gold token i while the input there is gold token i − 1 and, through the causal mask, it sees only the start token and gold tokens 0…i − 1. This is teacher forcing: every position is fed the correct history, whatever the model would have predicted, and with the causal mask all positions are scored in one pass.",
            "At inference there is no gold target. The decoder starts from the start token alone, picks a token (greedy: the most probable), appends it to its input and runs again, until it emits </s> or runs out of positions. From its first wrong token on it reads a history unlike the gold ones it was trained on (exposure bias); scheduled sampling (Bengio et al. 2015) narrows the gap by sometimes feeding the model's own predictions during training. \(mainSentence)",
        ]
        let companion = s.run(CompanionAnalysis.run(s))
        guard let t = companion.trace, let logits = t.logits, !t.decoderTokens.isEmpty else {
            return SectionContent(answer: answer, unavailable: companion.reason ?? "the companion run has no decoder side")
        }
        answer.append(CompanionAnalysis.describe(t, s))
        let (decoding, reason) = DecodingAnalysis.read(s.run(DecodingAnalysis.experiment(s)))
        let n = t.decoderTokens.count
        guard let run = decoding, run.decoderIDs == t.decoderTokens.map(\.id), logits.shape == [n, logits.shape.last ?? 0] else {
            return SectionContent(answer: answer, unavailable: decoding == nil ? reason : "the decoding run's decoder input differs from the teacher-forced trace's")
        }
        let name = DecodingAnalysis.namer(t, run)
        let labels = run.labelIDs
        let predicted = (0..<n).map { DecodingAnalysis.argmax(logits, row: $0) ?? -1 }
        let gold = (0..<n).map { DecodingAnalysis.probability(logits, row: $0, of: labels[$0]) ?? 0 }
        let correct = zip(predicted, labels).filter { $0 == $1 }.count
        let greedy = run.greedyIDs, g = greedy.count
        let greedyInputs = [t.decoderTokens[0].id] + greedy.dropLast()
        let difference = Self.firstDifference(greedy, labels)
        func text(_ ids: [Int]) -> String {
            ids.filter { $0 != labels.last }.map { name($0) == "␣" ? " " : (name($0) == "<unk>" ? "\u{FFFD}" : name($0)) }.joined()
        }
        let goldText = text(labels), greedyText = text(greedy)

        let smoothing = CompanionAnalysis.config(t.model)
        let worst = gold.indices.min { gold[$0] < gold[$1] } ?? 0
        let chart = BarChart(title: "Teacher forcing: probability of the gold label at each decoder position",
                             categories: (0..<n).map { "\($0) \(name(labels[$0]))" },
                             series: [(name: "p(gold label)", values: gold)], xLabel: "decoder position and its gold label", yLabel: "softmax probability")
        let wrong = (0..<n).filter { predicted[$0] != labels[$0] }
        let wrongText = wrong.isEmpty ? "The argmax is the gold label at every position." : "The argmax misses the gold label at position" + (wrong.count == 1 ? " " : "s ") + wrong.prefix(8).map(String.init).joined(separator: ", ") + (wrong.count > 8 ? ", …" : "") + "."
        let figures = [FigureSpec(file: Figures.file(id, "gold-probability"), figure: chart,
                                  caption: "From the teacher-forced trace's logits (one decoder pass over the \(n) shifted-right gold inputs): softmax probability of the gold label per position. \(wrongText) Lowest: \(String(format: "%.3f", gold[worst])) at position \(worst) (“\(name(labels[worst]))”). The companion was trained with label smoothing ε = \(Chrome.format(smoothing.labelSmoothing)), whose target for the gold label is \(String(format: "%.3f", 1 - smoothing.labelSmoothing + smoothing.labelSmoothing / Double(max(smoothing.vocab, 1)))), not 1.")]
        var rows: [[String]] = []
        for i in 0..<max(n, g) {
            let tf = i < n ? [name(t.decoderTokens[i].id), name(labels[i]), name(predicted[i]) + (predicted[i] == labels[i] ? "" : " ✗"), String(format: "%.3f", gold[i])] : ["", "", "", ""]
            let inf = i < g ? [name(greedyInputs[i]), name(greedy[i]) + (i < n && greedy[i] == labels[i] ? "" : " ✗")] : ["", ""]
            rows.append(["\(i)"] + tf + inf)
        }
        let table = TableSpec(caption: "Training vs inference, position by position (␣ = space; ✗ = not the gold label; the start token shows as <pad>: Marian models start decoding with the pad id). Training: the decoder input is the start token + gold target shifted right, the label the gold target + </s>, the prediction the argmax of the teacher-forced logits. Inference: greedy decoding with the KV cache reads its own previous outputs.",
                              header: ["position", "training: decoder input", "label (gold)", "teacher-forced argmax", "p(gold)", "inference: decoder input", "greedy output"], rows: rows)
        var findings: [Finding] = [
            "Teacher-forced, the companion's argmax equals the gold label at \("teacher_forced_correct", correct) of \("decoder_positions", n) decoder positions (\(percent: "teacher_forced_accuracy", Double(correct) / Double(max(n, 1)))); the mean probability of the gold label is \("mean_gold_probability", gold.reduce(0, +) / Double(max(n, 1)), "%.3f"), the lowest \("min_gold_probability", gold[worst], "%.3f") at position \(worst).",
        ]
        if let i = difference {
            findings.append("Greedy decoding with the KV cache (\("greedy_decoder_calls", run.calls[4]) decoder calls, \("greedy_length", g) tokens, </s> included) produced “\("greedy_output", text: greedyText)” for the gold “\(goldText)”: it first differs at position \("first_difference", i); from there on its decoder input is its own output, not the gold history it was trained on.")
        } else {
            findings.append("Greedy decoding with the KV cache (\("greedy_decoder_calls", run.calls[4]) decoder calls, \("greedy_length", g) tokens, </s> included) reproduced the gold target “\("greedy_output", text: greedyText)” exactly, so at inference it read the same inputs teacher forcing gave it.")
        }
        // Greedy's input equals the gold one up to and including the first differing output's position.
        let fed = min((difference ?? g - 1) + 1, n, g)
        let history = difference == nil ? "its output matched the gold target throughout" : "up to and including its first difference"
        findings.append("At the \("positions_with_gold_inputs", fed) position\(fed == 1 ? "" : "s") where greedy decoding read the gold history (\(history)), its output equals the teacher-forced argmax at \("greedy_equals_teacher_forced", (0..<fed).filter { greedy[$0] == predicted[$0] }.count): the same inputs give the same prediction, one step at a time or all at once.")
        let unknown = labels.filter { name($0) == "<unk>" }.count
        if unknown > 0 {
            findings.append("\("unknown_labels", unknown) of the \(n) gold labels are <unk> (shown as \u{FFFD}): the companion reads only printable ASCII, so it cannot tell these characters apart, and its accuracy and generated output here do not show the task it learned.")
        }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], tables: [table], findings: findings,
                              values: [("greedy_exact_match", .text(difference == nil ? "yes" : "no"))])
    }
}
