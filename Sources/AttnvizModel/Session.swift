import AttnvizTrace
import Foundation

/// A tokenizer attnviz can read from a model directory.
public enum TextTokenizer: Sendable {
    case wordPiece(WordPieceTokenizer)
    case bpe(ByteLevelBPE)
    /// The character vocabulary of an encoder–decoder attnviz trained (config.json's "attnviz" block).
    case task(TaskTokenizer)

    /// The tokenizer a model type uses; nil when attnviz does not read it (Marian's SentencePiece,
    /// unless attnviz trained the model: then its character vocabulary).
    public static func load(directory: String, modelType: String, maxPositions: Int = Int.max) throws(ModelError) -> TextTokenizer? {
        switch modelType {
        case "bert": return .wordPiece(try WordPieceTokenizer.load(directory: directory))
        case "gpt2": return .bpe(try ByteLevelBPE.load(directory: directory))
        case "marian": return try TaskTokenizer.load(directory: directory, maxPositions: maxPositions).map { .task($0) }
        default: return nil
        }
    }

    /// Tokens of one sequence (BERT: [CLS] A [SEP] (B [SEP]); GPT-2: the pieces, no specials),
    /// cut to `maxLength`, with how many were dropped.
    public func encode(_ text: String, pair: String?, maxLength: Int, source: String) throws(ModelError) -> (tokens: [Token], dropped: Int) {
        switch self {
        case let .wordPiece(t):
            return t.encode(text, pair: pair, maxLength: maxLength)
        case let .bpe(t):
            if pair != nil { throw .input(path: source, problem: "--pair needs a model with segment embeddings (BERT); GPT-2 reads one sequence") }
            let tokens = try t.tokenize(text, limit: maxLength == Int.max ? nil : maxLength + 1)
            return (Array(tokens.prefix(maxLength)), max(0, tokens.count - maxLength))
        case let .task(t):
            if pair != nil { throw .input(path: source, problem: "--pair needs a model with segment embeddings (BERT); this encoder–decoder reads one text") }
            let (tokens, _, dropped, _) = t.encode(text)
            return (tokens, dropped)
        }
    }

    public var padToken: (text: String, id: Int)? {
        switch self {
        case let .wordPiece(t): return t.vocab[t.options.pad].map { (t.options.pad, $0) }
        case .bpe, .task: return nil
        }
    }
}

/// A loaded model with its tokenizer and checkpoint hash: what a command needs to turn input
/// into Traces.
public struct Session: Sendable {
    public let model: LoadedModel
    public let tokenizer: TextTokenizer?
    public let sha256: String?
    public let directory: String
    /// id → token text, for input given as ids.
    let vocabulary: [Int: String]

    /// `note` receives informational messages (unused checkpoint tensors); nil keeps them quiet.
    public static func open(directory: String, note: ((String) -> Void)? = Session.stderrNote) throws(ModelError) -> Session {
        let model = try ModelRegistry.load(directory: directory)
        let tokenizer = try TextTokenizer.load(directory: directory, modelType: model.info.modelType, maxPositions: model.info.maxPositions)
        try tokenizer?.checkFits(vocabSize: model.info.vocabSize, directory: directory)
        if !model.ignoredTensors.isEmpty {
            note?("\(model.ignoredTensors.count) checkpoint tensors not used (\(BertModel.describe(model.ignoredTensors)))")
        }
        let home = ProcessInfo.processInfo.environment["ATTNVIZ_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/attnviz")
        let sha = try? SHA256.file((directory as NSString).appendingPathComponent("model.safetensors"), cacheDirectory: home)
        var vocabulary: [Int: String] = [:]
        switch tokenizer {
        case let .wordPiece(t)?: for (i, s) in t.idToToken.enumerated() { vocabulary[i] = s }
        case let .bpe(t)?: vocabulary = t.idToToken
        case let .task(t)?: for (i, s) in t.vocabulary.tokens.enumerated() { vocabulary[i] = s }
        case nil:
            let path = (directory as NSString).appendingPathComponent("vocab.json")
            if let v = try? decodeJSON([String: Int].self, path: path) { for (s, i) in v { vocabulary[i] = s } }
        }
        return Session(model: model, tokenizer: tokenizer, sha256: sha, directory: directory, vocabulary: vocabulary)
    }

