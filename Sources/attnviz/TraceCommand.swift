import ArgumentParser
import AttnvizModel
import AttnvizTrace
import Foundation

extension Attnviz {
    struct Trace: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Runs the text through the model and writes every attention map and hidden state.",
            discussion: "Writes FILE.safetensors (attn.L*, scores.L*, hidden.L*, ffn_act.L*) and a .json sidecar with tokens, ids and the model's config. See README, 'Trace format'.")

        @Argument(help: ArgumentHelp("UTF-8 text file, or - for standard input (or give --input-ids).", valueName: "file"))
        var input: String?

        @Option(help: ArgumentHelp("Token ids to run instead of text, e.g. 5,6,7 (needed for models whose tokenizer attnviz does not read, such as Marian).", valueName: "ids"))
        var inputIds: IDList?

        @Option(help: ArgumentHelp("Decoder input ids of an encoder-decoder model, e.g. 63,8,9 (default: the decoder start token).", valueName: "ids"))
        var decoderInputIds: IDList?

        @OptionGroup var modelOptions: ModelOptions

        @Option(help: ArgumentHelp("A second text file: a sentence pair (token types 0 and 1).", valueName: "file2"))
        var pair: String?

        @Option(help: ArgumentHelp("Where to write the trace (.safetensors; the .json goes beside it).", valueName: "path"))
        var out: String

        func validate() throws {
            guard out.hasSuffix(".safetensors") else { throw ValidationError("--out must end in .safetensors, got '\(out)'") }
            guard (input == nil) != (inputIds == nil) else { throw ValidationError("give a text file or --input-ids, not both and not neither") }
            if pair != nil, input == nil { throw ValidationError("--pair goes with a text file") }
            if decoderInputIds != nil, inputIds == nil { throw ValidationError("--decoder-input-ids goes with --input-ids") }
        }

        func run() throws {
            try attempt {
                let trace: AttnvizTrace.Trace
                if let input {
                    let text = try readInputText(input)
                    let second = try pair.map { try readInputText($0) }
                    trace = try Session.open(directory: modelOptions.directory).trace(text: text, pair: second, source: input)
                } else {
                    trace = try Session.open(directory: modelOptions.directory).trace(inputIDs: inputIds?.values ?? [], decoderInputIDs: decoderInputIds?.values)
                }
                // Never write over what this run reads: the input texts and the model's files.
                let directory = modelOptions.directory
                let modelFiles = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                    .map { (directory as NSString).appendingPathComponent($0) }
                let inputs = [input, pair].compactMap { $0 }.filter { $0 != "-" }
                try TraceExport.write(trace, to: out, protected: inputs + modelFiles)
            }
        }
    }
}

/// `5,6,7` → [5, 6, 7].
struct IDList: ExpressibleByArgument, Sendable {
    let values: [Int]
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        values = parts.compactMap { $0 }
    }
}
