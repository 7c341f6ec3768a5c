import ArgumentParser
import AttnvizModel
import AttnvizTensor
import Foundation

extension Attnviz {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Trains a Marian encoder-decoder (backward pass, Adam, the paper's warmup schedule) in float32.",
            discussion: """
            attnviz train --task NAME --out DIR trains a new model from scratch on a synthetic task (reverse-words, \
            reverse-chars) with attnviz's character vocabulary.
            attnviz train --init DIR --batches FILE.jsonl --steps K --out DIR2 starts from an existing Marian directory \
            and trains on the given batches: one JSON object per line with input_ids [B, S], decoder_input_ids [B, T] \
            and labels [B, T], right-padded with the config's pad id. Step k uses line k, cycling. The loss is the \
            label-smoothed cross-entropy averaged over labels that are not the pad id. See README, 'Training'.
            """)

        @Option(help: ArgumentHelp("A synthetic task to train a new model on: \(SyntheticTask.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "name"))
        var task: SyntheticTask?

        @Option(help: ArgumentHelp("The Marian directory to start from (config.json, model.safetensors).", valueName: "dir"))
        var `init`: String?

        @Option(help: ArgumentHelp("Training batches for --init, one JSON object per line.", valueName: "file.jsonl"))
        var batches: String?

        @Option(help: "Optimizer steps (default 4000 with --task).")
        var steps: Int?

        @OptionGroup var shape: TaskShapeOptions

        @Option(help: ArgumentHelp("Where to write the trained model (config.json with an 'attnviz' block, model.safetensors).", valueName: "dir2"))
        var out: String

        @Option(help: ArgumentHelp("Label smoothing ε: the target is (1 − ε)·one-hot + ε/V.", valueName: "ε"))
        var labelSmoothing: Double = 0.1

        @Option(help: ArgumentHelp("Dropout after embeddings and sub-layers and on attention weights (default: config.json's dropout and attention_dropout).", valueName: "p"))
        var dropout: Double?

        @Option(help: ArgumentHelp("Warmup steps of the learning-rate schedule (default 4000 with --init, 10% of the steps with --task).", valueName: "W"))
        var warmup: Int?

        @Option(help: ArgumentHelp("lr(step) = F · d_model^−0.5 · min(step^−0.5, step · W^−1.5).", valueName: "F"))
        var lrFactor: Double = 1

        @Option(help: "Seed of the dropout masks.")
        var seed: UInt64 = 0

        @Option(help: ArgumentHelp("Write the first step's gradients here (transformers' parameter names).", valueName: "g.safetensors"))
        var dumpGradients: String?

        @Option(help: ArgumentHelp("Write one JSON line per step (step, loss, lr, tokens, accuracy).", valueName: "l.jsonl"))
        var log: String?

        @Flag(help: "No progress on stderr.")
        var quiet = false

        func validate() throws {
            guard (task == nil) != (`init` == nil) else { throw ValidationError("give --task NAME or --init DIR, not both and not neither") }
            if `init` != nil {
                guard batches != nil else { throw ValidationError("--init needs --batches FILE.jsonl") }
                guard steps != nil else { throw ValidationError("--init needs --steps K") }
            } else if batches != nil {
                throw ValidationError("--batches goes with --init")
            }
            if let steps, steps <= 0 { throw ValidationError("--steps must be positive, got \(steps)") }
            if let warmup, warmup <= 0 { throw ValidationError("--warmup must be positive, got \(warmup)") }
            guard lrFactor > 0, lrFactor.isFinite else { throw ValidationError("--lr-factor must be positive, got \(lrFactor)") }
            guard (0..<1).contains(labelSmoothing) else { throw ValidationError("--label-smoothing must be in [0, 1), got \(labelSmoothing)") }
            if let dropout, !(0..<1).contains(dropout) { throw ValidationError("--dropout must be in [0, 1), got \(dropout)") }
            if let dumpGradients, !dumpGradients.hasSuffix(".safetensors") {
                throw ValidationError("--dump-gradients must end in .safetensors, got '\(dumpGradients)'")
            }
        }

        func run() throws {
            if let task { return try runTask(task) }
            guard let initDir = `init`, let batches, let steps else { return }
            try attempt {
                let checkpoint = try MarianCheckpoint.load(directory: initDir)
                let data = try TrainingBatches.read(path: batches, config: checkpoint.config)
                let net = MarianNetwork<Float>(checkpoint: checkpoint)
                var rates = checkpoint.dropout
                if let dropout { rates.hidden = dropout; rates.attention = dropout }
                let options = TrainingOptions(steps: steps, labelSmoothing: labelSmoothing, dropout: rates, warmup: warmup ?? 4000,
                                              lrFactor: lrFactor, seed: seed)
                var lines: [String] = []
                let progress = Progress(total: steps, quiet: quiet)
                try MarianTraining.run(net, batches: data, options: options, firstGradients: { grads throws(ModelError) in
                    if let dumpGradients {
                        try MarianTraining.writeFile(dumpGradients, SafetensorsWriter.encode(grads.mapValues { .float($0) }, metadata: ["format": "pt"]))
                    }
                }, onStep: { entry in
                    lines.append(entry.jsonLine)
                    progress.report(step: entry.step, loss: entry.loss)
                })
                if let log { try MarianTraining.writeFile(log, Data(lines.map { $0 + "\n" }.joined().utf8)) }
                var block = options.json
                block["init"] = initDir
                block["batches"] = batches
                block["attnviz_version"] = TraceExport.version
                let files = try MarianTraining.modelFiles(net, configData: checkpoint.configData,
                                                          configPath: (initDir as NSString).appendingPathComponent("config.json"), attnviz: block)
                try MarianTraining.writeDirectory(out, files: files)
            }
        }
    }
}

/// Training progress on stderr: step, loss, steps per second and an ETA, at most twice a second.
final class Progress {
    let total: Int, quiet: Bool
    let start = Date()
    var last = Date.distantPast

    init(total: Int, quiet: Bool) { self.total = total; self.quiet = quiet }

    func report(step: Int, loss: Double) {
        guard !quiet else { return }
        let now = Date()
        guard step == total || now.timeIntervalSince(last) >= 0.5 else { return }
        last = now
        let elapsed = now.timeIntervalSince(start)
        let eta = elapsed / Double(step) * Double(total - step)
        let line = String(format: "\rattnviz train: step %d/%d  loss %.4f  %.1f steps/s  ETA ", step, total, loss,
                          Double(step) / max(elapsed, 1e-9)) + Self.clock(eta)
        FileHandle.standardError.write(Data((line + (step == total ? "\n" : "")).utf8))
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
