import AttnvizTrace
import Foundation

/// A loaded checkpoint of one of the supported architectures.
public enum LoadedModel: Sendable {
    case bert(BertModel)
    case gpt2(GPT2Model)
    case marian(MarianModel)

    public var info: ModelInfo {
        switch self {
        case let .bert(m): return m.info
        case let .gpt2(m): return m.info
        case let .marian(m): return m.info
        }
    }

    public var ignoredTensors: [String] {
        switch self {
        case let .bert(m): return m.ignoredTensors
        case let .gpt2(m): return m.ignoredTensors
        case let .marian(m): return m.ignoredTensors
        }
    }
}

/// Architectures by config.json's `model_type`.
public enum ModelRegistry {
    public static let supported = ["bert", "gpt2", "marian"]

    /// The default model's directory: $ATTNVIZ_MODEL, else $ATTNVIZ_HOME/models/all-MiniLM-L6-v2
    /// (ATTNVIZ_HOME defaults to ~/.cache/attnviz), where set-up puts it.
    public static var defaultDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["ATTNVIZ_MODEL"], !dir.isEmpty { return dir }
        let home = env["ATTNVIZ_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/attnviz")
        return (home as NSString).appendingPathComponent("models/all-MiniLM-L6-v2")
    }

    struct Probe: Decodable {
        var modelType: String
        enum CodingKeys: String, CodingKey { case modelType = "model_type" }
    }

    /// Reads config.json's model_type, then loads the checkpoint strictly for that architecture.
    public static func load(directory: String) throws(ModelError) -> LoadedModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) else { throw .missingFile(path: directory) }
        guard isDir.boolValue else { throw .unreadable(path: directory, reason: "not a directory") }
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let configJSON = try readUTF8(configPath)
        let probe = try decodeJSON(Probe.self, path: configPath)
        let weightsPath = (directory as NSString).appendingPathComponent("model.safetensors")
        switch probe.modelType {
        case "bert":
            let checkpoint = try SafetensorsFile(path: weightsPath)
            let bert = try BertModel.load(directory: directory, configJSON: configJSON, checkpoint: checkpoint)
            checkpoint.releasePages()  // the model keeps the mapping for its word embeddings (MappedRows)
            return .bert(bert)
        case "gpt2":
            return .gpt2(try GPT2Model.load(directory: directory, configJSON: configJSON, checkpoint: try SafetensorsFile(path: weightsPath)))
        case "marian":
            return .marian(try MarianModel.load(directory: directory, configJSON: configJSON, checkpoint: try SafetensorsFile(path: weightsPath)))
        default:
            throw .unsupportedModelType(path: configPath, found: probe.modelType, supported: supported)
        }
    }

    /// The model type named in a directory's config.json, without loading weights.
    public static func modelType(directory: String) throws(ModelError) -> String {
        try decodeJSON(Probe.self, path: (directory as NSString).appendingPathComponent("config.json")).modelType
    }
}

/// Text in, Trace out: tokenizes, runs the forward pass with a recorder and gathers the record.
public enum Tracer {
    /// The same tokens right-padded with `padCount` pad tokens and a padding mask, as the
    /// sentence would run inside a batch with a longer one. The trace's tokens include the pads.
    public static func tracePadded(model: LoadedModel, padToken: (text: String, id: Int), tokens: [Token], padCount: Int,
                                   sha256: String? = nil) throws(ModelError) -> Trace {
        switch model {
        case .gpt2, .marian:
            throw .input(path: "input", problem: "padding runs are made for BERT models only")
        case let .bert(bert):
            let padded = tokens + (0..<padCount).map { _ in Token(text: padToken.text, id: padToken.id, typeId: 0, range: nil, isSpecial: true) }
            let mask = padded.indices.map { $0 < tokens.count }
            let recorder = Recorder()
            let last = try bert.forward(ids: padded.map(\.id), typeIds: padded.map(\.typeId), keyMask: mask, recorder: recorder)
            var info = bert.info
            info.sha256 = sha256
            return Trace(model: info, tokens: padded, truncatedTokens: 0, embeddings: recorder.embeddings,
                         layers: recorder.layers, lastHidden: last)
        }
    }

    /// Runs already-tokenized input. Encoder–decoder models take the decoder's ids too
    /// (default: the decoder start token).
    public static func trace(model: LoadedModel, tokens: [Token], dropped: Int = 0, decoderTokens: [Token]? = nil,
                             sha256: String? = nil) throws(ModelError) -> Trace {
        var info = model.info
        info.sha256 = sha256
        let recorder = Recorder()
        switch model {
        case let .bert(bert):
            let last = try bert.forward(ids: tokens.map(\.id), typeIds: tokens.map(\.typeId), recorder: recorder)
            return Trace(model: info, tokens: tokens, truncatedTokens: dropped, embeddings: recorder.embeddings, layers: recorder.layers, lastHidden: last)
        case let .gpt2(gpt):
            let (hidden, logits) = try gpt.forward(ids: tokens.map(\.id), recorder: recorder)
            return Trace(model: info, tokens: tokens, truncatedTokens: dropped, embeddings: recorder.embeddings, layers: recorder.layers,
                         lastHidden: hidden, logits: logits)
        case let .marian(marian):
            let pad = marian.config.padTokenId
            let mask = tokens.map { $0.id != pad }
            let encoded = try marian.encode(ids: tokens.map(\.id), mask: mask.allSatisfy { $0 } ? nil : mask, recorder: recorder)
            let target = decoderTokens ?? [Token(text: "<start>", id: marian.config.decoderStartTokenId ?? pad ?? 0, range: nil, isSpecial: true)]
            var cache = marian.emptyCache()
            let (hidden, logits) = try marian.decode(ids: target.map(\.id), encoderOutput: encoded, encoderMask: mask.allSatisfy { $0 } ? nil : mask,
                                                     cache: &cache, recorder: recorder)
            return Trace(model: info, tokens: tokens, truncatedTokens: dropped, embeddings: recorder.embeddings, layers: recorder.layers,
                         lastHidden: hidden, decoderTokens: target, decoderEmbeddings: recorder.decoderEmbeddings, logits: logits)
        }
    }
}
