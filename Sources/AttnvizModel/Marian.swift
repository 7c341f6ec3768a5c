import AttnvizTensor
import AttnvizTrace
import Foundation

/// config.json of a Marian checkpoint (model_type "marian").
public struct MarianConfig: Decodable, Sendable {
    public var dModel: Int
    public var encoderLayers: Int
    public var decoderLayers: Int
    public var encoderAttentionHeads: Int
    public var decoderAttentionHeads: Int
    public var encoderFfnDim: Int
    public var decoderFfnDim: Int
    public var activationFunction: Activation
    public var maxPositionEmbeddings: Int
    public var vocabSize: Int
    public var scaleEmbedding: Bool?
    public var padTokenId: Int?
    public var decoderStartTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case dModel = "d_model", encoderLayers = "encoder_layers", decoderLayers = "decoder_layers"
        case encoderAttentionHeads = "encoder_attention_heads", decoderAttentionHeads = "decoder_attention_heads"
        case encoderFfnDim = "encoder_ffn_dim", decoderFfnDim = "decoder_ffn_dim", activationFunction = "activation_function"
        case maxPositionEmbeddings = "max_position_embeddings", vocabSize = "vocab_size", scaleEmbedding = "scale_embedding"
        case padTokenId = "pad_token_id", decoderStartTokenId = "decoder_start_token_id"
    }

    func validate(path: String) throws(ModelError) {
        for (key, v) in [("d_model", dModel), ("encoder_layers", encoderLayers), ("decoder_layers", decoderLayers),
                         ("encoder_attention_heads", encoderAttentionHeads), ("decoder_attention_heads", decoderAttentionHeads),
                         ("encoder_ffn_dim", encoderFfnDim), ("decoder_ffn_dim", decoderFfnDim),
                         ("max_position_embeddings", maxPositionEmbeddings), ("vocab_size", vocabSize)] where v <= 0 {
            throw .config(path: path, key: key, problem: "must be positive, found \(v)")
        }
        for (key, h) in [("encoder_attention_heads", encoderAttentionHeads), ("decoder_attention_heads", decoderAttentionHeads)] where dModel % h != 0 {
            throw .config(path: path, key: key, problem: "d_model \(dModel) is not divisible by \(h) heads")
        }
        guard dModel % 2 == 0 else { throw .config(path: path, key: "d_model", problem: "sinusoidal positions need an even width, found \(dModel)") }
    }
}

/// Marian (the original Transformer layout): post-LayerNorm encoder and decoder, static
/// sinusoidal positions (sines in the first half of the dims, cosines in the second), token
/// embeddings × √d_model, cross-attention from decoder queries to encoder keys, output
/// projection tied to the shared embeddings plus final_logits_bias.
public struct MarianModel: Sendable {
    struct EncoderLayer: Sendable {
        let selfAttention: AttentionWeights, selfNorm: LayerNorm
        let ffn: FeedForward, finalNorm: LayerNorm
    }
    struct DecoderLayer: Sendable {
        let selfAttention: AttentionWeights, selfNorm: LayerNorm
        let crossAttention: AttentionWeights, crossNorm: LayerNorm
        let ffn: FeedForward, finalNorm: LayerNorm
    }

    public let config: MarianConfig
    let shared: Tensor          // [vocab, d]
    let finalLogitsBias: Tensor // [vocab]
    let encoder: [EncoderLayer]
    let decoder: [DecoderLayer]
    public let info: ModelInfo
    public let ignoredTensors: [String]
    static let layerNormEps = 1e-5  // nn.LayerNorm's default, which Marian uses

