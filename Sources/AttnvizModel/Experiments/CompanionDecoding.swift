import AttnvizTensor
import AttnvizTrace
import Dispatch

extension Companion {
    /// `.companionDecoding(text:repeats:)`: the companion's decoder on the cut text two ways, and
    /// greedy decoding. Tensors of the `.measured` outcome (ids as Float):
    /// - "decoder_ids" [n]: start token + gold target shifted right (as `.companion` feeds it);
    ///   "label_ids" [n]: gold target + </s>;
    /// - "parallel_hidden" [n, d], "parallel_logits" [n, V]: one teacher-forced decoder call;
    /// - "stepwise_hidden", "stepwise_logits": n cached one-token calls fed the same decoder ids;
    /// - "greedy_ids" [g]: greedy decoding with the cache (ends with </s> when it came),
    ///   "greedy_logits" [g, V] its steps' logits, "greedy_forced_logits" [g, V] one teacher-forced
    ///   pass over start + greedy_ids minus the last;
    /// - "token_scalars" [V]: each vocabulary entry's Unicode scalar when it is one character, else −1;
    /// - "calls" [5]: encoder and decoder calls of the parallel path, of the stepwise path, and the
    ///   decoder calls of greedy decoding, counted as they are made;
    /// - with `repeats` > 0, "step_seconds" [n]: each cached step's wall time in the stepwise run
    ///   whose total is the median, and Measurements "encoder", "teacher-forced decoder" and
    ///   "cached decoder steps" (medians of `repeats` after a warm-up; `calls` as counted).
    func decoding(text: String, repeats: Int) throws(ModelError) -> ExperimentOutcome {
        guard case let .session(s) = self else { return .unavailable(reason) }
        guard case let .marian(marian) = s.model, case let .task(tokenizer)? = s.tokenizer else {
            if case .gpt2 = s.model {
                return .unavailable("the companion \(s.directory) is a decoder-only GPT-2; attnviz runs this teacher-forcing vs cached-decoding comparison only on an encoder–decoder companion it trained (the default, models/reverse-words), not yet on a decoder-only one")
            }
            return .unavailable(reason)
        }
        let vocabulary = tokenizer.vocabulary
        let e = tokenizer.example(text)
        guard !e.source.isEmpty else { return .unavailable("the text has no characters for the companion to read") }
        let sourceIDs = e.source, labels = e.labels, decoderIDs = e.decoder
        let n = decoderIDs.count, d = marian.config.dModel, vocab = marian.config.vocabSize
        var calls = [Float](repeating: 0, count: 5)

        // Parallel (training): one encoder call, one decoder call over all n positions.
        let encoded = try marian.encode(ids: sourceIDs); calls[0] += 1
        var fresh = marian.emptyCache()
        let (parallelHidden, parallelLogits) = try marian.decode(ids: decoderIDs, encoderOutput: encoded, encoderMask: nil, cache: &fresh)
        calls[1] += 1
        // Step by step (inference): the encoder once, then one cached decoder call per position.
        func steps() throws(ModelError) -> (hidden: [Float], logits: [Float], seconds: [Double]) {
            var cache = marian.emptyCache()
            var hidden: [Float] = [], logits: [Float] = [], seconds: [Double] = []
            for id in decoderIDs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let (h, l) = try marian.decode(ids: [id], encoderOutput: encoded, encoderMask: nil, cache: &cache)
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                hidden += h.data; logits += l.data
            }
            return (hidden, logits, seconds)
        }
        let stepwise = try steps()
        calls[2] += 1; calls[3] += Float(n)
        // Greedy: the decoder's own previous output as the next input.
        var cache = marian.emptyCache()
        var next = CharVocabulary.pad, greedy: [Int] = [], greedyLogits: [Float] = []
        for _ in 0..<marian.config.maxPositionEmbeddings {
            let (_, l) = try marian.decode(ids: [next], encoderOutput: encoded, encoderMask: nil, cache: &cache)
            calls[4] += 1
            var best = 0
            for j in 0..<l.count where l.data[j] > l.data[best] { best = j }
            greedy.append(best); greedyLogits += l.data
            if best == CharVocabulary.eos { break }
            next = best
        }
        var forcedCache = marian.emptyCache()
        let (_, greedyForced) = try marian.decode(ids: [CharVocabulary.pad] + greedy.dropLast(), encoderOutput: encoded, encoderMask: nil, cache: &forcedCache)

        func ids(_ x: [Int]) -> Tensor { Tensor(uncheckedShape: [x.count], data: x.map(Float.init)) }
        let g = greedy.count
        var tensors: [String: Tensor] = [
            "decoder_ids": ids(decoderIDs), "label_ids": ids(labels),
            "parallel_hidden": parallelHidden, "parallel_logits": parallelLogits,
            "stepwise_hidden": Tensor(uncheckedShape: [n, d], data: stepwise.hidden),
            "stepwise_logits": Tensor(uncheckedShape: [n, vocab], data: stepwise.logits),
            "greedy_ids": ids(greedy), "greedy_logits": Tensor(uncheckedShape: [g, vocab], data: greedyLogits),
            "greedy_forced_logits": greedyForced, "calls": Tensor(uncheckedShape: [calls.count], data: calls),
            "token_scalars": Tensor(uncheckedShape: [vocabulary.count], data: vocabulary.tokens.map { t in
                t.unicodeScalars.count == 1 ? Float(t.unicodeScalars.first?.value ?? 0) : -1 }),
        ]
        guard repeats > 0 else { return .measured([], tensors: tensors) }

        let encoder = try Session.medianTime(repeats: repeats) { () throws(ModelError) in _ = try marian.encode(ids: sourceIDs) }
        let parallel = try Session.medianTime(repeats: repeats) { () throws(ModelError) in
            var c = marian.emptyCache()
            _ = try marian.decode(ids: decoderIDs, encoderOutput: encoded, encoderMask: nil, cache: &c)
        }
        _ = try steps()  // warm-up
        var runs: [(total: Double, seconds: [Double])] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = try steps()
            runs.append((Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, r.seconds))
        }
        runs.sort { $0.total < $1.total }
        let median = runs[runs.count / 2]
        tensors["step_seconds"] = Tensor(uncheckedShape: [n], data: median.seconds.map(Float.init))
        return .measured([Measurement(label: "encoder", n: sourceIDs.count, seconds: encoder, calls: Int(calls[0])),
                          Measurement(label: "teacher-forced decoder", n: n, seconds: parallel, calls: Int(calls[1])),
                          Measurement(label: "cached decoder steps", n: n, seconds: median.total, calls: Int(calls[3]))], tensors: tensors)
    }
}
