import AttnvizTensor

/// Everything one forward pass recorded, as plain values. Analyses, figures and the report read
/// this and nothing of the model.
public struct Trace: Sendable {
    public var model: ModelInfo
    public var tokens: [Token]
    /// Tokens dropped because the input was longer than the model's positions.
    public var truncatedTokens: Int
    public var embeddings: EmbeddingRecord?
    public var layers: [LayerRecord]
    /// Final hidden states of the last stack (BERT: encoder output; GPT-2: after ln_f;
    /// Marian: decoder output). [n, d]
    public var lastHidden: Tensor
    /// Decoder-side tokens of an encoder–decoder model (empty otherwise).
    public var decoderTokens: [Token]
    /// The decoder side's embeddings (encoder–decoder models).
    public var decoderEmbeddings: EmbeddingRecord?
    /// Next-token scores of a model with an output head. [n_decoder, vocab]
    public var logits: Tensor?
    /// Runs of a task with a known alignment (the companion): for each decoder position i, the
    /// source token that label i (what position i must predict) copies; nil where it copies none
    /// (the final </s>). Empty when not known.
    public var decoderAlignment: [Int?] = []

    public init(model: ModelInfo, tokens: [Token], truncatedTokens: Int, embeddings: EmbeddingRecord?,
                layers: [LayerRecord], lastHidden: Tensor, decoderTokens: [Token] = [], decoderEmbeddings: EmbeddingRecord? = nil,
                logits: Tensor? = nil) {
        self.model = model
        self.tokens = tokens
        self.truncatedTokens = truncatedTokens
        self.embeddings = embeddings
        self.layers = layers
        self.lastHidden = lastHidden
        self.decoderTokens = decoderTokens
        self.decoderEmbeddings = decoderEmbeddings
        self.logits = logits
    }

    /// Layers of one stack, in order.
    public func layers(of stack: Stack) -> [LayerRecord] { layers.filter { $0.stack == stack } }
}

/// One token of the input as the model saw it.
public struct Token: Sendable, Equatable {
    public var text: String
    public var id: Int
    public var typeId: Int
    /// Unicode code-point range in the input text; nil for tokens the tokenizer added ([CLS]).
    public var range: Range<Int>?
    public var isSpecial: Bool

    public init(text: String, id: Int, typeId: Int = 0, range: Range<Int>?, isSpecial: Bool) {
        self.text = text
        self.id = id
        self.typeId = typeId
        self.range = range
        self.isSpecial = isSpecial
    }
}

/// Facts about the loaded model, for headers, block diagrams and parameter tables.
public struct ModelInfo: Sendable {
    public var name: String
    public var directory: String
    public var modelType: String
    public var architecture: Architecture
    public var sha256: String?
    public var layers: Int
    public var decoderLayers: Int
    public var heads: Int
    public var decoderHeads: Int
    public var dModel: Int
    public var dFF: Int
    public var vocabSize: Int
    public var maxPositions: Int
    public var typeVocabSize: Int
    public var activation: String
    public var layerNormEps: Double
    public var positions: PositionKind
    public var normPlacement: NormPlacement
    /// Parameter count per component name, summing to the checkpoint's weights.
    public var parameterCounts: [(component: String, count: Int)]
    /// config.json as read, for trace.json.
    public var configJSON: String

    public init(name: String, directory: String, modelType: String, architecture: Architecture, sha256: String?,
                layers: Int, decoderLayers: Int, heads: Int, decoderHeads: Int? = nil, dModel: Int, dFF: Int, vocabSize: Int,
                maxPositions: Int, typeVocabSize: Int, activation: String, layerNormEps: Double,
                positions: PositionKind, normPlacement: NormPlacement,
                parameterCounts: [(component: String, count: Int)], configJSON: String) {
        self.name = name
        self.directory = directory
        self.modelType = modelType
        self.architecture = architecture
        self.sha256 = sha256
        self.layers = layers
        self.decoderLayers = decoderLayers
        self.heads = heads
        self.decoderHeads = decoderHeads ?? heads
        self.dModel = dModel
        self.dFF = dFF
        self.vocabSize = vocabSize
        self.maxPositions = maxPositions
        self.typeVocabSize = typeVocabSize
        self.activation = activation
        self.layerNormEps = layerNormEps
        self.positions = positions
        self.normPlacement = normPlacement
        self.parameterCounts = parameterCounts
        self.configJSON = configJSON
    }

