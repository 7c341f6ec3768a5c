import AttnvizTrace
import Foundation

/// A loaded model with its tokenizer and checkpoint hash: what a command needs to turn text
/// into Traces.
public struct Session: Sendable {
    public let model: LoadedModel
    public let tokenizer: WordPieceTokenizer
    public let sha256: String?

    public static func open(directory: String) throws(ModelError) -> Session {
        let model = try ModelRegistry.load(directory: directory)
        let tokenizer = try WordPieceTokenizer.load(directory: directory)
        if !model.ignoredTensors.isEmpty {
            let groups = BertModel.describe(model.ignoredTensors)
            FileHandle.standardError.write(Data("attnviz: note: \(model.ignoredTensors.count) checkpoint tensors not used (\(groups))\n".utf8))
        }
        let home = ProcessInfo.processInfo.environment["ATTNVIZ_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/attnviz")
        let sha = try? SHA256.file((directory as NSString).appendingPathComponent("model.safetensors"), cacheDirectory: home)
        return Session(model: model, tokenizer: tokenizer, sha256: sha)
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
