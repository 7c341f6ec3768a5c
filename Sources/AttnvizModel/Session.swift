import AttnvizTrace
import Foundation

/// A loaded model with its tokenizer and checkpoint hash: what a command needs to turn text
/// into Traces.
public struct Session: Sendable {
    public let model: LoadedModel
    public let tokenizer: WordPieceTokenizer
    public let sha256: String?

    /// `note` receives informational messages (unused checkpoint tensors); nil keeps them quiet.
    public static func open(directory: String, note: ((String) -> Void)? = Session.stderrNote) throws(ModelError) -> Session {
        let model = try ModelRegistry.load(directory: directory)
        let tokenizer = try WordPieceTokenizer.load(directory: directory)
        if !model.ignoredTensors.isEmpty {
            let groups = BertModel.describe(model.ignoredTensors)
            note?("\(model.ignoredTensors.count) checkpoint tensors not used (\(groups))")
        }
        let home = ProcessInfo.processInfo.environment["ATTNVIZ_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/attnviz")
        let sha = try? SHA256.file((directory as NSString).appendingPathComponent("model.safetensors"), cacheDirectory: home)
        return Session(model: model, tokenizer: tokenizer, sha256: sha)
    }

    public static let stderrNote: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("attnviz: note: \($0)\n".utf8)) }

    /// The sentence of `trace` padded with `padCount` pad tokens under a padding mask.
    public func tracePadded(_ trace: Trace, padCount: Int) throws(ModelError) -> Trace {
        try Tracer.tracePadded(model: model, tokenizer: tokenizer, tokens: trace.tokens, padCount: padCount, sha256: sha256)
    }

    /// Tokenizes and runs the text, warning on stderr when it had to be truncated.
    public func trace(text: String, pair: String? = nil) throws(ModelError) -> Trace {
        let trace = try Tracer.trace(model: model, tokenizer: tokenizer, text: text, pair: pair, sha256: sha256)
        if trace.truncatedTokens > 0 {
            FileHandle.standardError.write(Data(
                "attnviz: warning: input is longer than the model's \(trace.model.maxPositions) positions: \(trace.truncatedTokens) tokens were dropped\n".utf8))
        }
        return trace
    }
}
