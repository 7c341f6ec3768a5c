import AttnvizTensor
import AttnvizTrace
import Dispatch
import Foundation

/// Runs the experiments report sections ask for. Each distinct experiment runs once: the traced
/// ones concurrently (one per core), then the timed ones one at a time, so that nothing else
/// competes with them for the cores. A run that fails or does not apply to this model answers
/// `.unavailable` with the reason; it never stops the others.
extension Session {
    /// `drawnLayer`: the layer whose heads the sections draw (`Study.layers.first`); long runs keep
    /// that layer's scores or weights where a section reads only it.
    public func run(_ experiments: [Experiment], base: Trace, companion: Companion = .unavailable("no companion encoder–decoder was given"),
                    drawnLayer: Int = 0) -> [Experiment: ExperimentOutcome] {
        var unique: [Experiment] = []
        for e in experiments where !unique.contains(e) { unique.append(e) }
        let traced = unique.filter { !$0.isTiming }, timed = unique.filter(\.isTiming)
        var outcomes = [ExperimentOutcome?](repeating: nil, count: traced.count)
        let lock = NSLock()
        Parallel.each(traced.count) { i in
            let outcome = self.outcome(traced[i], base: base, companion: companion, drawnLayer: drawnLayer)
            lock.lock(); outcomes[i] = outcome; lock.unlock()
        }
        var result: [Experiment: ExperimentOutcome] = [:]
        for (e, o) in zip(traced, outcomes) { result[e] = o ?? .unavailable("the run did not finish") }
        for e in timed { result[e] = outcome(e, base: base, companion: companion) }
        return result
    }

    /// One experiment's outcome; errors become the reason it is unavailable.
    func outcome(_ e: Experiment, base: Trace, companion: Companion = .unavailable("no companion encoder–decoder was given"),
                 drawnLayer: Int = 0) -> ExperimentOutcome {
        do {
            switch e {
            case let .padded(extra): return try padded(extra: extra, base: base)
            case let .reordered(permutation, positions): return try reordered(permutation, positions: positions, base: base, drawnLayer: drawnLayer)
            case let .tiedQueryKey(layer): return try tiedQueryKey(layer: layer, base: base)
            case let .restricted(pattern): return try restricted(pattern, base: base, drawnLayer: drawnLayer)
            case let .masked(position): return try masked(position: position, base: base)
            case let .otherText(text, pair): return try otherText(text, pair: pair)
            case let .forwardTimes(lengths, repeats): return try forwardTimes(lengths: lengths, repeats: repeats, base: base)
            case let .stepwise(repeats): return try stepwise(repeats: repeats, base: base)
            case let .scoring(layer, head, repeats): return try scoring(layer: layer, head: head, repeats: repeats, base: base)
            case .positionTable: return positionTable()
            case let .ablated(residual, layerNorm): return try ablated(residual: residual, layerNorm: layerNorm, base: base)
            case let .dropout(seed): return try dropout(seed: seed, base: base, drawnLayer: drawnLayer)
            case .repeatRun:  // train-dropout: weights and outputs
                let o = try changedOutcome(base.tokens, options: .none, keep: .weights)
                guard let t = o.trace else { return o }
                return .trace(Self.sharingEqualTensors(t, with: base))
            case let .substituted(position, id): return try substituted(position: position, id: id, base: base)
            case let .companion(text, changeLast): return try companion.run(text: text, changeLast: changeLast)
            case .companionTrainingLog: return try companion.trainingLog()
            case let .companionDecoding(text, repeats): return try companion.decoding(text: text, repeats: repeats)
            }
        } catch {
            return .unavailable("the run failed: \(error.description)")
        }
    }

