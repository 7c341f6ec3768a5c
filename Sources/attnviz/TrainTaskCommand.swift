import ArgumentParser
import AttnvizModel
import AttnvizTensor
import Foundation

extension SyntheticTask: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {}

/// The size of a model `train --task` creates.
struct TaskShapeOptions: ParsableArguments {
    @Option(help: "Width d_model (--task).")
    var dModel: Int = 64
    @Option(help: "Encoder layers = decoder layers (--task).")
    var layers: Int = 2
    @Option(help: "Attention heads (--task).")
    var heads: Int = 4
    @Option(help: "Feed-forward width (--task; default 4 · d_model).")
    var ffn: Int?
    @Option(help: "Feed-forward activation (--task).")
    var activation: Activation = .relu
    @Option(help: "Longest input in characters (--task).")
    var maxCharacters: Int = 48
    @Option(help: "Sentences per step (--task).")
    var batchSize: Int = 64
    @Option(help: "Training-log line every N steps (--task).")
    var logEvery: Int = 50
    @Option(help: ArgumentHelp("Word list for the training sentences (--task; default: the MiniLM vocab.txt set-up fetches).", valueName: "vocab.txt"))
    var words: String?

    var modelShape: TaskModelShape {
        TaskModelShape(dModel: dModel, layers: layers, heads: heads, ffn: ffn ?? 4 * dModel, activation: activation, maxCharacters: maxCharacters)
    }
}

extension Attnviz.Train {
    func runTask(_ task: SyntheticTask) throws {
        let steps = self.steps ?? 4000
        let s = shape.modelShape
        guard s.dModel > 0, s.layers > 0, s.heads > 0, s.ffn > 0, s.dModel % s.heads == 0, s.dModel % 2 == 0 else {
            throw ValidationError("--d-model must be even and divisible by --heads; sizes must be positive (got d_model \(s.dModel), \(s.heads) heads)")
        }
        guard (2...1000).contains(s.maxCharacters), shape.batchSize > 0, shape.logEvery > 0 else {
            throw ValidationError("--max-characters must be in 2...1000, --batch-size and --log-every positive")
        }
        try attempt {
            let wordsPath = shape.words ?? (ModelRegistry.defaultDirectory as NSString).appendingPathComponent("vocab.txt")
            let words = try SentenceGenerator.words(vocabulary: wordsPath)
            let rates = DropoutRates(hidden: dropout ?? 0.1, attention: dropout ?? 0.1, activation: 0)
            let options = TrainingOptions(steps: steps, labelSmoothing: labelSmoothing, dropout: rates,
                                          warmup: warmup ?? max(1, steps / 10), lrFactor: lrFactor, seed: seed)
            let (net, configData) = try TaskTraining.network(s, dropout: rates, seed: seed)
            var logLines: [String] = []
            let progress = Progress(total: steps, quiet: quiet)
            let start = Date()
            try TaskTraining.train(net, task: task, words: words, shape: s, options: options, batchSize: shape.batchSize,
                                   logEvery: shape.logEvery, onLog: { entry in logLines.append(entry.jsonLine) },
                                   onStep: { progress.report(step: $0.step, loss: $0.loss) })
            var block = options.json
            block["task"] = task.rawValue
            block["vocabulary"] = CharVocabulary.fileName
            block["training_log"] = TaskTraining.logFile
            block["batch_size"] = shape.batchSize
            block["max_characters"] = s.maxCharacters
            block["words"] = (wordsPath as NSString).lastPathComponent
            block["training_seconds"] = (Date().timeIntervalSince(start) * 10).rounded() / 10
            block["attnviz_version"] = TraceExport.version
            var files = try MarianTraining.modelFiles(net, configData: configData, configPath: "train --task", attnviz: block)
            files.append((CharVocabulary.fileName, CharVocabulary().json()))
            files.append((TaskTraining.logFile, Data(logLines.map { $0 + "\n" }.joined().utf8)))
            try MarianTraining.writeDirectory(out, files: files)
        }
    }
}
