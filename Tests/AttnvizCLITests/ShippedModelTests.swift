import AttnvizModel
import Foundation
import Testing

/// The model shipped in models/reverse-words: greedy exact match ≥ 98% on 500 held-out
/// sentences of its training distribution (another seed) and ≥ 90% on real English sentences
/// within its length. (Its logits against transformers: TrainReferenceTests.)
@Suite(.serialized) struct ShippedModelTests {
    static let directory = CLI.repoRoot.appendingPathComponent("models/reverse-words").path
    static let words = (ModelRegistry.defaultDirectory as NSString).appendingPathComponent("vocab.txt")

    /// Real English, each at most 48 characters (the model's longest input), the task's own
    /// example first.
    static let english = [
        "the cat sat.", "The animal didn't cross the street.", "It was too tired.",
        "Attention lets every word look at every other.", "A recurrent network carries the link.",
        "Time flies like an arrow.", "She sells sea shells by the sea shore.", "I think, therefore I am.",
        "The quick brown fox jumps over the lazy dog.", "To be or not to be?", "All you need is love.",
        "Where is the train station?", "We met in 1999 at a small cafe.", "Please close the door!",
        "The weather is nice today.", "My phone number changed last week.", "He reads three books a month.",
        "Paris is the capital of France.", "Can you help me with this?", "The meeting starts at 10.",
        "Birds fly south in winter.", "Water boils at 100 degrees.", "I lost my keys again.",
        "This model reverses the order of words.", "Good morning, everyone!", "The report was finished on time.",
        "Dogs are loyal animals.", "Music makes people happy.", "Never give up.", "The sun rises in the east.",
    ]

    static func generate(_ lines: [String]) throws -> [String] {
        let r = try CLI.run(["generate", "--model", directory, "-"], stdin: Data((lines.joined(separator: "\n") + "\n").utf8))
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    @Test func heldOutSentences() throws {
        let r = try CLI.run(["generate", "--model", Self.directory, "--held-out", "500", "--words", Self.words])
        #expect(r.status == 0, "\(r.stderr)")
        print("shipped model, 500 held-out sentences: \(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        let found = r.stdout.split(separator: " ").first { $0.contains("/") }.map { $0.split(separator: "/").compactMap { Int($0) } } ?? []
        #expect(found.count == 2 && found[1] == 500 && Double(found[0]) >= 0.98 * 500, "\(r.stdout) \(r.stderr)")
    }

    @Test func realEnglish() throws {
        #expect(Self.english.allSatisfy { $0.count <= 48 })
        let outputs = try Self.generate(Self.english)
        #expect(outputs.count == Self.english.count)
        var correct = 0
        for (input, output) in zip(Self.english, outputs) {
            let expected = SyntheticTask.reverseWords.target(input)
            if output == expected { correct += 1 } else { print("shipped model: \(String(reflecting: input)) → \(String(reflecting: output)), expected \(String(reflecting: expected))") }
        }
        print("shipped model, real English: \(correct)/\(Self.english.count) exact")
        #expect(Double(correct) >= 0.9 * Double(Self.english.count))
    }
}
