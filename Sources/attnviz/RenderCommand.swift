import ArgumentParser
import AttnvizModel
import AttnvizRender
import AttnvizReport
import AttnvizTrace
import Foundation

extension FigureFormat: ExpressibleByArgument {}

extension Attnviz {
    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Writes the HTML study report for a sentence: every section computed from this run.",
            discussion: "The report is one folder (index.html, style.css, figures/) that works offline and can be moved. It is built in a temporary folder and moved into place at the end.")

        @Argument(help: ArgumentHelp("UTF-8 text file, or - for standard input (the whole input is one sequence).", valueName: "file"))
        var input: String

        @OptionGroup var modelOptions: ModelOptions

        @Option(help: ArgumentHelp("A second text file: a sentence pair (segments A and B).", valueName: "file2"))
        var pair: String?

        @Option(name: .long, help: ArgumentHelp("Report folder (default: output/<input name>/).", valueName: "dir"))
        var output: String?

        @Option(help: ArgumentHelp("Layers to draw in detail, e.g. 0,2-4 (default: all).", valueName: "list"))
        var layers: IndexList?

        @Option(help: ArgumentHelp("Heads to draw in detail, e.g. 0-3 (default: all).", valueName: "list"))
        var heads: IndexList?

        @Option(help: ArgumentHelp("Figure format: png, svg or pdf (pdf figures get PNG previews in the page).", valueName: "format"))
        var format: FigureFormat = .png

        @Option(help: ArgumentHelp("Report templates folder (default: found beside the binary or in its checkout).", valueName: "dir"))
        var templates: String?

        @Option(name: .customLong("decoder-model"), help: ArgumentHelp("Encoder–decoder for the decoder and training sections (default: $ATTNVIZ_DECODER_MODEL, else the shipped models/reverse-words of the checkout).", valueName: "dir"))
        var decoderModel: String?

        @Flag(help: "No progress messages on stderr.")
        var quiet = false

        @Flag(name: .customLong("no-timings"), help: "Leave out measured times (sections then show counts only), so the same input gives byte-identical reports.")
        var noTimings = false

        func validate() throws {
            if let output, output.isEmpty { throw ValidationError("--output must not be empty") }
            if input != "-", input.isEmpty { throw ValidationError("give a text file or - for standard input") }
        }

        var outputFolder: String {
            if let output { return output }
            let base = input == "-" ? "stdin" : ((input as NSString).lastPathComponent as NSString).deletingPathExtension
            return "output/" + (base.isEmpty ? "report" : base)
        }

        func run() throws {
            let quiet = self.quiet
            let say: @Sendable (String) -> Void = { message in
                if !quiet { FileHandle.standardError.write(Data("attnviz: \(message)\n".utf8)) }
            }
            try attempt { try execute(say: say) }
        }

        func execute(say: @escaping @Sendable (String) -> Void) throws {
                let templatesDir = try TemplateLocator.find(override: templates)
                let text = try readInputText(input)
                let second = try pair.map { try readInputText($0) }
                // tokenize and trace follow HF on whitespace-only text; a study report of it would
                // have no token of the user's to show.
                for (path, t) in [(input, text)] + (pair.flatMap { p in second.map { [(p, $0)] } } ?? []) where t.allSatisfy(\.isWhitespace) {
                    throw CommandFailure(message: "\(path == "-" ? "standard input" : path): the text is only whitespace; a report needs at least one word")
                }
                say("loading \(modelOptions.directory)")
                let note: ((String) -> Void)? = quiet ? nil : { Session.stderrNote($0) }
                let session = try Session.open(directory: modelOptions.directory, note: note)
                let trace = try session.trace(text: text, pair: second, source: input)
                let info = trace.model
                let drawn = trace.encoderSide.layers.count  // an encoder–decoder's --layers are its encoder layers
                if let bad = layers?.values.first(where: { $0 >= drawn }) {
                    throw CommandFailure(message: "--layers: layer \(bad) does not exist (the model has \(drawn): 0-\(drawn - 1))")
                }
                if let bad = heads?.values.first(where: { $0 >= info.heads }) {
                    throw CommandFailure(message: "--heads: head \(bad) does not exist (the model has \(info.heads): 0-\(info.heads - 1))")
                }
                let study = Study(inputName: input == "-" ? "standard input" : (input as NSString).lastPathComponent, text: text, pair: second,
                                  trace: trace, layers: layers?.values, heads: heads?.values, format: format, timings: !noTimings)
                // Experiments are made as the sections ask for them and dropped after their last reader.
                let companion = Companion.open(directory: decoderModel), drawnLayer = study.layers.first ?? 0
                try ReportBuilder(templates: templatesDir, progress: say).write(study, to: outputFolder) { e in
                    session.run([e], base: trace, companion: companion, drawnLayer: drawnLayer)[e] ?? .unavailable("the run did not finish")
                }
                print(URL(fileURLWithPath: outputFolder).appendingPathComponent("index.html").standardized.path)
        }
    }
}
