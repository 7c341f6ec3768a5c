import AttnvizRender
import AttnvizTrace
import Foundation

extension ReportBuilder {
    /// The values the templates see. Text from the input goes in as plain strings: the template
    /// engine escapes it ({{…}}), and no HTML is assembled here.
    static func context(study: Study, sections: [(Catalog.Entry, SectionContent?)]) -> [String: Any] {
        let m = study.trace.model
        let ext = study.format == .svg ? "svg" : "png"
        var rendered: [[String: Any]] = []
        var coverage: [[String: Any]] = []
        for (entry, content) in sections {
            let figures = content?.groups.reduce(0) { $0 + $1.figures.count } ?? 0
            let status: String
            if let content { status = content.unavailable.map { "not available for this model (\($0))" } ?? "computed" } else { status = "not yet" }
            coverage.append(["id": entry.id, "anchor": "q-\(entry.id)", "hasSection": content != nil, "titleEn": entry.titleEn,
                             "figures": figures, "status": status, "computed": content != nil && content?.unavailable == nil])
            guard let content else { continue }
            rendered.append([
                "id": entry.id, "anchor": "q-\(entry.id)", "part": entry.part, "titleEn": entry.titleEn, "titleZh": entry.titleZh,
                "answer": content.answer, "findings": content.findings.map(\.text), "hasFindings": !content.findings.isEmpty,
                "unavailable": content.unavailable ?? "", "isUnavailable": content.unavailable != nil,
                "groups": content.groups.map { g -> [String: Any] in
                    ["title": g.title ?? "", "hasTitle": g.title != nil, "open": g.open,
                     "figures": g.figures.map { f -> [String: Any] in
                         ["src": "figures/\(f.file).\(ext)", "pdf": study.format == .pdf ? "figures/\(f.file).pdf" : "",
                          "hasPDF": study.format == .pdf, "caption": f.caption, "title": f.figure.title]
                     }]
                },
                "tables": content.tables.map { t -> [String: Any] in
                    ["caption": t.caption, "header": t.header, "rows": t.rows.map { ["cells": $0] }]
                },
            ])
        }
        // Text the vocabulary does not cover (e.g. Chinese through an English vocabulary) becomes
        // [UNK]: said at the top, since every later section then describes unknown tokens.
        let content = study.trace.tokens.filter { !($0.isSpecial && $0.range == nil) }
        let unkName = study.encoderDecoder == nil ? "[UNK]" : "<unk>"  // attnviz's character vocabulary
        let unknown = content.filter { $0.text == unkName }.count
        let unkShare = Double(unknown) / Double(max(content.count, 1))
        let unkWarning = unknown == 0 ? "" : "\(unknown) of the \(content.count) tokens from your text (\(Analysis.percent(unkShare))) are \(unkName): this model's vocabulary has no pieces for them, so it sees them all as the same unknown symbol."
            + (unkShare > 0.2 ? " The figures below mostly show how the model treats unknown tokens, not your words; try a model whose vocabulary covers the script." : "")
        let computed = coverage.filter { ($0["computed"] as? Bool) == true }.count
        return [
            "title": "attnviz study report",
            "text": study.text,
            "pair": study.pair ?? "", "hasPair": study.pair != nil,
            "inputName": study.inputName,
            "tokens": study.n,
            "unkWarning": unkWarning, "hasUnkWarning": !unkWarning.isEmpty,
            "truncated": study.trace.truncatedTokens, "isTruncated": study.trace.truncatedTokens > 0,
            "truncationNote": study.encoderDecoder == nil
                ? "the input was longer than the model's \(m.maxPositions) positions; \(study.trace.truncatedTokens) tokens were dropped"
                : "the input was longer than the model reads; it was cut at a word boundary and \(study.trace.truncatedTokens) characters were dropped",
            "mainNote": MainEncoderDecoder.describe(study) ?? "", "hasMainNote": study.encoderDecoder != nil,
            "maxPositions": m.maxPositions,
            "model": m.name, "modelType": m.modelType, "sha256": m.sha256 ?? "unknown",
            "layers": m.layers, "heads": m.heads, "dModel": m.dModel, "parameters": m.totalParameters,
            "version": version,
            "selectedLayers": study.layers.map(String.init).joined(separator: ", "),
            "selectedHeads": study.heads.map(String.init).joined(separator: ", "),
            "sections": rendered,
            "coverage": coverage,
            "coverageSummary": "\(computed) of \(coverage.count) questions computed for this run",
        ]
    }
}
