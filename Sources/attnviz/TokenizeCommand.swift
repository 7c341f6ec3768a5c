import ArgumentParser
import AttnvizModel
import Foundation

extension Attnviz {
    struct Tokenize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prints the pieces and ids of the whole input as one sequence (BERT: with [CLS]/[SEP]).",
            discussion: "Loads only the vocabulary, not the weights.")

        @Argument(help: ArgumentHelp("UTF-8 text file, or - for standard input.", valueName: "file"))
        var input: String

        @OptionGroup var modelOptions: ModelOptions

        @Flag(help: "Print {\"tokens\": [...], \"ids\": [...]} instead of one piece per line.")
        var json = false

        func run() throws {
            try attempt {
                let text = try readInputText(input)
                let directory = modelOptions.directory
                let type = try ModelRegistry.modelType(directory: directory)
                guard ModelRegistry.supported.contains(type) else {
                    throw ModelError.unsupportedModelType(path: (directory as NSString).appendingPathComponent("config.json"),
                                                          found: type, supported: ModelRegistry.supported)
                }
                guard let tokenizer = try TextTokenizer.load(directory: directory, modelType: type) else {
                    throw CommandFailure(message: "\(directory): attnviz does not read this \(type) model's tokenizer (SentencePiece)")
                }
                let (tokens, _) = try tokenizer.encode(text, pair: nil, maxLength: Int.max, source: input)
                if json {
                    let object: [String: Any] = ["tokens": tokens.map(\.text), "ids": tokens.map(\.id)]
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    for t in tokens { print("\(t.text)\t\(t.id)") }
                }
            }
        }
    }
}
