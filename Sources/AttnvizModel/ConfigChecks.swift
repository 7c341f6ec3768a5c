import Foundation

/// Value checks every config.json gets right after decoding (Files.decodeJSON), beside each
/// architecture's own `validate`: LayerNorm's epsilon must be a positive finite number (−1 gave
/// reports that said "nan%"), and no size may be so large that shape arithmetic could overflow.
enum ConfigLimits {
    /// Far above any real model's widths, layers or vocabulary, small enough that products of
    /// three such sizes stay inside Int.
    static let maxSize = 1 << 20

    static func check(sizes: [(String, Int)], epsilon: (String, Double)?, path: String) throws(ModelError) {
        for (key, v) in sizes where v > maxSize {
            throw .config(path: path, key: key, problem: "\(v) is implausibly large (at most \(maxSize))")
        }
        if let (key, eps) = epsilon, !(eps.isFinite && eps > 0 && eps < 1) {
            throw .config(path: path, key: key, problem: "must be a small positive number, found \(eps)")
        }
    }
}

/// config.json bytes decoded and checked as `load` does for `modelType` (the fuzz target's entry).
public func checkConfig(_ data: Data, modelType: String, path: String = "config.json") throws(ModelError) {
    switch modelType {
    case "bert": try decodeJSON(BertConfig.self, data: data, path: path).validate(path: path)
    case "gpt2": try decodeJSON(GPT2Config.self, data: data, path: path).validate(path: path)
    case "marian": try decodeJSON(MarianConfig.self, data: data, path: path).validate(path: path)
    default: throw .unsupportedModelType(path: path, found: modelType, supported: ModelRegistry.supported)
    }
}

extension BertConfig: CheckedConfig {
    func checkValues(path: String) throws(ModelError) {
        try ConfigLimits.check(
            sizes: [("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                    ("intermediate_size", intermediateSize), ("max_position_embeddings", maxPositionEmbeddings),
                    ("type_vocab_size", typeVocabSize), ("vocab_size", vocabSize)],
            epsilon: ("layer_norm_eps", layerNormEps), path: path)
    }
}

extension GPT2Config: CheckedConfig {
    func checkValues(path: String) throws(ModelError) {
        try ConfigLimits.check(
            sizes: [("n_embd", nEmbd), ("n_layer", nLayer), ("n_head", nHead), ("n_inner", nInner ?? 0),
                    ("n_positions", nPositions), ("vocab_size", vocabSize)],
            epsilon: ("layer_norm_epsilon", layerNormEpsilon), path: path)
    }
}

extension MarianConfig: CheckedConfig {
    func checkValues(path: String) throws(ModelError) {
        try ConfigLimits.check(
            sizes: [("d_model", dModel), ("encoder_layers", encoderLayers), ("decoder_layers", decoderLayers),
                    ("encoder_attention_heads", encoderAttentionHeads), ("decoder_attention_heads", decoderAttentionHeads),
                    ("encoder_ffn_dim", encoderFfnDim), ("decoder_ffn_dim", decoderFfnDim),
                    ("max_position_embeddings", maxPositionEmbeddings), ("vocab_size", vocabSize)],
            epsilon: nil, path: path)
    }
}

extension TextTokenizer {
    /// The vocabulary file must not hold ids the model has no embedding for; otherwise a word
    /// that maps to such an id failed later with an error that blamed the input.
    func checkFits(vocabSize: Int, directory: String) throws(ModelError) {
        let config = (directory as NSString).appendingPathComponent("config.json")
        switch self {
        case let .wordPiece(t):
            guard t.idToToken.count <= vocabSize else {
                throw .tokenizer(path: t.source, problem: "has \(t.idToToken.count) entries, more than vocab_size \(vocabSize) in \(config)")
            }
        case let .bpe(t):
            if let bad = t.vocab.first(where: { $0.value < 0 || $0.value >= vocabSize }) {
                throw .tokenizer(path: t.source, problem: "'\(bad.key)' has id \(bad.value), outside vocab_size \(vocabSize) in \(config)")
            }
        case let .task(t):
            guard t.vocabulary.count <= vocabSize else {
                throw .tokenizer(path: (directory as NSString).appendingPathComponent(CharVocabulary.fileName), problem: "has \(t.vocabulary.count) entries, more than vocab_size \(vocabSize) in \(config)")
            }
        }
    }
}
