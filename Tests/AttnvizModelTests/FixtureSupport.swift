import AttnvizModel
import AttnvizTensor
import Foundation
import Testing

/// Reference outputs of HuggingFace transformers, copied from ../shared/fixtures into Tests.
enum Fixtures {
    static var root: String {
        (Bundle.module.resourcePath.map { ($0 as NSString).appendingPathComponent("Fixtures") })
            ?? ((#filePath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("Fixtures")
    }

    static func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    static func json(_ relative: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }

    /// The real MiniLM directory fetched by set-up (scripts/fetch-model.sh).
    static var miniLMDirectory: String { ModelRegistry.defaultDirectory }

    static func requireMiniLM() throws -> String {
        let dir = miniLMDirectory
        guard FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("model.safetensors")) else {
            Issue.record("MiniLM not found at \(dir): run scripts/setup.sh (make test does) or set ATTNVIZ_MODEL")
            throw CancellationError()
        }
        return dir
    }
}

/// Compares against a golden tensor computed by other kernels (PyTorch, another CPU): the
/// tolerance follows from the longest sum in the computation (`sumLength`), the number of layers
/// it went through (`depth`) and the golden's magnitude (RoundingBound.forward).
@discardableResult
func expectClose(_ actual: Tensor, _ expected: Tensor, sumLength: Int, depth: Int, _ label: String,
                 sourceLocation: SourceLocation = #_sourceLocation) -> Float {
    let scale = expected.data.lazy.filter(\.isFinite).map { Double(abs($0)) }.max() ?? 1
    let tolerance = Float(RoundingBound.forward(sumLength: sumLength, depth: depth, scale: scale))
    return expectClose(actual, expected, tolerance: tolerance, label, sourceLocation: sourceLocation)
}

/// Compares against a golden tensor, prints the max |Δ|, and records a failure above `tolerance`.
@discardableResult
func expectClose(_ actual: Tensor, _ expected: Tensor, tolerance: Float, _ label: String,
                 sourceLocation: SourceLocation = #_sourceLocation) -> Float {
    guard actual.shape == expected.shape else {
        Issue.record("\(label): shape \(actual.shape) vs golden \(expected.shape)", sourceLocation: sourceLocation)
        return .infinity
    }
    let diff = (try? actual.maxAbsDifference(expected)) ?? .infinity
    print(String(format: "  %-40@ max|Δ| = %.3e (tolerance %.1e)", label as NSString, diff, tolerance))
    #expect(diff <= tolerance, "\(label): max |Δ| \(diff) > \(tolerance)", sourceLocation: sourceLocation)
    return diff
}
