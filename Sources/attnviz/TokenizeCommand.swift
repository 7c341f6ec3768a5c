import ArgumentParser
import AttnvizModel
import Foundation

extension Attnviz {
    struct Tokenize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prints the pieces and ids of the whole input as one sequence with [CLS]/[SEP].",
            discussion: "Loads only the vocabulary, not the weights.")

        @Argument(help: ArgumentHelp("UTF-8 text file, or - for standard input.", valueName: "file"))
        var input: String

        @OptionGroup var modelOptions: ModelOptions

        @Flag(help: "Print {\"tokens\": [...], \"ids\": [...]} instead of one piece per line.")
        var json = false

        func run() throws {
            try attempt {
                let text = try readInputText(input)
                let tokenizer = try WordPieceTokenizer.load(directory: modelOptions.directory)
                let (tokens, _) = tokenizer.encode(text)
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
