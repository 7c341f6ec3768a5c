import AttnvizTensor

/// An extra run of the loaded model that a report section asks for, as a plain value. Sections
/// list the experiments they need; the CLI hands the distinct ones to the model layer, which runs
/// each once and answers with an `ExperimentOutcome`. Neither side sees the other's internals:
/// adding an experiment is one case here plus its implementation in the model layer.
public enum Experiment: Hashable, Sendable {
    /// The sentence right-padded with `extra` pad tokens under a padding mask, as inside a batch
    /// with a longer sentence. The trace's tokens include the pads.
    case padded(extra: Int)
    /// The main run's tokens in the order `permutation` (new position i holds old token
    /// permutation[i]); with `positions: false` the position embeddings are left out (zero).
    case reordered(permutation: [Int], positions: Bool)
    /// Layer `layer` computes its keys with W_Q and the query bias (k = q); every other weight as trained.
    case tiedQueryKey(layer: Int)
    /// Every layer's self-attention restricted to the keys `pattern` allows.
    case restricted(KeyPattern)
    /// The token at `position` replaced by the tokenizer's mask token ([MASK]).
    case masked(position: Int)
    /// Another text through the same model and tokenizer (nil pair: one segment).
    case otherText(String, pair: String?)
    /// Wall time (median of `repeats`) and the bytes held by the attention buffers of a forward
    /// pass at each length (repeating the sentence's ids to fill the length).
    case forwardTimes(lengths: [Int], repeats: Int)
    /// The sentence in one parallel pass vs n dependent one-token steps (each token through every
    /// layer, attending to the cached keys of the tokens before it).
    case stepwise(repeats: Int)
    /// The model's whole learned position table (not only the rows a run used), as the tensor
    /// "position" [positions, d] of a `.measured` outcome; unavailable for computed positions.
    case positionTable
    /// Dot-product vs additive scoring of one head's recorded q and k, timed; additive parameters
    /// are random (seeded), not trained.
    case scoring(layer: Int, head: Int, repeats: Int)
    /// The blocks with their residual adds (`residual: false`: post-LN LN(f(x)), pre-LN f(LN(x)))
    /// and/or their LayerNorms (`layerNorm: false`: x + f(x) unnormalised) taken out; the
    /// embeddings as trained.
    case ablated(residual: Bool, layerNorm: Bool)
    /// The same forward with training-time dropout (the model's own probabilities from
    /// config.json, masks seeded by `seed`, inverted scaling 1/(1 − p)). Recorded attention
    /// weights are after dropout (what multiplies V), scores before it.
    case dropout(seed: UInt64)
    /// The main run's tokens run again, unchanged (eval mode is deterministic: bit-identical).
    case repeatRun
    /// The token at `position` replaced by vocabulary id `id`.
    case substituted(position: Int, id: Int)
    /// The companion encoder–decoder (`render --decoder-model`, default the shipped
    /// models/reverse-words) on `text` normalised and cut at a word boundary to its
    /// `attnviz.max_characters`, teacher-forced (decoder input = start token + gold target shifted
    /// right). `changeLast`: the last decoder input token replaced by another character. The trace's
    /// `truncatedTokens` counts the characters cut off.
    case companion(text: String, changeLast: Bool)
    /// The companion's training log (training_log.jsonl) as `.measured` tensors "step", "lr", "loss".
    case companionTrainingLog
    /// The companion on the same cut text as `.companion`, decoded two ways: one teacher-forced
    /// decoder pass over all n decoder inputs vs n cached one-token steps fed the same gold inputs,
    /// plus greedy decoding with the cache. `.measured` with the outputs and call counts as tensors;
    /// `repeats` > 0 also times both paths (median of `repeats`), 0 runs untimed.
    case companionDecoding(text: String, repeats: Int)

    /// Experiments that measure time: they run one at a time, after the others, so that nothing
    /// else competes for the cores while they are timed.
    public var isTiming: Bool {
        switch self {
        case .forwardTimes, .stepwise, .scoring: return true
        case let .companionDecoding(_, repeats): return repeats > 0
        default: return false
        }
    }
}

extension Experiment {
    /// Characters a decoder-only (GPT-2) companion reads: the text is cut at a word boundary to this
    /// many (and further when its BPE tokens would exceed the model's positions).
    public static let decoderOnlyCompanionCharacters = 48
}

/// Which keys a query may attend to, beyond the model's own mask.
public enum KeyPattern: Hashable, Sendable {
    /// Keys within `window` positions of the query: |i − j| ≤ window.
    case local(window: Int)
    /// Keys a multiple of `stride` positions away: (i − j) mod stride = 0 (the query itself included).
    case strided(stride: Int)

    public func allows(query i: Int, key j: Int) -> Bool {
        switch self {
        case let .local(w): return abs(i - j) <= w
        case let .strided(s): return s > 0 && abs(i - j) % s == 0
        }
    }

    public var name: String {
        switch self {
        case let .local(w): return "local window ±\(w)"
        case let .strided(s): return "strided, every \(s)th"
        }
    }
}

/// A timed measurement of an experiment.
public struct Measurement: Sendable, Equatable {
    public var label: String
    /// Tokens processed.
    public var n: Int
    /// Median wall time, seconds.
    public var seconds: Double
    /// Bytes the measured computation held (e.g. scores and weights of every layer), 0 when not counted.
    public var bytes: Int
    /// Forward calls made.
    public var calls: Int

    public init(label: String, n: Int, seconds: Double, bytes: Int = 0, calls: Int = 1) {
        self.label = label
        self.n = n
        self.seconds = seconds
        self.bytes = bytes
        self.calls = calls
    }
}

/// What the model layer answers for one experiment.
public enum ExperimentOutcome: Sendable {
    case trace(Trace)
    /// Timings, with any tensors computed on the way (e.g. the additive score map).
    case measured([Measurement], tensors: [String: Tensor])
    /// The experiment cannot run on this model: why, in a sentence.
    case unavailable(String)

    public var trace: Trace? {
        if case let .trace(t) = self { return t }
        return nil
    }

    public var reason: String? {
        if case let .unavailable(r) = self { return r }
        return nil
    }
}
