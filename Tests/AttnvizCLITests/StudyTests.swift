import AttnvizModel
import AttnvizReport
import Foundation
import Testing

/// Facts the report derives from the tokens, for both tokenizers.
@Suite struct StudyTests {
    static func study(_ model: String, _ text: String) throws -> Study {
        let dir = CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/\(model)").path
        let session = try Session.open(directory: dir, note: nil)
        let trace = try session.trace(text: text)
        return Study(inputName: "s", text: text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png)
    }

    /// Joining each word's pieces gives back the words of the input: whitespace-separated, with
    /// punctuation and numbers on their own — whatever the vocabulary cut them into.
    @Test(arguments: ["gpt2", "bert"])
    func wordsRegroupFromTheirPieces(model: String) throws {
        let text = "The cat sat on the mat, because 2024 was unbelievably tiring."
        let s = try Self.study(model, text)
        let scalars = Array(text.unicodeScalars)
        var words: [String] = []
        for (i, t) in s.trace.tokens.enumerated() {
            guard let r = t.range else { continue }
            let piece = String(String.UnicodeScalarView(scalars[r])).trimmingCharacters(in: .whitespaces)
            if s.continuesWord[i], !words.isEmpty { words[words.count - 1] += piece } else { words.append(piece) }
        }
        // Offsets point into the original text, so BERT's lower-casing does not show here.
        let expected = ["The", "cat", "sat", "on", "the", "mat", ",", "because", "2024", "was", "unbelievably", "tiring", "."]
        print("  \(model): \(s.trace.tokens.count) pieces → \(words)")
        #expect(words == expected)
    }

    @Test func sinkIsTheAddedSpecialsOrTheFirstToken() throws {
        let bert = try Self.study("bert", "The cat sat.")
        #expect(bert.sinkTokens.indices == [0, bert.n - 1])
        #expect(bert.sinkTokens.short == "[CLS]/[SEP]")
        let gpt2 = try Self.study("gpt2", "The cat sat.")
        #expect(gpt2.sinkTokens.indices == [0])
        #expect(gpt2.sinkTokens.name.hasPrefix("the first token"))
    }
}