    public var headDim: Int { dModel / max(heads, 1) }
    public var totalParameters: Int { parameterCounts.reduce(0) { $0 + $1.count } }
}

public enum Architecture: String, Sendable { case encoder, decoder, encoderDecoder = "encoder-decoder" }
public enum PositionKind: String, Sendable { case learned, sinusoidal }
public enum NormPlacement: String, Sendable { case post = "post-LN", pre = "pre-LN" }
public enum Stack: String, Sendable { case encoder, decoder }

/// What kind of attention a record holds.
public enum AttentionKind: String, Sendable {
    case encoderSelf = "encoder-self"
    case decoderSelf = "decoder-self (causal)"
    case cross
}

/// The parts of the input embedding. All [n, d].
public struct EmbeddingRecord: Sendable {
    /// Token embedding rows as stored (before any √d_model scaling).
    public var word: Tensor
    /// The factor the token embeddings are multiplied by (√d_model in the original Transformer, else 1).
    public var wordScale: Float = 1
    public var position: Tensor
    public var tokenType: Tensor?
    public var sum: Tensor
    /// After the embedding LayerNorm (BERT) — the first hidden state. [n, d]
    public var output: Tensor

    public init(word: Tensor, position: Tensor, tokenType: Tensor?, sum: Tensor, output: Tensor) {
        self.word = word
        self.position = position
        self.tokenType = tokenType
        self.sum = sum
        self.output = output
    }
}

/// One attention block of one layer.
public struct AttentionRecord: Sendable {
    public var kind: AttentionKind
    /// Scaled scores Q·Kᵀ/√d_k with the mask applied (−∞ where masked). [heads, nq, nk]
    public var scores: Tensor
    /// Softmax of the scores. [heads, nq, nk]
    public var weights: Tensor
    public var q: Tensor  // [heads, nq, d_k]
    public var k: Tensor  // [heads, nk, d_k]
    public var v: Tensor  // [heads, nk, d_k]
    /// Heads concatenated, before the output projection. [nq, d]
    public var context: Tensor
    /// After the output projection. [nq, d]
    public var output: Tensor

    public init(kind: AttentionKind, scores: Tensor, weights: Tensor, q: Tensor, k: Tensor, v: Tensor,
                context: Tensor, output: Tensor) {
        self.kind = kind
        self.scores = scores
        self.weights = weights
        self.q = q
        self.k = k
        self.v = v
        self.context = context
        self.output = output
    }

    public var heads: Int { weights.shape.count == 3 ? weights.shape[0] : 0 }
}

/// One residual sub-layer: x → x + f(x) with a LayerNorm before (pre-LN) or after (post-LN).
public struct SublayerRecord: Sendable {
    public var name: String
    /// Residual stream entering the sub-layer. [n, d]
    public var residualIn: Tensor
    /// f(x): what the sub-layer adds. [n, d]
    public var output: Tensor
    /// Residual stream leaving it (after the LayerNorm for post-LN). [n, d]
    public var residualOut: Tensor
    public var normInput: Tensor  // [n, d]
    public var normOutput: Tensor // [n, d]

    public init(name: String, residualIn: Tensor, output: Tensor, residualOut: Tensor, normInput: Tensor, normOutput: Tensor) {
        self.name = name
        self.residualIn = residualIn
        self.output = output
        self.residualOut = residualOut
        self.normInput = normInput
        self.normOutput = normOutput
    }
}

public struct LayerRecord: Sendable {
    public var stack: Stack
    public var index: Int
    public var attention: [AttentionRecord]
    public var sublayers: [SublayerRecord]
    public var ffnPre: Tensor  // [n, d_ff] before the activation
    public var ffnAct: Tensor  // [n, d_ff] after it
    public var output: Tensor  // [n, d]

