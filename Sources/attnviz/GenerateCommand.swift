import ArgumentParser
import AttnvizModel
import Foundation

extension Attnviz {
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Greedy-decodes each line of the input with a model attnviz trained (key/value cache) and prints the outputs.",
            discussion: "Whitespace runs become one space; characters outside printable ASCII become <unk> (shown as U+FFFD).")

        @Argument(help: ArgumentHelp("UTF-8 text file, one input per line, or - for standard input.", valueName: "file"))
        var input: String?

        @Option(help: ArgumentHelp("A model directory written by attnviz train --task.", valueName: "dir"))
        var model: String

        @Flag(help: "Print JSON: per input its tokens, per-step times and the number of forward calls.")
        var json = false

        @Option(help: ArgumentHelp("Instead of a file: N sentences of the model's task (another seed than training), and the exact-match rate of the greedy outputs.", valueName: "N"))
        var heldOut: Int?

        @Option(help: "Seed of the --held-out sentences (default: the training seed + 1).")
        var seed: UInt64?

        @Option(help: ArgumentHelp("Word list of the --held-out sentences (default: the MiniLM vocab.txt set-up fetches).", valueName: "vocab.txt"))
        var words: String?

        func validate() throws {
            guard (input == nil) != (heldOut == nil) else { throw ValidationError("give a text file or --held-out N, not both and not neither") }
            if let heldOut, heldOut <= 0 { throw ValidationError("--held-out must be positive, got \(heldOut)") }
        }

        func run() throws {
            if let heldOut { return try evaluate(heldOut) }
            try attempt {
                let text = try readInputText(input ?? "-")
                let marian = try loadMarian()
                let vocabulary = try CharVocabulary.load(directory: model)
                guard marian.config.vocabSize == vocabulary.count else {
                    throw CommandFailure(message: "\(model)/config.json: vocab_size is \(marian.config.vocabSize), the character vocabulary has \(vocabulary.count)")
                }
                var results: [[String: Any]] = []
                for line in text.split(separator: "\n") where !SyntheticTask.normalize(String(line)).isEmpty {
                    let source = SyntheticTask.normalize(String(line))
                    let out = try marian.greedy(source: vocabulary.encode(source), maxLength: marian.config.maxPositionEmbeddings, eos: CharVocabulary.eos)
                    let output = vocabulary.decode(out.ids)
                    if json {
                        results.append(["input": source, "output": output, "tokens": out.ids.map { vocabulary.tokens[$0] },
                                        "ids": out.ids, "step_ms": out.stepSeconds.map { ($0 * 1e5).rounded() / 100 },
                                        "encoder_ms": (out.encoderSeconds * 1e5).rounded() / 100, "forward_calls": out.forwardCalls])
                    } else {
                        print(output)
                    }
                }
                if json {
                    let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                }
            }
        }
    
        func loadMarian() throws -> MarianModel {
            guard case let .marian(marian) = try ModelRegistry.load(directory: model) else {
                throw CommandFailure(message: "\(model): generate needs an encoder-decoder (Marian) model attnviz trained")
            }
            return marian
        }

        /// Exact match of greedy outputs on held-out sentences; the failures on stderr.
        func evaluate(_ count: Int) throws {
            try attempt {
                let marian = try loadMarian()
                let (card, task) = try TaskModelCard.load(directory: model)
                let list = try SentenceGenerator.words(vocabulary: words ?? (ModelRegistry.defaultDirectory as NSString).appendingPathComponent("vocab.txt"))
                var generator = SentenceGenerator(words: list, seed: seed ?? card.attnviz.seed &+ 1, maxCharacters: card.attnviz.maxCharacters)
                let sentences = (0..<count).map { _ in generator.next() }
                let (rate, failures) = try TaskTraining.evaluate(marian, task: task, sentences: sentences)
                for f in failures.prefix(20) { warn("input \(String(reflecting: f.input)): expected \(String(reflecting: f.expected)), got \(String(reflecting: f.found))") }
                print("\(task.rawValue): exact match \(count - failures.count)/\(count) = " + String(format: "%.1f%%", rate * 100))
            }
        }
    }
}
