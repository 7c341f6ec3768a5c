import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// train-parallel: training is one teacher-forced decoder pass over all n positions, inference n
/// dependent cached steps. The companion measured both ways (timeline; with --no-timings the
/// calls in order, untimed), their outputs on the same prefix, and greedy vs one pass over its output.
struct TrainParallelSection: Section {
    let id = "train-parallel"

    func experiments(_ s: Study) -> [Experiment] { [CompanionAnalysis.run(s), DecodingAnalysis.experiment(s)] }

    /// The two paths as timeline rows: `encoder` and `parallel` durations, then `steps` one after
    /// another (any unit). Bars: series 0 encoder, 1 the teacher-forced decoder call, 2 one step.
    static func rows(encoder: Double, parallel: Double, steps: [Double], notes: (String, String)) -> [Timeline.Row] {
        var bars = [Timeline.Bar(start: 0, duration: encoder, series: 0)]
        var at = encoder
        for d in steps { bars.append(Timeline.Bar(start: at, duration: d, series: 2)); at += d }
        return [Timeline.Row(name: "training (teacher forcing)", bars: [Timeline.Bar(start: 0, duration: encoder, series: 0),
                                                                        Timeline.Bar(start: encoder, duration: parallel, series: 1)], note: notes.0),
                Timeline.Row(name: "inference (cached steps)", bars: bars, note: notes.1)]
    }