    public init(stack: Stack, index: Int, attention: [AttentionRecord], sublayers: [SublayerRecord],
                ffnPre: Tensor, ffnAct: Tensor, output: Tensor) {
        self.stack = stack
        self.index = index
        self.attention = attention
        self.sublayers = sublayers
        self.ffnPre = ffnPre
        self.ffnAct = ffnAct
        self.output = output
    }

    /// The layer's self-attention (the first block).
    public var selfAttention: AttentionRecord? { attention.first }
}

/// Which of a layer's tensors a `Recorder` keeps. The layer's output, the embeddings and the last
/// hidden state are always kept; a part left out is an empty tensor (shape [0]: an attention record
/// without weights has `heads == 0`), and without `.intermediates` the sub-layer list is empty.
/// A 512-token trace of MiniLM holds ≈ 270 MB, two thirds of it scores and weights.
public struct TraceParts: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Attention scores [heads, nq, nk].
    public static let scores = TraceParts(rawValue: 1)
    /// Attention weights [heads, nq, nk].
    public static let weights = TraceParts(rawValue: 2)
    /// q, k, v, the heads' context and the attention output.
    public static let projections = TraceParts(rawValue: 4)
    /// Each sub-layer's record (residual in/out, f(x), LayerNorm input/output) and the FFN's
    /// pre- and post-activation.
    public static let intermediates = TraceParts(rawValue: 8)
    public static let all: TraceParts = [.scores, .weights, .projections, .intermediates]
}

/// Collects what a forward pass shows it. A nil recorder means nothing is copied or kept.
public final class Recorder: @unchecked Sendable {
    public private(set) var embeddings: EmbeddingRecord?
    public private(set) var layers: [LayerRecord] = []
    public private(set) var decoderEmbeddings: EmbeddingRecord?
    /// What is kept of each layer; `fullLayers` keep everything.
    public let keep: TraceParts
    public let fullLayers: Set<Int>
    /// Parts kept of particular layers on top of `keep` (e.g. the scores of the one layer a section draws).
    public let layerParts: [Int: TraceParts]

    public init(keep: TraceParts = .all, fullLayers: Set<Int> = [], layerParts: [Int: TraceParts] = [:]) {
        self.keep = keep
        self.fullLayers = fullLayers
        self.layerParts = layerParts
    }

    public func record(_ e: EmbeddingRecord) { embeddings = e }
    public func record(decoderEmbedding e: EmbeddingRecord) { decoderEmbeddings = e }
    /// Floats left out of the kept layers (what a recorder keeping everything would hold on top).
    public private(set) var droppedFloats = 0
    public func record(_ l: LayerRecord) {
        let keep = self.keep.union(layerParts[l.index] ?? [])
        guard keep != .all, !fullLayers.contains(l.index) else { layers.append(l); return }
        // Dropped here, as each layer arrives, so a long run never holds more than one layer's extra.
        let none = Tensor(uncheckedShape: [0], data: [])
        var l = l
        let before = Self.floats(l)
        defer { droppedFloats += before - Self.floats(l) }
        for i in l.attention.indices {
            if !keep.contains(.scores) { l.attention[i].scores = none }
            if !keep.contains(.weights) { l.attention[i].weights = none }
            if !keep.contains(.projections) {
                l.attention[i].q = none; l.attention[i].k = none; l.attention[i].v = none
                l.attention[i].context = none; l.attention[i].output = none
            }
        }
        if !keep.contains(.intermediates) { l.sublayers = []; l.ffnPre = none; l.ffnAct = none }
        layers.append(l)
    }

    /// Floats held by a layer's tensors.
    static func floats(_ l: LayerRecord) -> Int {
        var f = l.ffnPre.count + l.ffnAct.count + l.output.count
        for a in l.attention { f += a.scores.count + a.weights.count + a.q.count + a.k.count + a.v.count + a.context.count + a.output.count }
        for s in l.sublayers { f += s.residualIn.count + s.output.count + s.residualOut.count + s.normInput.count + s.normOutput.count }
        return f
    }
}