    static func load(directory: String, configJSON: String, checkpoint: SafetensorsFile) throws(ModelError) -> MarianModel {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let c = try decodeJSON(MarianConfig.self, path: configPath)
        try c.validate(path: configPath)
        let d = c.dModel, eps = layerNormEps
        let r = WeightReader(file: checkpoint, prefix: "")
        let shared = try r.tensor("model.shared.weight", [c.vocabSize, d])
        let bias = try r.tensor("final_logits_bias", [1, c.vocabSize])
        func attention(_ p: String, heads: Int) throws(ModelError) -> AttentionWeights {
            AttentionWeights(q: try r.linear(p + ".q_proj", out: d, in: d), k: try r.linear(p + ".k_proj", out: d, in: d),
                             v: try r.linear(p + ".v_proj", out: d, in: d), o: try r.linear(p + ".out_proj", out: d, in: d), heads: heads)
        }
        var encoder: [EncoderLayer] = [], decoder: [DecoderLayer] = []
        for i in 0..<c.encoderLayers {
            let p = "model.encoder.layers.\(i)."
            encoder.append(EncoderLayer(
                selfAttention: try attention(p + "self_attn", heads: c.encoderAttentionHeads), selfNorm: try r.layerNorm(p + "self_attn_layer_norm", d, eps: eps),
                ffn: FeedForward(fc1: try r.linear(p + "fc1", out: c.encoderFfnDim, in: d),
                                 fc2: try r.linear(p + "fc2", out: d, in: c.encoderFfnDim), activation: c.activationFunction),
                finalNorm: try r.layerNorm(p + "final_layer_norm", d, eps: eps)))
        }
        for i in 0..<c.decoderLayers {
            let p = "model.decoder.layers.\(i)."
            decoder.append(DecoderLayer(
                selfAttention: try attention(p + "self_attn", heads: c.decoderAttentionHeads), selfNorm: try r.layerNorm(p + "self_attn_layer_norm", d, eps: eps),
                crossAttention: try attention(p + "encoder_attn", heads: c.decoderAttentionHeads),
                crossNorm: try r.layerNorm(p + "encoder_attn_layer_norm", d, eps: eps),
                ffn: FeedForward(fc1: try r.linear(p + "fc1", out: c.decoderFfnDim, in: d),
                                 fc2: try r.linear(p + "fc2", out: d, in: c.decoderFfnDim), activation: c.activationFunction),
                finalNorm: try r.layerNorm(p + "final_layer_norm", d, eps: eps)))
        }
        let unused = r.unused()
        // Tied copies (embed_tokens, lm_head) and the static position tables are not parameters.
        let ignored = unused.names.filter { !$0.contains("embed_positions") && !$0.hasSuffix("embed_tokens.weight") && $0 != "lm_head.weight" }
        let counts: [(component: String, count: Int)] = [
            ("shared token embeddings (tied output head)", shared.count),
            ("final logits bias", bias.count),
            ("encoder self-attention", encoder.reduce(0) { $0 + $1.selfAttention.parameterCount }),
            ("encoder feed-forward", encoder.reduce(0) { $0 + $1.ffn.parameterCount }),
            ("encoder LayerNorms", encoder.reduce(0) { $0 + $1.selfNorm.parameterCount + $1.finalNorm.parameterCount }),
            ("decoder self-attention", decoder.reduce(0) { $0 + $1.selfAttention.parameterCount }),
            ("decoder cross-attention", decoder.reduce(0) { $0 + $1.crossAttention.parameterCount }),
            ("decoder feed-forward", decoder.reduce(0) { $0 + $1.ffn.parameterCount }),
            ("decoder LayerNorms", decoder.reduce(0) { $0 + $1.selfNorm.parameterCount + $1.crossNorm.parameterCount + $1.finalNorm.parameterCount }),
        ]
        let info = ModelInfo(
            name: (directory as NSString).lastPathComponent, directory: directory, modelType: "marian", architecture: .encoderDecoder,
            sha256: nil, layers: c.encoderLayers, decoderLayers: c.decoderLayers, heads: c.encoderAttentionHeads,
            decoderHeads: c.decoderAttentionHeads, dModel: d, dFF: c.encoderFfnDim, vocabSize: c.vocabSize,
            maxPositions: c.maxPositionEmbeddings, typeVocabSize: 0, activation: c.activationFunction.rawValue, layerNormEps: eps,
            positions: .sinusoidal, normPlacement: .post, parameterCounts: counts, configJSON: configJSON)
        return MarianModel(config: c, shared: shared, finalLogitsBias: try math("final_logits_bias") { () throws(TensorError) -> Tensor in try bias.reshaped([c.vocabSize]) },
                           encoder: encoder, decoder: decoder, info: info, ignoredTensors: ignored)
    }

    /// Marian's static table for positions offset..<offset+n: P[p, k] = sin(p / 10000^(2k/d)),
    /// P[p, d/2 + k] = cos(…), k < d/2. [n, d]
    public static func positions(_ range: Range<Int>, d: Int) -> Tensor {
        let half = d / 2
        var out = [Float](repeating: 0, count: range.count * d)
        for (row, p) in range.enumerated() {
            for k in 0..<half {
                let angle = Double(p) / pow(10000, Double(2 * k) / Double(d))
                out[row * d + k] = Float(sin(angle))
                out[row * d + half + k] = Float(cos(angle))
            }
        }
        return Tensor(uncheckedShape: [range.count, d], data: out)
    }

    func checkIDs(_ ids: [Int], _ what: String, past: Int = 0) throws(ModelError) {
        try checkTokenIDs(ids, past: past, positions: config.maxPositionEmbeddings, vocabSize: config.vocabSize, source: what)
    }

    func embed(_ ids: [Int], offset: Int, recorder: Recorder?) throws(TensorError) -> (Tensor, EmbeddingRecord?) {
        let d = config.dModel
        let scale: Float = (config.scaleEmbedding ?? false) ? Float(d).squareRoot() : 1
        let word = try Ops.gather(shared, rows: ids)                           // [n, d]
        let pos = Self.positions(offset..<(offset + ids.count), d: d)          // [n, d]
        let sum = try Ops.add(Ops.scaled(word, by: scale), pos)                // [n, d]
        var rec: EmbeddingRecord?
        if recorder != nil {
            rec = EmbeddingRecord(word: word, position: pos, tokenType: nil, sum: sum, output: sum)
            rec?.wordScale = scale
        }
        return (sum, rec)
    }