    func build(_ s: Study) throws -> SectionContent {
        let main = s.trace.model
        let mainSentence: String
        switch main.architecture {
        case .encoder: mainSentence = "The main model of this report, \(main.name), is an encoder: it generates nothing, so in training and in use it computes the whole input in one pass; the comparison below needs a decoder and uses the companion encoder–decoder."
        case .decoder: mainSentence = "The main model of this report, \(main.name), is a decoder-only model: it trains in one pass per text the same way and generates in the same dependent steps, without an encoder call."
        case .encoderDecoder: mainSentence = "The main model of this report, \(main.name), is an encoder–decoder and works the same way."
        }
        var answer = [
            "Inside a Transformer layer the positions do not wait for each other: queries, keys, values, the attention products and the feed-forward network are matrix products over all rows at once. The encoder therefore processes its whole input in one call, in training and at inference. The decoder is parallel in training too: with teacher forcing its whole input (start token + gold target shifted right) is known in advance, and the causal mask keeps each position from seeing later ones, so one call scores all n positions.",
            "At inference the decoder's next input is the token it has just chosen, which does not exist before the previous step has run: generating n tokens takes n dependent decoder calls. The key/value cache keeps the earlier positions' keys and values, so each call computes only the newest position, but the calls cannot overlap. Given the same inputs, the n cached steps compute what the one teacher-forced pass computes, up to float rounding. \(mainSentence)",
        ]
        let companion = s.run(CompanionAnalysis.run(s))
        guard let t = companion.trace else { return SectionContent(answer: answer, unavailable: companion.reason ?? "the companion run is missing") }
        answer.append(CompanionAnalysis.describe(t, s))
        let (decoding, reason) = DecodingAnalysis.read(s.run(DecodingAnalysis.experiment(s)))
        guard let run = decoding else { return SectionContent(answer: answer, unavailable: reason) }
        let n = run.n, g = run.greedyIDs.count, calls = run.calls
        let name = DecodingAnalysis.namer(t, run)

        // The outputs of both paths on the same gold prefix.
        let hiddenDiff = DecodingAnalysis.rowMaxAbsDiff(run.parallelHidden, run.stepwiseHidden) ?? []
        let logitDiff = DecodingAnalysis.rowMaxAbsDiff(run.parallelLogits, run.stepwiseLogits) ?? []
        let scale = run.parallelHidden.data.reduce(0) { max($0, Double(abs($1))) }
        let argmaxAgree = (0..<n).filter { DecodingAnalysis.argmax(run.parallelLogits, row: $0) == DecodingAnalysis.argmax(run.stepwiseLogits, row: $0) }.count
        let greedyAgree = (0..<g).filter { DecodingAnalysis.argmax(run.greedyForcedLogits, row: $0) == run.greedyIDs[$0] }.count
        let greedyDiff = (DecodingAnalysis.rowMaxAbsDiff(run.greedyLogits, run.greedyForcedLogits) ?? []).max() ?? 0

        var figures: [FigureSpec] = []
        let series = ["encoder call (whole source)", "decoder call over all \(n) positions", "cached decoder step (1 position)"]
        var findings: [Finding] = [
            "Training computes all \("decoder_positions", n) decoder positions of the companion in \("parallel_decoder_calls", calls[1]) decoder call after \("parallel_encoder_calls", calls[0]) encoder call; step by step with the KV cache the same positions take \("stepwise_decoder_calls", calls[3]) dependent decoder calls after \("stepwise_encoder_calls", calls[2]) encoder call, and greedy generation took \("greedy_decoder_calls", calls[4]) (counted as the calls were made).",
            "On the same gold prefix the two paths agree: the \(n) cached steps' decoder outputs differ from the one pass's by at most \("max_abs_diff_hidden", hiddenDiff.max() ?? 0, "%.1e") (values up to \("hidden_scale", scale, "%.2f")), their logits by \("max_abs_diff_logits", logitDiff.max() ?? 0, "%.1e"), and the argmax is the same at \("argmax_agree", argmaxAgree) of \(n) positions.",
            "Fed its own greedy output as a teacher-forced input (start token + output shifted right), one decoder pass reproduces greedy's choice at \("greedy_forced_agree", greedyAgree) of \("greedy_length", g) positions (logits within \("greedy_forced_max_abs_diff", greedyDiff, "%.1e")).",
        ]
        let values: [(name: String, value: FindingValue)] = [("timed", .text(s.timings ? "yes" : "no"))]
        if s.timings, let enc = run.measured("encoder"), let par = run.measured("teacher-forced decoder"), let seq = run.measured("cached decoder steps"), !run.stepSeconds.isEmpty {
            let ms = 1000.0
            let timeline = Timeline(title: "One teacher-forced pass vs \(n) cached decoder steps, measured (\(t.model.name))",
                                    rows: Self.rows(encoder: enc.seconds * ms, parallel: par.seconds * ms, steps: run.stepSeconds.map { $0 * ms },
                                                    notes: ("\(calls[0]) + \(calls[1]) calls, \(DecodingAnalysis.ms(enc.seconds + par.seconds))",
                                                            "\(calls[2]) + \(calls[3]) calls, \(DecodingAnalysis.ms(enc.seconds + seq.seconds))")),
                                    series: series, xLabel: "wall time (ms)", yLabel: "path")
            figures.append(FigureSpec(file: Figures.file(id, "timeline"), figure: timeline,
                                      caption: "Each bar is one forward call on this machine (medians of 5 runs after a warm-up; the encoder's median is drawn in both rows, since both paths call it once). Top: one decoder call scores all \(n) positions (\(DecodingAnalysis.ms(par.seconds))). Bottom: the per-step times of the median stepwise run, one position per call, each waiting for the one before (\(DecodingAnalysis.ms(seq.seconds)) in total). Times vary with the machine's load.\(Self.buildNote)"))
            findings.append("Measured (median of 5): the encoder call took \("encoder_ms", enc.seconds * ms, "%.3f") ms; the teacher-forced decoder pass over \(n) positions \("parallel_ms", par.seconds * ms, "%.3f") ms; the \(calls[3]) cached steps \("stepwise_ms", seq.seconds * ms, "%.3f") ms in total (\("mean_step_ms", seq.seconds * ms / Double(max(n, 1)), "%.3f") ms per step), \("stepwise_over_parallel", seq.seconds / max(par.seconds, 1e-12), "%.1f")× the one pass. Timings on a shared machine vary from run to run; the call counts do not.")
        } else {
            let timeline = Timeline(title: "One teacher-forced pass vs \(n) cached decoder steps: forward calls in order (not timed)",
                                    rows: Self.rows(encoder: 1, parallel: 1, steps: Array(repeating: 1, count: calls[3]),
                                                    notes: ("\(calls[0] + calls[1]) calls", "\(calls[2] + calls[3]) calls")),
                                    series: series, xLabel: "forward calls, one after another (count, not time)", yLabel: "path")
            figures.append(FigureSpec(file: Figures.file(id, "calls"), figure: timeline,
                                      caption: "Timings were skipped (--no-timings): each bar is one forward call, drawn one unit long. Training needs \(calls[0] + calls[1]) calls for all \(n) decoder positions; inference needs \(calls[2] + calls[3]), one per position after the encoder, each waiting for the previous one."))
            findings.append("Timings were skipped (--no-timings); the call counts and the agreement of the outputs do not depend on the machine.")
        }
        if hiddenDiff.count == n, logitDiff.count == n {
            let xs = (0..<n).map(Double.init)
            var chart = LinePlot(title: "One pass vs cached steps on the same prefix: largest |Δ| per position",
                                 series: [LinePlot.Series(name: "decoder output (over d_model)", x: xs, y: hiddenDiff, markers: true),
                                          LinePlot.Series(name: "logits (over the vocabulary)", x: xs, y: logitDiff, dashed: true, markers: true)],
                                 xLabel: "decoder position", yLabel: "max |Δ|")
            chart.includeZero = true
            figures.append(FigureSpec(file: Figures.file(id, "agreement"), figure: chart,
                                      caption: "The same \(n) gold decoder inputs, once in one call and once as \(n) cached one-position calls: the outputs differ only by float rounding (largest \(String(format: "%.1e", hiddenDiff.max() ?? 0)) on decoder outputs up to \(String(format: "%.2f", scale)) in size; the matrix products sum in a different order), and the argmax agrees at \(argmaxAgree) of \(n) positions."))
        }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], findings: findings, values: values)
    }

    /// Said beside timings: a debug build inflates every call's fixed overhead.
    static var buildNote: String {
        #if DEBUG
        return " This attnviz is a debug build: unoptimised code inflates each call's fixed cost, so the ratio differs in a release build."
        #else
        return ""
        #endif
    }
}
