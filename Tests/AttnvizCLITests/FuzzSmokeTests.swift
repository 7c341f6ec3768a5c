import Foundation
import Testing

/// The fuzz targets' seed corpora (Fuzz/corpus) replayed through the same entry points the
/// libFuzzer build uses (`attnviz-fuzz`, built plainly beside `attnviz`): every seed runs without
/// a crash or a broken invariant. `make fuzz` runs the real fuzzers (README, "Fuzzing").
@Suite struct FuzzSmokeTests {
    static let targets = ["safetensors", "config", "vocab", "bpe-files", "wordpiece", "bpe"]

    @Test(arguments: targets)
    func seedsReplayCleanly(target: String) throws {
        let binary = (CLI.binary as NSString).deletingLastPathComponent + "/attnviz-fuzz"
        let corpus = CLI.repoRoot.appendingPathComponent("Fuzz/corpus/\(target)").path
        let seeds = try FileManager.default.contentsOfDirectory(atPath: corpus)
        #expect(!seeds.isEmpty, "no seeds for \(target)")
        let r = try CLI.run([binary, target, corpus], shell: false, executable: true)
        #expect(!r.signaled && r.status == 0, "\(target): \(r.status) \(r.stderr.suffix(400))")
        #expect(r.stdout.contains("\(seeds.count) inputs, no crash"), "\(r.stdout)")
    }
}
