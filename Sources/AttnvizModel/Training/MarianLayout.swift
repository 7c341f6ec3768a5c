import AttnvizTensor
import Foundation

/// Where every trainable Marian parameter lives in one flat buffer, under transformers'
/// MarianMTModel names. The shared table is trained once (its tied copies — encoder and decoder
/// embed_tokens, lm_head — are the same tensor); final_logits_bias and the sinusoidal
/// positions are buffers, not parameters.
public struct MarianLayout: Sendable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public struct EncoderLayer: Sendable {
        public let selfAttention: AttentionSlot, selfNorm: NormSlot
        public let ffn: FeedForwardSlot, finalNorm: NormSlot
    }

    public struct DecoderLayer: Sendable {
        public let selfAttention: AttentionSlot, selfNorm: NormSlot
        public let crossAttention: AttentionSlot, crossNorm: NormSlot
        public let ffn: FeedForwardSlot, finalNorm: NormSlot
    }

    public let entries: [Entry]
    public let count: Int
    public let embedding: TiedEmbedding
    public let encoder: [EncoderLayer]
    public let decoder: [DecoderLayer]

    public init(config c: MarianConfig) {
        var entries: [Entry] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) -> Int {
            entries.append(Entry(name: name, shape: shape, offset: offset))
            defer { offset += shape.reduce(1, *) }
            return offset
        }
        let d = c.dModel
        func dense(_ p: String, out: Int, in inDim: Int) -> DenseSlot {
            DenseSlot(weight: add(p + ".weight", [out, inDim]), bias: add(p + ".bias", [out]), inDim: inDim, outDim: out)
        }
        func norm(_ p: String) -> NormSlot { NormSlot(gamma: add(p + ".weight", [d]), beta: add(p + ".bias", [d]), width: d) }
        func attention(_ p: String, heads: Int) -> AttentionSlot {
            AttentionSlot(q: dense(p + ".q_proj", out: d, in: d), k: dense(p + ".k_proj", out: d, in: d),
                          v: dense(p + ".v_proj", out: d, in: d), o: dense(p + ".out_proj", out: d, in: d), heads: heads)
        }
        func ffn(_ p: String, inner: Int) -> FeedForwardSlot {
            FeedForwardSlot(fc1: dense(p + "fc1", out: inner, in: d), fc2: dense(p + "fc2", out: d, in: inner))
        }
        let table = add("model.shared.weight", [c.vocabSize, d])
        embedding = TiedEmbedding(table: table, vocab: c.vocabSize, width: d,
                                  scale: (c.scaleEmbedding ?? false) ? Double(d).squareRoot() : 1, paddingID: c.padTokenId)
        encoder = (0..<c.encoderLayers).map { i in
            let p = "model.encoder.layers.\(i)."
            return EncoderLayer(selfAttention: attention(p + "self_attn", heads: c.encoderAttentionHeads), selfNorm: norm(p + "self_attn_layer_norm"),
                                ffn: ffn(p, inner: c.encoderFfnDim), finalNorm: norm(p + "final_layer_norm"))
        }
        decoder = (0..<c.decoderLayers).map { i in
            let p = "model.decoder.layers.\(i)."
            return DecoderLayer(selfAttention: attention(p + "self_attn", heads: c.decoderAttentionHeads), selfNorm: norm(p + "self_attn_layer_norm"),
                                crossAttention: attention(p + "encoder_attn", heads: c.decoderAttentionHeads),
                                crossNorm: norm(p + "encoder_attn_layer_norm"),
                                ffn: ffn(p, inner: c.decoderFfnDim), finalNorm: norm(p + "final_layer_norm"))
        }
        self.entries = entries
        count = offset
    }
}

/// The config.json fields training reads beyond `MarianConfig`: dropout rates (HF's names) and
/// the embedding-sharing switches, which must leave the embeddings tied.
struct MarianTrainingFields: Decodable {
    var dropout: Double?
    var attentionDropout: Double?
    var activationDropout: Double?
    var shareEncoderDecoderEmbeddings: Bool?
    var tieWordEmbeddings: Bool?
    var decoderVocabSize: Int?

    enum CodingKeys: String, CodingKey {
        case dropout, attentionDropout = "attention_dropout", activationDropout = "activation_dropout"
        case shareEncoderDecoderEmbeddings = "share_encoder_decoder_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case decoderVocabSize = "decoder_vocab_size"
    }
}

/// Dropout rates where HF Marian applies them: `hidden` after embeddings + positions and after
/// each sub-layer before the residual add, `attention` on attention weights, `activation`
/// between the FFN's activation and fc2.
public struct DropoutRates: Sendable, Equatable {
    public var hidden: Double, attention: Double, activation: Double
    public init(hidden: Double, attention: Double, activation: Double) {
        self.hidden = hidden; self.attention = attention; self.activation = activation
    }
    public static let none = DropoutRates(hidden: 0, attention: 0, activation: 0)
}

/// A Marian directory read for training: its config (as decoded and as raw JSON), the
/// parameters under transformers' names, and final_logits_bias.
public struct MarianCheckpoint: Sendable {
    public let directory: String
    public let config: MarianConfig
    public let configData: Data              // config.json as read, for the trained copy
    public let dropout: DropoutRates
    public let parameters: [String: Tensor]  // by MarianMTModel name
    public let finalLogitsBias: Tensor       // [1, vocab]

    public static func load(directory: String) throws(ModelError) -> MarianCheckpoint {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let config = try decodeJSON(MarianConfig.self, path: configPath)
        try config.validate(path: configPath)
        let extra = try decodeJSON(MarianTrainingFields.self, path: configPath)
        if extra.shareEncoderDecoderEmbeddings == false {
            throw .config(path: configPath, key: "share_encoder_decoder_embeddings", problem: "training needs one shared embedding table, found false")
        }
        if extra.tieWordEmbeddings == false {
            throw .config(path: configPath, key: "tie_word_embeddings", problem: "training needs the output projection tied to the embeddings, found false")
        }
        if let dv = extra.decoderVocabSize, dv != config.vocabSize {
            throw .config(path: configPath, key: "decoder_vocab_size", problem: "expected vocab_size \(config.vocabSize), found \(dv)")
        }
        let rates = DropoutRates(hidden: extra.dropout ?? 0, attention: extra.attentionDropout ?? 0, activation: extra.activationDropout ?? 0)
        for (key, p) in [("dropout", rates.hidden), ("attention_dropout", rates.attention), ("activation_dropout", rates.activation)] where !(0..<1).contains(p) {
            throw .config(path: configPath, key: key, problem: "expected a rate in [0, 1), found \(p)")
        }
        let configData = try readData(configPath)
        let file = try SafetensorsFile(path: (directory as NSString).appendingPathComponent("model.safetensors"))
        let reader = WeightReader(file: file, prefix: "")
        var parameters: [String: Tensor] = [:]
        for e in MarianLayout(config: config).entries { parameters[e.name] = try reader.tensor(e.name, e.shape) }
        let bias = file.tensors["final_logits_bias"] == nil ? Tensor.zeros([1, config.vocabSize]) : try reader.tensor("final_logits_bias", [1, config.vocabSize])
        return MarianCheckpoint(directory: directory, config: config, configData: configData, dropout: rates,
                                parameters: parameters, finalLogitsBias: bias)
    }
}
