import AttnvizTrace

extension Companion {
    /// The task's gold alignment in token positions (Trace.decoderAlignment). Label i of the
    /// teacher-forced run is target character i (one token per Unicode scalar, as the character
    /// vocabulary counts them; characters outside it are one <unk> each), then </s>. The task's
    /// alignment maps target characters (grapheme clusters) to source characters; a cluster of k
    /// scalars maps scalar by scalar. An entry is kept only where the label's id equals the
    /// aligned source token's id (the copy is real); the final </s> copies no character: nil.
    static func decoderAlignment(task: SyntheticTask, source: String, sourceIDs: [Int], labels: [Int]) -> [Int?] {
        var out = [Int?](repeating: nil, count: labels.count)
        // The task aligns the normalised text; the companion reads `source`, already normalised.
        guard SyntheticTask.normalize(source) == source else { return out }
        let sourceChars = Array(source), targetChars = Array(task.target(source))
        func starts(_ chars: [Character]) -> [Int] {
            var s: [Int] = [], k = 0
            for c in chars { s.append(k); k += c.unicodeScalars.count }
            return s
        }
        let sourceStart = starts(sourceChars), targetStart = starts(targetChars)
        for (j, a) in task.alignment(source).enumerated() where j < targetChars.count && sourceChars.indices.contains(a) {
            let width = targetChars[j].unicodeScalars.count
            guard width == sourceChars[a].unicodeScalars.count else { continue }
            for k in 0..<width {
                let label = targetStart[j] + k, token = sourceStart[a] + k
                guard labels.indices.contains(label), sourceIDs.indices.contains(token), labels[label] == sourceIDs[token] else { continue }
                out[label] = token
            }
        }
        return out
    }
}
