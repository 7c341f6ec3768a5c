import AttnvizTrace
import Foundation

extension ReportBuilder {
    /// report.json: for every catalogue id its status, findings and the numbers behind them by
    /// name, plus the run's tokens and model facts. Built from the same SectionContent as the
    /// HTML. Keys sorted, so the same run gives the same bytes.
    static func json(study: Study, sections: [(Catalog.Entry, SectionContent?)]) throws -> Data {
        let m = study.trace.model
        let ext = study.format == .svg ? "svg" : "png"
        var out: [[String: Any]] = []
        for (entry, content) in sections {
            var item: [String: Any] = ["id": entry.id, "title_en": entry.titleEn, "title_zh": entry.titleZh, "part": entry.part]
            guard let content else {
                item["status"] = "not yet"
                out.append(item)
                continue
            }
            item["status"] = content.unavailable == nil ? "computed" : "not available"
            if let why = content.unavailable { item["reason"] = why }
            var merged: [String: Any] = [:]
            item["findings"] = content.findings.map { f -> [String: Any] in
                var values: [String: Any] = [:], shown: [String: String] = [:]
                for v in f.values {
                    values[v.name] = v.value.json
                    shown[v.name] = v.shown
                    merged[v.name] = v.value.json
                }
                return ["text": f.text, "values": values, "shown": shown]
            }
            for (name, value) in content.values { merged[name] = value.json }
            item["values"] = merged
            item["figures"] = content.groups.flatMap(\.figures).map { "figures/\($0.file).\(ext)" }
            out.append(item)
        }
        var root: [String: Any] = [
            "attnviz_version": version,
            "input": study.inputName,
            "text": study.text,
            "pair": study.pair as Any? ?? NSNull(),
            "tokens": study.trace.tokens.map(\.text),
            "ids": study.trace.tokens.map(\.id),
            "token_type_ids": study.trace.tokens.map(\.typeId),
            "truncated_tokens": study.trace.truncatedTokens,
            "timings": study.timings,
            "model": [
                "name": m.name, "model_type": m.modelType, "architecture": m.architecture.rawValue, "sha256": m.sha256 as Any? ?? NSNull(),
                "layers": m.layers, "decoder_layers": m.decoderLayers, "heads": m.heads, "d_model": m.dModel, "d_ff": m.dFF,
                "vocab_size": m.vocabSize, "max_positions": m.maxPositions, "parameters": m.totalParameters,
                "activation": m.activation, "positions": m.positions.rawValue, "norm_placement": m.normPlacement.rawValue,
            ] as [String: Any],
            "sections": out,
        ]
        if let full = study.encoderDecoder {  // an encoder–decoder main model's teacher-forced decoder input
            root["decoder_tokens"] = full.decoderTokens.map(\.text)
            root["decoder_ids"] = full.decoderTokens.map(\.id)
        }
        do {
            return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        } catch {
            throw ReportError.output(path: "report.json", problem: "cannot encode: \(error.localizedDescription)")
        }
    }
}
