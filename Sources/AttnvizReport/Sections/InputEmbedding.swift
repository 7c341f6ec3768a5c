import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// input-embedding: the rows of the token-embedding table this sentence looks up, how similar
/// they are, and what a dense row saves over a one-hot vector.
struct InputEmbeddingSection: Section {
    let id = "input-embedding"

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let decoder = m.architecture == .decoder
        var answer = [
            "An embedding is a lookup table E with one row of d_model numbers per vocabulary entry. A token id could be written as a one-hot vector (vocabulary-wide, a single 1); multiplying that vector by E picks out row id, so the lookup is exactly one-hot × E, done as an index instead of a matrix product. The dense row is short, and because it is learned, tokens used alike end up with rows that point in similar directions — something a one-hot code, where every pair of tokens is orthogonal, cannot express.",
        ]
        if decoder {
            answer.append("Whether the table is trained or frozen is a choice. In \(m.name) (GPT-2, a decoder) the token table is trained with the rest of the model and is also the output head: the next-token scores are the final hidden state times Eᵀ (tied weights). Pretrained vectors such as word2vec or GloVe are sometimes kept frozen in smaller models; a Transformer language model learns its own.")
        } else {
            answer.append("Whether the table is trained or frozen is a choice. BERT's token, segment and position tables are all trained with the model during pre-training (and usually updated again when fine-tuning); the original Transformer also learned its embeddings and tied them: one matrix serves as the input embedding and, transposed, as the output projection before the softmax. Pretrained vectors such as word2vec or GloVe are sometimes kept frozen in smaller models.")
        }
        guard let e = s.trace.embeddings, e.word.rank == 2, e.word.rowCount == s.n, s.n > 0 else {
            return SectionContent(answer: answer, unavailable: "this run recorded no token-embedding rows")
        }
        let n = s.n, d = e.word.rowWidth, vocab = m.vocabSize
        let sim = Analysis.cosineMatrix(e.word)
        // Most and least similar pair of different token ids (equal ids have cosine 1 by construction).
        var best: (i: Int, j: Int, c: Float)?, worst: (i: Int, j: Int, c: Float)?
        var sum = 0.0, pairs = 0, repeats = 0
        let ids = s.trace.tokens.map(\.id)
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) {
                if ids[i] == ids[j] { repeats += 1; continue }
                let c = sim[i * n + j]
                sum += Double(c); pairs += 1
                if best == nil || c > best?.c ?? c { best = (i, j, c) }
                if worst == nil || c < worst?.c ?? c { worst = (i, j, c) }
            }
        }
        let labels = s.labels
        var findings: [Finding] = []
        if let best, let worst {
            findings.append("Over the \("distinct_id_pairs", pairs) pairs of positions holding different token ids, the mean cosine between their embedding rows is \("mean_cosine", sum / Double(pairs), "%.3f"); the most similar pair is “\("most_similar_a", text: labels[best.i])” / “\("most_similar_b", text: labels[best.j])” (\("most_similar_cosine", Double(best.c), "%.3f")), the least similar “\(labels[worst.i])” / “\(labels[worst.j])” (\("least_similar_cosine", Double(worst.c), "%.3f")).")
        }
        if repeats > 0 {
            let unk = s.trace.tokens.filter { $0.text == "[UNK]" }.count
            findings.append("\("repeated_pairs", repeats) pair(s) of positions hold the same token id and so the very same row (cosine 1)\(unk > 1 ? ", including the \(unk) [UNK] tokens, which all share one row" : ""): the table knows nothing of context.")
        }
        let tableParams = vocab * d, total = m.totalParameters
        let share = total > 0 ? Double(tableParams) / Double(total) : 0
        findings.append("The token table holds \("vocab_size", vocab) × \("d_model", d) = \("table_parameters", tableParams) parameters, \(percent: "table_share_of_parameters", share) of the model's \(total).")
        let oneHotBytes = n * vocab * 4, denseBytes = n * d * 4
        findings.append("As float32, this sentence's \(n) tokens take \("one_hot_bytes", oneHotBytes) bytes as one-hot vectors and \("dense_bytes", denseBytes) bytes as embedding rows: \("one_hot_to_dense_ratio", Double(vocab) / Double(max(d, 1)), "%.1f") times less.")

        let rows: [[String]] = [
            ["width per token", "\(vocab) (vocabulary size)", "\(d) (d_model)"],
            ["non-zeros per token", "1", "\(d)"],
            ["bytes per token (float32)", "\(vocab * 4)", "\(d * 4)"],
            ["this sentence (\(n) tokens), bytes", "\(oneHotBytes)", "\(denseBytes)"],
            ["similarity of two different tokens", "always 0 (orthogonal)", "cosine of learned rows (figure)"],
            ["getting the row", "one-hot × E: \(vocab) × \(d) = \(tableParams) multiply-adds", "index row id of E: \(d) numbers copied"],
        ]
        let matrix = Figures.vectors(e.word, labels: n <= 512 ? labels : nil, title: "Token-embedding rows of this sentence (\(n) tokens × \(d) dims), before positions are added", rowAxis: "token")
        let simMap = Figures.similarity(sim, n: n, labels: labels, title: "Cosine similarity between the tokens' embedding rows", axis: "token")
        let figures = [
            FigureSpec(file: Figures.file(id, "rows"), figure: matrix,
                       caption: "Row i is E[id of token i] as stored in \(m.name)'s table (no position or segment added). Repeated tokens have identical rows\(matrix.colorbarLabel.contains("clipped") ? " (the colour scale is clipped at the 99th percentile of |value|, \(Chrome.format(matrix.range?.max ?? 0)))" : "")."),
            FigureSpec(file: Figures.file(id, "similarity"), figure: simMap,
                       caption: best.map { "Red: rows pointing the same way. The diagonal (and any repeated token) is exactly 1; the highest off-diagonal value between different ids is \(Analysis.fixed(Double($0.c), 2)) (“\(labels[$0.i])” / “\(labels[$0.j])”), the mean \(Analysis.fixed(sum / Double(max(pairs, 1)), 2))." }
                           ?? "With a single distinct token there is no pair to compare."),
        ]
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: figures)],
            tables: [TableSpec(caption: "One-hot vs dense for \(m.name)'s vocabulary of \(vocab) and width \(d) (counts, not timings).",
                               header: ["", "one-hot", "dense embedding"], rows: rows)],
            findings: findings)
    }
}
