import ArgumentParser
import AttnvizModel
import Foundation

extension Attnviz {
    struct Trace: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Runs the text through the model and writes every attention map and hidden state.",
            discussion: "Writes FILE.safetensors (attn.L*, scores.L*, hidden.L*, ffn_act.L*) and a .json sidecar with tokens, ids and the model's config. See README, 'Trace format'.")

        @Argument(help: ArgumentHelp("UTF-8 text file, or - for standard input.", valueName: "file"))
        var input: String

        @OptionGroup var modelOptions: ModelOptions

        @Option(help: ArgumentHelp("A second text file: a sentence pair (token types 0 and 1).", valueName: "file2"))
        var pair: String?

        @Option(help: ArgumentHelp("Where to write the trace (.safetensors; the .json goes beside it).", valueName: "path"))
        var out: String

        func validate() throws {
            guard out.hasSuffix(".safetensors") else { throw ValidationError("--out must end in .safetensors, got '\(out)'") }
        }

        func run() throws {
            try attempt {
                let text = try readInputText(input)
                let second = try pair.map { try readInputText($0) }
                let session = try Session.open(directory: modelOptions.directory)
                let trace = try session.trace(text: text, pair: second)
                try TraceExport.write(trace, to: out)
            }
        }
    }
}