    public static let stderrNote: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("attnviz: note: \($0)\n".utf8)) }

    /// The tokenizer, or the error that says this model's text cannot be read.
    public func requireTokenizer() throws(ModelError) -> TextTokenizer {
        guard let tokenizer else {
            throw .input(path: directory, problem: "attnviz does not read this \(model.info.modelType) model's tokenizer (SentencePiece); give token ids with --input-ids and --decoder-input-ids")
        }
        return tokenizer
    }

    /// Tokenizes and runs the text, warning on stderr when it had to be truncated.
    public func trace(text: String, pair: String? = nil, source: String = "input") throws(ModelError) -> Trace {
        if case let .task(t)? = tokenizer { return try traceTask(t, text: text, pair: pair, source: source) }
        let (tokens, dropped) = try requireTokenizer().encode(text, pair: pair, maxLength: model.info.maxPositions, source: source)
        guard !tokens.isEmpty else { throw .input(path: source, problem: "the text gives no tokens") }
        let trace = try Tracer.trace(model: model, tokens: tokens, dropped: dropped, sha256: sha256)
        if trace.truncatedTokens > 0 {
            FileHandle.standardError.write(Data(
                "attnviz: warning: input is longer than the model's \(trace.model.maxPositions) positions: \(trace.truncatedTokens) tokens were dropped\n".utf8))
        }
        return trace
    }

    /// An attnviz task model on `text`: the source characters (cut at a word boundary to the model's
    /// characters; truncatedTokens counts the characters dropped) and the teacher-forced decoder input
    /// (start token + the task's gold output shifted right).
    func traceTask(_ t: TaskTokenizer, text: String, pair: String?, source: String) throws(ModelError) -> Trace {
        if pair != nil { throw .input(path: source, problem: "--pair needs a model with segment embeddings (BERT); this encoder–decoder reads one text") }
        let (tokens, decoder, dropped, _) = t.encode(text)
        guard !tokens.isEmpty else { throw .input(path: source, problem: "the text gives no characters") }
        let trace = try Tracer.trace(model: model, tokens: tokens, dropped: dropped, decoderTokens: decoder, sha256: sha256)
        if dropped > 0 {
            FileHandle.standardError.write(Data(
                "attnviz: warning: input is longer than the model's \(t.maxCharacters) characters: it was cut at a word boundary, \(dropped) characters were dropped\n".utf8))
        }
        return trace
    }

    /// Runs token ids given directly (any model); decoder ids for encoder–decoder models.
    public func trace(inputIDs: [Int], decoderInputIDs: [Int]?) throws(ModelError) -> Trace {
        func tokens(_ ids: [Int]) -> [Token] { ids.map { Token(text: vocabulary[$0] ?? "#\($0)", id: $0, range: nil, isSpecial: false) } }
        if decoderInputIDs != nil, model.info.architecture != .encoderDecoder {
            throw .input(path: "--decoder-input-ids", problem: "only encoder–decoder models have a decoder input; this is a \(model.info.modelType) model")
        }
        return try Tracer.trace(model: model, tokens: tokens(inputIDs), decoderTokens: decoderInputIDs.map(tokens), sha256: sha256)
    }

    /// The sentence of `trace` right-padded with `padCount` pad tokens under a padding mask, as
    /// inside a batch with a longer one. nil for models without a pad token (GPT-2). A Marian
    /// encoder–decoder pads its source: the encoder masks the pad keys (as in `Tracer.trace`) and the
    /// decoder reads the same decoder input as `trace`, cross-attending to the real source positions only.
    public func tracePadded(_ trace: Trace, padCount: Int) throws(ModelError) -> Trace? {
        if case let .marian(m) = model, let padId = m.config.padTokenId {
            let pads = (0..<padCount).map { _ in Token(text: "<pad>", id: padId, range: nil, isSpecial: true) }
            return try Tracer.trace(model: model, tokens: trace.tokens + pads, decoderTokens: trace.decoderTokens.isEmpty ? nil : trace.decoderTokens,
                                    sha256: sha256)
        }
        guard case .bert = model, let pad = tokenizer?.padToken else { return nil }
        return try Tracer.tracePadded(model: model, padToken: pad, tokens: trace.tokens, padCount: padCount, sha256: sha256)
    }
}
