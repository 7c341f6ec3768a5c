import AttnvizModel
import AttnvizTensor
import Foundation
import Testing

/// `attnviz train --init` against transformers' MarianMTModel + torch.nn.CrossEntropyLoss
/// (scripts/train_reference.py) on tiny random configurations: the first loss within 1e-5
/// relative, every parameter's first gradient within 1e-4 relative norm, and the losses of 5
/// Adam steps with the warmup schedule within 1e-4 relative. PyTorch comes from the bench's
/// virtualenv (scripts/torch-env.sh); without it the test is skipped and says why.
@Suite(.serialized) struct TrainReferenceTests {
    /// The venv's python: $ATTNVIZ_TORCH_PYTHON, else $ATTNVIZ_HOME (~/.cache/attnviz)/torch-venv.
    static let python: (path: String?, reason: String) = {
        let env = ProcessInfo.processInfo.environment
        if env["ATTNVIZ_TORCH_PYTHON"] == "none" { return (nil, "ATTNVIZ_TORCH_PYTHON=none") }
        let home = env["ATTNVIZ_HOME"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/attnviz")
        let path = env["ATTNVIZ_TORCH_PYTHON"] ?? (home as NSString).appendingPathComponent("torch-venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: path) else {
            return (nil, "no PyTorch reference at \(path) (run `bash scripts/torch-env.sh` or `make bench` to set it up)")
        }
        return (path, "")
    }()

    struct Case: CustomTestStringConvertible, Sendable {
        let dModel: Int, layers: String, heads: Int, ffn: Int, vocab: Int, activation: String
        let smoothing: Double, batch: Int, source: Int, target: Int, seed: Int
        var testDescription: String { "d \(dModel), layers \(layers), \(heads) heads, ffn \(ffn), V \(vocab), \(activation), ε \(smoothing)" }
    }

    static let cases = [
        Case(dModel: 16, layers: "2,1", heads: 4, ffn: 24, vocab: 19, activation: "gelu", smoothing: 0.1, batch: 3, source: 6, target: 5, seed: 1),
        Case(dModel: 24, layers: "1,2", heads: 3, ffn: 40, vocab: 31, activation: "relu", smoothing: 0, batch: 2, source: 9, target: 7, seed: 2),
        Case(dModel: 32, layers: "2,2", heads: 8, ffn: 48, vocab: 23, activation: "swish", smoothing: 0.2, batch: 4, source: 5, target: 8, seed: 3),
        Case(dModel: 20, layers: "1,1", heads: 5, ffn: 16, vocab: 17, activation: "gelu_new", smoothing: 0.05, batch: 1, source: 4, target: 3, seed: 4),
    ]

    static func runPython(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python.path ?? "")
        p.arguments = [CLI.repoRoot.appendingPathComponent("scripts/train_reference.py").path] + args
        var env = ProcessInfo.processInfo.environment
        env["OMP_NUM_THREADS"] = "1"
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "train_reference.py \(args.first ?? ""): \(String(decoding: e, as: UTF8.self).suffix(2000))")
    }

    /// The "loss" of each line of a training log.
    static func losses(_ path: String) throws -> [Double] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return (object?["loss"] as? Double) ?? .nan
        }
    }

    static func norm(_ t: [Float]) -> Double { t.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }

    @Test(.enabled(if: python.path != nil, Comment(rawValue: python.reason)), arguments: cases)
    func matchesPyTorch(_ c: Case) throws {
        let tmp = try TempDir()
        let initDir = tmp.file("init"), batches = tmp.file("batches.jsonl")
        try Self.runPython(["init", "--out", initDir, "--seed", "\(c.seed)", "--d-model", "\(c.dModel)", "--layers", c.layers,
                            "--heads", "\(c.heads)", "--ffn", "\(c.ffn)", "--vocab", "\(c.vocab)", "--activation", c.activation,
                            "--batches", batches, "--count", "3", "--batch", "\(c.batch)", "--source", "\(c.source)", "--target", "\(c.target)"])
        let common = ["--batches", batches, "--steps", "5", "--label-smoothing", "\(c.smoothing)", "--warmup", "3", "--lr-factor", "1"]
        try Self.runPython(["train", "--init", initDir] + common + ["--log", tmp.file("ref.jsonl"), "--dump-gradients", tmp.file("ref.safetensors")])
        let r = try CLI.run(["train", "--init", initDir, "--out", tmp.file("out"), "--dropout", "0", "--quiet"] + common
                            + ["--log", tmp.file("ours.jsonl"), "--dump-gradients", tmp.file("ours.safetensors")])
        #expect(r.status == 0, "attnviz train: \(r.stderr)")
        guard r.status == 0 else { return }

        let ref = try Self.losses(tmp.file("ref.jsonl")), ours = try Self.losses(tmp.file("ours.jsonl"))
        #expect(ref.count == 5 && ours.count == 5)
        let relative = zip(ours, ref).map { abs($0 - $1) / abs($1) }
        print("\(c.testDescription): losses \(ours.map { String(format: "%.6f", $0) }); relative Δ per step \(relative.map { String(format: "%.1e", $0) })")
        #expect((relative.first ?? .nan) <= 1e-5, "first loss: relative Δ \(relative.first ?? .nan)")
        #expect(relative.allSatisfy { $0 <= 1e-4 }, "5 Adam steps: relative Δ \(relative)")

        // Gradients: ‖ours − ref‖ ≤ 1e-4·‖ref‖ per parameter. Some gradients are exactly zero in
        // exact arithmetic (a key-projection bias shifts every score of a row equally, which
        // softmax ignores; a one-token source leaves nothing to attend between) and are float32
        // noise in both: an absolute floor of 1e-6 × the norm of the whole gradient covers them.
        let refGrads = try SafetensorsFile(path: tmp.file("ref.safetensors"))
        let ourGrads = try SafetensorsFile(path: tmp.file("ours.safetensors"))
        #expect(Set(refGrads.names) == Set(ourGrads.names), "gradient names differ: \(Set(refGrads.names).symmetricDifference(ourGrads.names).sorted())")
        var pairs: [(String, [Float], [Float])] = []
        for name in refGrads.names where ourGrads.tensors[name] != nil {
            let a = try refGrads.tensor(name), b = try ourGrads.tensor(name)
            #expect(a.shape == b.shape, "\(name): shape \(b.shape), reference \(a.shape)")
            pairs.append((name, a.data, b.data))
        }
        let total = pairs.reduce(0) { $0 + Self.norm($1.1) * Self.norm($1.1) }.squareRoot()
        var worst = (name: "", relative: 0.0)
        for (name, a, b) in pairs {
            let diff = Self.norm(zip(a, b).map { $0 - $1 }), size = Self.norm(a)
            #expect(diff <= 1e-4 * size + 1e-6 * total, "\(name): ‖Δ‖ \(diff), ‖ref‖ \(size)")
            if size > 1e-3 * total, diff / size > worst.relative { worst = (name, diff / size) }
        }
        print("\(c.testDescription): \(pairs.count) gradients, worst relative norm \(String(format: "%.2e", worst.relative)) (\(worst.name)), ‖∇‖ \(String(format: "%.3f", total))")
    }

    /// A model `attnviz train --task` writes (and the shipped one) loads in transformers'
    /// MarianMTModel and gives the logits `attnviz trace` gives: max |Δ| ≤ 1e-4 · max(1, max |logit|).
    @Test(.enabled(if: python.path != nil, Comment(rawValue: python.reason)))
    func trainedModelsLoadInTransformers() throws {
        let tmp = try TempDir()
        let r = try TrainTaskTests.tinyRun(tmp, out: "tiny", steps: 30)
        #expect(r.status == 0, "\(r.stderr)")
        var models = [tmp.file("tiny")]
        let shipped = CLI.repoRoot.appendingPathComponent("models/reverse-words").path
        if FileManager.default.fileExists(atPath: shipped) { models.append(shipped) }
        let vocabulary = CharVocabulary()
        for model in models {
            let source = vocabulary.encode("the cat"), target = [CharVocabulary.pad] + vocabulary.encode("cat the").dropLast()  // within 10 characters
            let ids = source.map(String.init).joined(separator: ","), dec = target.map(String.init).joined(separator: ",")
            try Self.runPython(["logits", "--model", model, "--input-ids", ids, "--decoder-input-ids", dec, "--out", tmp.file("ref.safetensors")])
            let t = try CLI.run(["trace", "--model", model, "--input-ids", ids, "--decoder-input-ids", dec, "--out", tmp.file("trace.safetensors")])
            #expect(t.status == 0, "\(t.stderr)")
            let a = try SafetensorsFile(path: tmp.file("ref.safetensors")).tensor("logits")
            let b = try SafetensorsFile(path: tmp.file("trace.safetensors")).tensor("logits")
            #expect(a.shape == b.shape)
            let diff = try a.maxAbsDifference(b), scale = max(1, a.data.map(abs).max() ?? 0)
            print("\((model as NSString).lastPathComponent): transformers vs attnviz trace logits \(a.shape): max |Δ| \(diff) (max |logit| \(scale))")
            #expect(diff <= 1e-4 * scale)
        }
    }
}
