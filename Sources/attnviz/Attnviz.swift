import ArgumentParser
import AttnvizModel
import AttnvizReport
import AttnvizTensor
import Foundation

@main
struct Attnviz: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attnviz",
        abstract: "Runs a sentence through a real Transformer and explains what happens inside.",
        version: TraceExport.version,
        subcommands: [Render.self, Trace.self, Tokenize.self, Train.self, Generate.self])

    static func main() {
        Memory.keepFreedMemory()  // a tuning hint: when glibc refuses it, nothing else changes
        // Past a file-size limit (ulimit -f) a write then fails with EFBIG, reported like a full
        // disk, instead of the process being killed by SIGXFSZ with a partial file left.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // --help and --version print as usual; every error is one line (ArgumentParser's
            // default adds the help and usage lines to usage errors).
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let hint = error is CommandFailure ? "" : " (see attnviz --help)"
            FileHandle.standardError.write(Data("Error: \(message)\(hint)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }
}

/// Options every command that loads a model shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A local HuggingFace model directory (config.json, model.safetensors, vocab).",
        discussion: "Default: $ATTNVIZ_MODEL, else the all-MiniLM-L6-v2 copy set-up puts in ~/.cache/attnviz.",
        valueName: "dir"))
    var model: String?

    var directory: String { model ?? ModelRegistry.defaultDirectory }
}

/// One line on stderr, for warnings that do not stop the run.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("attnviz: warning: \(message)\n".utf8))
}

/// Library errors reach the user as one line naming the file and the problem.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ error: any Error) { description = "\(error)" }
    init(message: String) { description = message }
}

func attempt<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ModelError { throw CommandFailure(e) } catch let e as ReportError { throw CommandFailure(e) }
}
