import AttnvizTensor
import Foundation

/// The shape of a model trained from scratch on a synthetic task (encoder and decoder alike).
public struct TaskModelShape: Sendable, Equatable {
    public var dModel: Int, layers: Int, heads: Int, ffn: Int
    public var activation: Activation
    public var maxCharacters: Int  // longest normalized input; positions = maxCharacters + 1 (</s>)

    public init(dModel: Int, layers: Int, heads: Int, ffn: Int, activation: Activation, maxCharacters: Int) {
        self.dModel = dModel; self.layers = layers; self.heads = heads; self.ffn = ffn
        self.activation = activation; self.maxCharacters = maxCharacters
    }
}

/// Training a Marian model from scratch on a `SyntheticTask` with the character vocabulary.
public enum TaskTraining {
    public static let logFile = "training_log.jsonl"

    /// config.json of the new model (transformers' MarianConfig fields).
    public static func configJSON(_ s: TaskModelShape, dropout: DropoutRates) -> [String: Any] {
        let v = CharVocabulary()
        return [
            "model_type": "marian", "architectures": ["MarianMTModel"], "is_encoder_decoder": true,
            "vocab_size": v.count, "decoder_vocab_size": v.count, "d_model": s.dModel,
            "encoder_layers": s.layers, "decoder_layers": s.layers,
            "encoder_attention_heads": s.heads, "decoder_attention_heads": s.heads,
            "encoder_ffn_dim": s.ffn, "decoder_ffn_dim": s.ffn, "activation_function": s.activation.rawValue,
            "max_position_embeddings": s.maxCharacters + 2, "scale_embedding": true,
            "pad_token_id": CharVocabulary.pad, "decoder_start_token_id": CharVocabulary.pad,
            "eos_token_id": CharVocabulary.eos, "forced_eos_token_id": CharVocabulary.eos, "bos_token_id": NSNull(),
            "dropout": dropout.hidden, "attention_dropout": dropout.attention, "activation_dropout": dropout.activation,
            "share_encoder_decoder_embeddings": true, "tie_word_embeddings": true,
            "encoder_layerdrop": 0.0, "decoder_layerdrop": 0.0, "init_std": 0.02, "use_cache": true,
        ]
    }

    /// A fresh network: Xavier-uniform matrices, embeddings N(0, d^−1/2) (× √d in the forward
    /// pass: unit scale), zero biases, LayerNorm γ = 1, β = 0; seeded.
    public static func network(_ s: TaskModelShape, dropout: DropoutRates, seed: UInt64) throws(ModelError) -> (MarianNetwork<Float>, Data) {
        let object = configJSON(s, dropout: dropout)
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]) else {
            throw .config(path: "train --task", key: "(file)", problem: "could not encode the configuration")
        }
        let config: MarianConfig
        do { config = try JSONDecoder().decode(MarianConfig.self, from: data) } catch {
            throw .config(path: "train --task", key: "(file)", problem: "\(error)")
        }
        try config.validate(path: "train --task")
        let net = MarianNetwork<Float>(config: config, finalLogitsBias: [Float](repeating: 0, count: config.vocabSize), dropout: dropout)
        var rng = DropoutRNG(seed: seed)
        for e in net.layout.entries {
            let p = net.params.base + e.offset
            if e.name == "model.shared.weight" {
                let std = 1 / Double(config.dModel).squareRoot()
                for i in 0..<e.count { p[i] = Float(std * gaussian(&rng)) }
            } else if e.shape.count == 2 {
                let bound = (6 / Double(e.shape[0] + e.shape[1])).squareRoot()
                for i in 0..<e.count { p[i] = Float((rng.uniform() * 2 - 1) * bound) }
            } else {
                let one: Float = e.name.contains("layer_norm") && e.name.hasSuffix(".weight") ? 1 : 0
                for i in 0..<e.count { p[i] = one }
            }
        }
        return (net, data)
    }

    static func gaussian(_ rng: inout DropoutRNG) -> Double {
        let u = max(rng.uniform(), 1e-300), v = rng.uniform()
        return (-2 * Foundation.log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// Trains on freshly generated sentences (seed `options.seed`, `batchSize` per step); every
    /// `logEvery` steps reports the token-weighted mean loss and accuracy of those steps.
    public static func train(_ net: MarianNetwork<Float>, task: SyntheticTask, words: [String], shape: TaskModelShape,
                             options: TrainingOptions, batchSize: Int, logEvery: Int,
                             onLog: (TrainingLogEntry) throws(ModelError) -> Void,
                             onStep: (TrainingLogEntry) -> Void) throws(ModelError) {
        var sentences = SentenceGenerator(words: words, seed: options.seed, maxCharacters: shape.maxCharacters)
        let vocabulary = CharVocabulary()
        var window = (loss: 0.0, tokens: 0, correct: 0, seconds: 0.0)
        try MarianTraining.run(net, batch: { _ in
            task.batch((0..<batchSize).map { _ in sentences.next() }, vocabulary: vocabulary)
        }, options: options, onStep: { entry throws(ModelError) in
            onStep(entry)
            window.loss += entry.loss * Double(entry.tokens)
            window.tokens += entry.tokens
            window.correct += entry.correct
            window.seconds += entry.seconds
            if entry.step % logEvery == 0 || entry.step == options.steps {
                try onLog(TrainingLogEntry(step: entry.step, loss: window.loss / Double(max(window.tokens, 1)), lr: entry.lr,
                                           tokens: window.tokens, correct: window.correct, seconds: window.seconds))
                window = (0, 0, 0, 0)
            }
        })
    }

    /// Exact-match rate of greedy outputs on `sentences`, with the failures.
    public static func evaluate(_ model: MarianModel, task: SyntheticTask, sentences: [String]) throws(ModelError) -> (rate: Double, failures: [(input: String, expected: String, found: String)]) {
        let v = CharVocabulary()
        var failures: [(String, String, String)] = []
        for s in sentences {
            let out = try model.greedy(source: v.encode(SyntheticTask.normalize(s)), maxLength: model.config.maxPositionEmbeddings, eos: CharVocabulary.eos)
            let found = v.decode(out.ids), expected = task.target(s)
            if found != expected { failures.append((s, expected, found)) }
        }
        return (Double(sentences.count - failures.count) / Double(max(sentences.count, 1)), failures)
    }
}

/// The "attnviz" block `train --task` writes into config.json, as `generate` reads it back.
public struct TaskModelCard: Decodable, Sendable {
    public struct Block: Decodable, Sendable {
        public var task: String
        public var maxCharacters: Int
        public var seed: UInt64
        enum CodingKeys: String, CodingKey { case task, maxCharacters = "max_characters", seed }
    }
    public var attnviz: Block

    /// Reads DIR/config.json; the task must be one attnviz knows.
    public static func load(directory: String) throws(ModelError) -> (card: TaskModelCard, task: SyntheticTask) {
        let path = (directory as NSString).appendingPathComponent("config.json")
        let card = try decodeJSON(TaskModelCard.self, path: path)
        guard let task = SyntheticTask(rawValue: card.attnviz.task) else {
            throw .config(path: path, key: "attnviz.task", problem: "unknown task '\(card.attnviz.task)' (known: \(SyntheticTask.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return (card, task)
    }
}