    /// Encoder over source ids with a key mask (false = padding). → [S, d]
    public func encode(ids: [Int], mask: [Bool]? = nil, recorder: Recorder? = nil) throws(ModelError) -> Tensor {
        try checkIDs(ids, "--input-ids")
        var (x, emb) = try math("encoder embeddings") { () throws(TensorError) in try embed(ids, offset: 0, recorder: recorder) }
        if let emb { recorder?.record(emb) }
        let attnMask = AttentionMask(keys: mask)
        for (l, layer) in encoder.enumerated() {
            x = try math("encoder layer \(l)") { () throws(TensorError) -> Tensor in
                let (a, rec) = try MultiHeadAttention.run(x, memory: x, weights: layer.selfAttention, mask: attnMask, kind: .encoderSelf, record: recorder != nil)
                let (s1, h1) = try layer.selfNorm(x, plus: a)     // [S, d] each
                let (pre, act, f) = try layer.ffn(h1)             // [S, ffn], [S, ffn], [S, d]
                let (s2, h2) = try layer.finalNorm(h1, plus: f)   // [S, d] each
                if let recorder, let rec {
                    recorder.record(LayerRecord(stack: .encoder, index: l, attention: [rec], sublayers: [
                        SublayerRecord(name: "self-attention", residualIn: x, output: a, residualOut: h1, normInput: s1, normOutput: h1),
                        SublayerRecord(name: "feed-forward", residualIn: h1, output: f, residualOut: h2, normInput: s2, normOutput: h2),
                    ], ffnPre: pre, ffnAct: act, output: h2))
                }
                return h2
            }
        }
        return x
    }

    public func emptyCache() -> KVCache { KVCache(layers: config.decoderLayers, width: config.dModel) }

    /// Decoder over target ids given the encoder output [S, d] and its mask; continues after
    /// `cache` (empty: teacher-forced full pass). → hidden [T, d], logits [T, vocab]
    public func decode(ids: [Int], encoderOutput: Tensor, encoderMask: [Bool]?, cache: inout KVCache,
                       recorder: Recorder? = nil) throws(ModelError) -> (hidden: Tensor, logits: Tensor) {
        let past = cache.count
        try checkIDs(ids, "--decoder-input-ids", past: past)
        var (x, emb) = try math("decoder embeddings") { () throws(TensorError) in try embed(ids, offset: past, recorder: recorder) }
        if let emb { recorder?.record(decoderEmbedding: emb) }
        let causal = AttentionMask(keys: nil, causal: true, queryOffset: past)
        let cross = AttentionMask(keys: encoderMask)
        let record = recorder != nil
        for (l, layer) in decoder.enumerated() {
            x = try math("decoder layer \(l)") { () throws(TensorError) -> Tensor in
                let w = layer.selfAttention
                let (k, v) = try cache.extend(layer: l, keys: try w.k(x), values: try w.v(x))  // [past+T, d]
                let (a, selfRec) = try MultiHeadAttention.attend(q: try w.q(x), k: k, v: v, weights: w, mask: causal, kind: .decoderSelf, record: record)
                let (s1, h1) = try layer.selfNorm(x, plus: a)                                                  // [T, d] each
                let (c, crossRec) = try MultiHeadAttention.run(h1, memory: encoderOutput, weights: layer.crossAttention, mask: cross, kind: .cross, record: record)
                let (s2, h2) = try layer.crossNorm(h1, plus: c)                                                // [T, d] each
                let (pre, act, f) = try layer.ffn(h2)                                                          // [T, ffn], [T, ffn], [T, d]
                let (s3, h3) = try layer.finalNorm(h2, plus: f)                                                // [T, d] each
                if let recorder, let selfRec, let crossRec {
                    recorder.record(LayerRecord(stack: .decoder, index: l, attention: [selfRec, crossRec], sublayers: [
                        SublayerRecord(name: "self-attention", residualIn: x, output: a, residualOut: h1, normInput: s1, normOutput: h1),
                        SublayerRecord(name: "cross-attention", residualIn: h1, output: c, residualOut: h2, normInput: s2, normOutput: h2),
                        SublayerRecord(name: "feed-forward", residualIn: h2, output: f, residualOut: h3, normInput: s3, normOutput: h3),
                    ], ffnPre: pre, ffnAct: act, output: h3))
                }
                return h3
            }
        }
        let logits = try math("logits") { () throws(TensorError) -> Tensor in try Ops.linear(x, weight: shared, bias: finalLogitsBias) }  // [T, vocab]
        return (x, logits)
    }
}
