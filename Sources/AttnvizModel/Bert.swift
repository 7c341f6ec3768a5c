import AttnvizTensor
import AttnvizTrace
import Foundation

/// config.json of a BERT checkpoint (model_type "bert").
public struct BertConfig: Decodable, Sendable {
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var hiddenAct: Activation
    public var layerNormEps: Double
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var vocabSize: Int
    public var positionEmbeddingType: String?
    /// Dropout probabilities used in training (HF defaults 0.1 when absent).
    public var hiddenDropoutProb: Double?
    public var attentionProbsDropoutProb: Double?

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case vocabSize = "vocab_size", positionEmbeddingType = "position_embedding_type"
        case hiddenDropoutProb = "hidden_dropout_prob", attentionProbsDropoutProb = "attention_probs_dropout_prob"
    }

    func validate(path: String) throws(ModelError) {
        for (key, v) in [("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                         ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                         ("max_position_embeddings", maxPositionEmbeddings), ("vocab_size", vocabSize),
                         ("type_vocab_size", typeVocabSize)] where v <= 0 {
            throw .config(path: path, key: key, problem: "must be positive, found \(v)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw .config(path: path, key: "num_attention_heads",
                          problem: "hidden_size \(hiddenSize) is not divisible by \(numAttentionHeads) heads")
        }
        if let kind = positionEmbeddingType, kind != "absolute" {
            throw .config(path: path, key: "position_embedding_type", problem: "only 'absolute' is supported, found '\(kind)'")
        }
    }
}

/// BERT encoder: learned absolute positions, token types, post-LayerNorm blocks.
/// Checkpoint names follow HF `BertModel` (`embeddings.*`, `encoder.layer.{i}.*`); a `bert.`
/// prefix (task heads such as BertForMaskedLM) is accepted.
public struct BertModel: Sendable {
    struct Layer: Sendable {
        let attention: AttentionWeights
        /// Q, K and V stacked into one [3d, d] product: one sgemm instead of three.
        let qkv: Linear
        let attentionNorm: LayerNorm
        let ffn: FeedForward      // d → d_ff → d
        let outputNorm: LayerNorm
    }

    public let config: BertConfig
    let wordEmbeddings: MappedRows  // [vocab, d], rows read from the checkpoint as tokens need them
    let positionEmbeddings: Tensor  // [positions, d]
    let tokenTypeEmbeddings: Tensor // [types, d]
    let embeddingNorm: LayerNorm
    let layers: [Layer]
    public let info: ModelInfo
    /// Checkpoint tensors attnviz does not use (pooler, heads), reported once by the CLI.
    public let ignoredTensors: [String]

