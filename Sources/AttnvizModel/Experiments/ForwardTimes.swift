import AttnvizTensor
import AttnvizTrace

extension Session {
    /// `.forwardTimes(lengths:repeats:)`: the forward pass at several lengths (the sentence's ids
    /// repeated to fill each), timed without recording; the bytes are what a recorded run of that
    /// length keeps (every tensor of its trace), and `calls` is 1. The recorded run goes first and
    /// doubles as the warm-up.
    func forwardTimes(lengths: [Int], repeats: Int, base: Trace) throws(ModelError) -> ExperimentOutcome {
        let ids = base.tokens.map(\.id)
        guard !ids.isEmpty else { return .unavailable("the run has no tokens") }
        var out: [Measurement] = []
        for n in lengths where n > 0 && n <= model.info.maxPositions {
            let run = (0..<n).map { ids[$0 % ids.count] }  // [n]
            let tokens = run.map { Token(text: "", id: $0, range: nil, isSpecial: false) }
            // Long runs drop each layer's tensors as they arrive and count them (a full 512-token
            // trace is ≈ 270 MB, held while every other experiment's outcome is).
            var dropped = 0
            let recorded = try traceChanged(tokens, options: .none, keep: [], droppedFloats: { dropped = $0 })
            let seconds: Double
            switch model {
            case let .bert(bert):
                let types = [Int](repeating: 0, count: n)
                seconds = try Self.medianTime(repeats: repeats, warm: true) { () throws(ModelError) in _ = try bert.forward(ids: run, typeIds: types) }
            case let .gpt2(gpt):
                seconds = try Self.medianTime(repeats: repeats, warm: true) { () throws(ModelError) in _ = try gpt.forward(ids: run) }
            case .marian:
                return .unavailable("attnviz times single-stack models (BERT, GPT-2) only")
            }
            out.append(Measurement(label: "forward", n: n, seconds: seconds, bytes: recorded.map { Self.bytes($0) + dropped * MemoryLayout<Float>.size } ?? 0))
        }
        return .measured(out, tensors: [:])
    }

    /// Bytes held by a trace's tensors.
    static func bytes(_ t: Trace) -> Int {
        var floats = t.lastHidden.count + (t.logits?.count ?? 0)
        if let e = t.embeddings { floats += e.word.count + e.position.count + (e.tokenType?.count ?? 0) + e.sum.count + e.output.count }
        for l in t.layers {
            floats += l.ffnPre.count + l.ffnAct.count + l.output.count
            for a in l.attention { floats += a.scores.count + a.weights.count + a.q.count + a.k.count + a.v.count + a.context.count + a.output.count }
            for s in l.sublayers { floats += s.residualIn.count + s.output.count + s.residualOut.count + s.normInput.count + s.normOutput.count }
        }
        return floats * MemoryLayout<Float>.size
    }
}