    /// One forward pass of `tokens` changed by `options`, recorded, for the single-stack models.
    /// Encoder–decoder models: the encoder side alone, unchanged runs only (other texts, a substituted
    /// token, a repeat); nil for the changed forwards.
    func traceChanged(_ tokens: [Token], options: ForwardOptions, keyMask: [Bool]? = nil, dropped: Int = 0,
                      keep: TraceParts = .all, fullLayers: Set<Int> = [], layerParts: [Int: TraceParts] = [:],
                      droppedFloats: ((Int) -> Void)? = nil) throws(ModelError) -> Trace? {
        var info = model.info
        info.sha256 = sha256
        // Long runs keep only what the sections that ask for the experiment read (each experiment
        // says what); short ones keep everything.
        let slim = tokens.count > Self.slimAbove
        let recorder = Recorder(keep: slim ? keep : .all, fullLayers: fullLayers, layerParts: layerParts)
        defer { droppedFloats?(recorder.droppedFloats) }
        switch model {
        case let .bert(bert):
            let last = try bert.forward(ids: tokens.map(\.id), typeIds: tokens.map(\.typeId), keyMask: keyMask, options: options, recorder: recorder)
            return Trace(model: info, tokens: tokens, truncatedTokens: dropped, embeddings: recorder.embeddings, layers: recorder.layers, lastHidden: last)
        case let .gpt2(gpt):
            guard keyMask == nil else { return nil }
            let (hidden, logits) = try gpt.forward(ids: tokens.map(\.id), options: options, recorder: recorder)
            return Trace(model: info, tokens: tokens, truncatedTokens: dropped, embeddings: recorder.embeddings, layers: recorder.layers,
                         lastHidden: hidden, logits: logits)
        case let .marian(marian):
            // The encoder side only, and only unchanged: the options are applied in the single-stack forwards.
            guard keyMask == nil, options.positions, options.tiedQueryKeyLayer == nil, options.pattern == nil, options.residual,
                  options.layerNorm, options.dropout == nil else { return nil }
            let out = try marian.encode(ids: tokens.map(\.id), recorder: recorder)
            return Trace(model: info, tokens: tokens, truncatedTokens: dropped, embeddings: recorder.embeddings, layers: recorder.layers, lastHidden: out)
        }
    }

    /// traceChanged, or the standard reason it is not available.
    func changedOutcome(_ tokens: [Token], options: ForwardOptions, keep: TraceParts = .all, fullLayers: Set<Int> = [],
                        layerParts: [Int: TraceParts] = [:]) throws(ModelError) -> ExperimentOutcome {
        guard let t = try traceChanged(tokens, options: options, keep: keep, fullLayers: fullLayers, layerParts: layerParts) else {
            return .unavailable("attnviz runs this changed forward pass on single-stack models (BERT, GPT-2), not on this \(model.info.modelType) encoder–decoder")
        }
        return .trace(t)
    }

    /// `run` with every recorded tensor that is bit for bit equal to the same tensor of `base`
    /// replaced by base's (the arrays share storage): a repeat of the main run then holds no second
    /// copy of its attention weights (80 MB at 512 tokens). Equal values, so every comparison reads
    /// the same numbers.
    static func sharingEqualTensors(_ run: Trace, with base: Trace) -> Trace {
        guard run.tokens == base.tokens else { return run }
        var run = run
        func share(_ t: inout Tensor, _ b: Tensor) { if t.shape == b.shape && t.data == b.data { t = b } }
        for l in run.layers.indices where l < base.layers.count {
            for a in run.layers[l].attention.indices where a < base.layers[l].attention.count {
                let b = base.layers[l].attention[a]
                share(&run.layers[l].attention[a].scores, b.scores); share(&run.layers[l].attention[a].weights, b.weights)
            }
            share(&run.layers[l].output, base.layers[l].output)
        }
        share(&run.lastHidden, base.lastHidden)
        return run
    }

    /// Experiment runs longer than this many tokens record only what their sections read
    /// (`TraceParts`): at 512 tokens a full trace is ≈ 270 MB and a report asks for a dozen runs.
    public static let slimAbove = 128

    /// Median wall time of `body` over `repeats` runs (after one warm-up run unless `warm`), seconds.
    static func medianTime(repeats: Int, warm: Bool = false, _ body: () throws(ModelError) -> Void) throws(ModelError) -> Double {
        if !warm { try body() }
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.sort()
        return times[times.count / 2]
    }
}
