import AttnvizTensor
import Dispatch
import Foundation

/// Settings of one training run.
public struct TrainingOptions: Sendable {
    public var steps: Int
    public var labelSmoothing: Double
    public var dropout: DropoutRates
    public var warmup: Int
    public var lrFactor: Double
    public var seed: UInt64

    public init(steps: Int, labelSmoothing: Double, dropout: DropoutRates, warmup: Int, lrFactor: Double, seed: UInt64) {
        self.steps = steps; self.labelSmoothing = labelSmoothing; self.dropout = dropout
        self.warmup = warmup; self.lrFactor = lrFactor; self.seed = seed
    }

    /// The block written into config.json under "attnviz".
    public var json: [String: Any] {
        ["steps": steps, "label_smoothing": labelSmoothing, "dropout": dropout.hidden, "attention_dropout": dropout.attention,
         "activation_dropout": dropout.activation, "warmup": warmup, "lr_factor": lrFactor, "seed": seed,
         "optimizer": "Adam(beta1 0.9, beta2 0.98, eps 1e-9), lr = lr_factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)"]
    }
}

/// One optimizer step as the training log records it.
public struct TrainingLogEntry: Sendable {
    public var step: Int
    public var loss: Double      // before this step's update
    public var lr: Double        // the rate this step used
    public var tokens: Int       // non-pad labels in the batch
    public var correct: Int      // teacher-forced argmax hits among them
    public var seconds: Double = 0  // wall time of the step (forward, backward, Adam)

    /// One JSON line: {"step": …, "loss": …, "lr": …, "tokens": …, "accuracy": …}
    public var jsonLine: String {
        let accuracy = tokens > 0 ? Double(correct) / Double(tokens) : 0
        return "{\"step\": \(step), \"loss\": \(loss), \"lr\": \(lr), \"tokens\": \(tokens), \"accuracy\": \(accuracy), \"seconds\": \((seconds * 1e6).rounded() / 1e6)}"
    }
}

/// The training loop in float32: step k uses batch k (cycling), Adam with the Noam schedule.
public enum MarianTraining {
    /// Runs `options.steps` steps. `firstGradients` receives step 1's gradients (HF names);
    /// `onStep` each step's log entry.
    public static func run(_ net: MarianNetwork<Float>, batches: [TrainingBatch], options o: TrainingOptions,
                           firstGradients: (([String: Tensor]) throws(ModelError) -> Void)? = nil,
                           onStep: (TrainingLogEntry) throws(ModelError) -> Void) throws(ModelError) {
        guard !batches.isEmpty else { throw .input(path: "train", problem: "no batches") }
        try run(net, batch: { batches[($0 - 1) % batches.count] }, options: o, firstGradients: firstGradients, onStep: onStep)
    }

    /// The same with step k's batch from `batch(k)`.
    public static func run(_ net: MarianNetwork<Float>, batch: (Int) -> TrainingBatch, options o: TrainingOptions,
                           firstGradients: (([String: Tensor]) throws(ModelError) -> Void)? = nil,
                           onStep: (TrainingLogEntry) throws(ModelError) -> Void) throws(ModelError) {
        guard o.steps > 0 else { throw .input(path: "train", problem: "--steps must be positive, found \(o.steps)") }
        net.dropout = o.dropout
        let adam = Adam<Float>(count: net.params.count)
        let schedule = NoamSchedule(dModel: net.config.dModel, warmup: o.warmup, factor: o.lrFactor)
        var rng = DropoutRNG(seed: o.seed)
        for k in 1...o.steps {
            let start = DispatchTime.now().uptimeNanoseconds
            let r = net.step(batch(k), smoothing: o.labelSmoothing, rng: &rng)
            guard r.loss.isFinite else {
                throw .input(path: "train", problem: "step \(k): the loss is \(r.loss) (diverged; try a smaller --lr-factor)")
            }
            if k == 1, let firstGradients { try firstGradients(net.tensors(gradients: true)) }
            let lr = schedule.rate(step: k)
            adam.update(params: net.params, grads: net.grads, lr: lr)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            try onStep(TrainingLogEntry(step: k, loss: r.loss, lr: lr, tokens: r.tokens, correct: r.correct, seconds: seconds))
        }
    }

    /// config.json (the given one with an "attnviz" block added) and model.safetensors
    /// (parameters under MarianMTModel's names plus final_logits_bias) into `directory`.
    public static func modelFiles(_ net: MarianNetwork<Float>, configData: Data, configPath: String,
                                  attnviz: [String: Any]) throws(ModelError) -> [(name: String, data: Data)] {
        guard var config = (try? JSONSerialization.jsonObject(with: configData)) as? [String: Any] else {
            throw .config(path: configPath, key: "(file)", problem: "not a JSON object")
        }
        config["attnviz"] = attnviz
        guard let json = try? JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .prettyPrinted]) else {
            throw .config(path: configPath, key: "attnviz", problem: "could not encode the training settings")
        }
        var tensors = net.tensors().mapValues { SafetensorsWriter.Entry.float($0) }
        tensors["final_logits_bias"] = .float(Tensor(uncheckedShape: [1, net.config.vocabSize], data: net.finalLogitsBias))
        return [("config.json", json + Data("\n".utf8)),
                ("model.safetensors", SafetensorsWriter.encode(tensors, metadata: ["format": "pt"]))]
    }

    /// Writes `files` as the folder `directory`, whole or not at all: staged beside it, then
    /// moved into place. An existing folder is replaced only when it is empty or a model
    /// attnviz trained (its config.json has an "attnviz" block).
    public static func writeDirectory(_ directory: String, files: [(name: String, data: Data)]) throws(ModelError) {
        let fm = FileManager.default
        let parent = (directory as NSString).deletingLastPathComponent
        var isDir: ObjCBool = false
        if !parent.isEmpty, !(fm.fileExists(atPath: parent, isDirectory: &isDir) && isDir.boolValue) {
            throw .unwritable(path: directory, reason: "the folder \(parent) does not exist")
        }
        if fm.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw .unwritable(path: directory, reason: "exists and is not a folder") }
            let contents = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
            let config = (directory as NSString).appendingPathComponent("config.json")
            let trained = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config)))) as? [String: Any]
            guard contents.isEmpty || trained?["attnviz"] != nil else {
                throw .unwritable(path: directory, reason: "exists and is not a model attnviz trained; not replacing it")
            }
        }
        let staging = directory + ".partial-\(getpid())"
        try? fm.removeItem(atPath: staging)
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: false)
            for f in files { try f.data.write(to: URL(fileURLWithPath: (staging as NSString).appendingPathComponent(f.name))) }
            if fm.fileExists(atPath: directory) { try fm.removeItem(atPath: directory) }
            try fm.moveItem(atPath: staging, toPath: directory)
        } catch {
            try? fm.removeItem(atPath: staging)
            throw .unwritable(path: directory, reason: error.localizedDescription)
        }
    }

    /// Writes one file whole (temporary name, then rename).
    public static func writeFile(_ path: String, _ data: Data) throws(ModelError) {
        let tmp = path + ".partial-\(getpid())"
        do {
            try data.write(to: URL(fileURLWithPath: tmp))
        } catch {
            throw .unwritable(path: path, reason: error.localizedDescription)
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw .unwritable(path: path, reason: reason)
        }
    }
}