    static func load(directory: String, configJSON: String, checkpoint: SafetensorsFile) throws(ModelError) -> BertModel {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let config = try decodeJSON(BertConfig.self, path: configPath)
        try config.validate(path: configPath)
        let d = config.hiddenSize, ff = config.intermediateSize
        let prefix = checkpoint.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        let r = WeightReader(file: checkpoint, prefix: prefix)
        let eps = config.layerNormEps
        let word = try r.rows("embeddings.word_embeddings.weight", config.vocabSize, d)
        let pos = try r.tensor("embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, d])
        let types = try r.tensor("embeddings.token_type_embeddings.weight", [config.typeVocabSize, d])
        let embNorm = try r.layerNorm("embeddings.LayerNorm", d, eps: eps)
        var layers: [Layer] = []
        for i in 0..<config.numHiddenLayers {
            let p = "encoder.layer.\(i)."
            let attention = AttentionWeights(
                q: try r.linear(p + "attention.self.query", out: d, in: d),
                k: try r.linear(p + "attention.self.key", out: d, in: d),
                v: try r.linear(p + "attention.self.value", out: d, in: d),
                o: try r.linear(p + "attention.output.dense", out: d, in: d),
                heads: config.numAttentionHeads)
            layers.append(Layer(
                attention: attention,
                qkv: Linear(weight: Tensor(uncheckedShape: [3 * d, d], data: attention.q.weight.data + attention.k.weight.data + attention.v.weight.data),
                            bias: Tensor(uncheckedShape: [3 * d], data: (attention.q.bias?.data ?? []) + (attention.k.bias?.data ?? []) + (attention.v.bias?.data ?? [])),
                            layout: .outIn),
                attentionNorm: try r.layerNorm(p + "attention.output.LayerNorm", d, eps: eps),
                ffn: FeedForward(fc1: try r.linear(p + "intermediate.dense", out: ff, in: d),
                                 fc2: try r.linear(p + "output.dense", out: d, in: ff), activation: config.hiddenAct),
                outputNorm: try r.layerNorm(p + "output.LayerNorm", d, eps: eps)))
        }
        let unused = r.unused()
        let ignored = unused.names.filter { !$0.hasSuffix("position_ids") }
        var counts: [(component: String, count: Int)] = [
            ("token embeddings", word.count),
            ("position embeddings", pos.count),
            ("token-type embeddings", types.count),
            ("embedding LayerNorm", embNorm.parameterCount),
            ("self-attention (Q, K, V, O)", layers.reduce(0) { $0 + $1.attention.parameterCount }),
            ("attention LayerNorms", layers.reduce(0) { $0 + $1.attentionNorm.parameterCount }),
            ("feed-forward", layers.reduce(0) { $0 + $1.ffn.parameterCount }),
            ("feed-forward LayerNorms", layers.reduce(0) { $0 + $1.outputNorm.parameterCount }),
        ]
        if unused.parameters > 0 { counts.append(("not used here (\(Self.describe(ignored)))", unused.parameters)) }
        let info = ModelInfo(
            name: (directory as NSString).lastPathComponent, directory: directory, modelType: "bert",
            architecture: .encoder, sha256: nil, layers: config.numHiddenLayers, decoderLayers: 0,
            heads: config.numAttentionHeads, dModel: d, dFF: ff, vocabSize: config.vocabSize,
            maxPositions: config.maxPositionEmbeddings, typeVocabSize: config.typeVocabSize,
            activation: config.hiddenAct.rawValue, layerNormEps: eps, positions: .learned,
            normPlacement: .post, parameterCounts: counts, configJSON: configJSON)
        return BertModel(config: config, wordEmbeddings: word, positionEmbeddings: pos, tokenTypeEmbeddings: types,
                         embeddingNorm: embNorm, layers: layers, info: info, ignoredTensors: ignored)
    }

    static func describe(_ names: [String]) -> String {
        let groups = Set(names.map { $0.split(separator: ".").prefix(2).joined(separator: ".") })
        return groups.sorted().joined(separator: ", ")
    }

    /// The learned position table. [positions, d]
    public var positionTable: Tensor { positionEmbeddings }

    /// Runs the encoder. ids/typeIds: [n]; keyMask: [n], false on padded positions.
    /// Returns the last hidden state [n, d]; the recorder, if any, sees every intermediate.
    public func forward(ids: [Int], typeIds: [Int], keyMask: [Bool]? = nil, recorder: Recorder? = nil) throws(ModelError) -> Tensor {
        try forward(ids: ids, typeIds: typeIds, keyMask: keyMask, options: .none, recorder: recorder)
    }

    /// The forward pass as an experiment changes it (positions left out, tied Q/K, a key pattern).
    func forward(ids: [Int], typeIds: [Int], keyMask: [Bool]?, options: ForwardOptions, recorder: Recorder?) throws(ModelError) -> Tensor {
        let n = ids.count
        try checkTokenIDs(ids, positions: config.maxPositionEmbeddings, vocabSize: config.vocabSize, source: "input")
        guard typeIds.count == n else { throw .input(path: "input", problem: "\(typeIds.count) token types for \(n) tokens") }
        if let bad = typeIds.first(where: { $0 < 0 || $0 >= config.typeVocabSize }) {
            throw .input(path: "input", problem: "token type \(bad) is outside 0..<\(config.typeVocabSize)")
        }
        let record = recorder != nil
        let word = try wordEmbeddings.gather(ids)                             // [n, d]
        var x = try math("embeddings") { () throws(TensorError) -> Tensor in
            let pos = try options.positions ? Ops.gather(positionEmbeddings, rows: Array(0..<n))  // [n, d]
                : Tensor.zeros([n, wordEmbeddings.cols])
            let type = try Ops.gather(tokenTypeEmbeddings, rows: typeIds)     // [n, d]
            let sum = try Ops.add(try Ops.add(word, pos), type)               // [n, d]
            var out = try embeddingNorm(sum)                                  // [n, d]
            if let dr = options.dropout { out = dr.apply(out, site: 0, p: dr.hidden) }
            recorder?.record(EmbeddingRecord(word: word, position: pos, tokenType: type, sum: sum, output: out))
            return out
        }
        let mask = AttentionMask(keys: keyMask, pattern: options.pattern)
        for (l, layer) in layers.enumerated() {
            x = try math("layer \(l)") { () throws(TensorError) -> Tensor in
                let (q, trainedK, v) = GPT2Model.split(try layer.qkv(x), d: x.shape[1])  // each [n, d]
                let k = options.tiedQueryKeyLayer == l ? q : trainedK
                let dr = options.dropout
                var (attnOut, attnRecord) = try MultiHeadAttention.attend(
                    q: q, k: k, v: v, weights: layer.attention, mask: mask, kind: .encoderSelf, record: record,
                    dropout: dr.map { ($0.seed, Dropout.site(layer: l, 0), $0.attention) })
                if let dr { attnOut = dr.apply(attnOut, site: Dropout.site(layer: l, 1), p: dr.hidden) }
                let (sum1, h1) = try options.addNorm(layer.attentionNorm, attnOut, plus: x)  // [n, d] each
                let (pre, act, ffnRaw) = try layer.ffn(h1)                  // [n, d_ff], [n, d_ff], [n, d]
                let ffnOut = dr.map { $0.apply(ffnRaw, site: Dropout.site(layer: l, 2), p: $0.hidden) } ?? ffnRaw
                let (sum2, h2) = try options.addNorm(layer.outputNorm, ffnOut, plus: h1)     // [n, d] each
                if let recorder, let attnRecord {
                    recorder.record(LayerRecord(
                        stack: .encoder, index: l, attention: [attnRecord],
                        sublayers: [
                            SublayerRecord(name: "self-attention", residualIn: x, output: attnOut, residualOut: h1, normInput: sum1, normOutput: h1),
                            SublayerRecord(name: "feed-forward", residualIn: h1, output: ffnOut, residualOut: h2, normInput: sum2, normOutput: h2),
                        ],
                        ffnPre: pre, ffnAct: act, output: h2))
                }
                return h2
            }
        }
        return x
    }
}
