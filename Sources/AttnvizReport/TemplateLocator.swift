import Foundation

/// Where the report templates are. The top-level templates/ folder is not a SwiftPM resource, so
/// the binary looks, in order: --templates DIR; $ATTNVIZ_TEMPLATES; an installed copy beside the
/// binary (`make install` puts one in PREFIX/share/attnviz/templates, next to PREFIX/bin); and
/// the checkout it was built from (its path is compiled in), so a build from the checkout works
/// from any working directory.
public enum TemplateLocator {
    public static func find(override: String?, executable: String = CommandLine.arguments[0]) throws -> String {
        // An explicit folder (--templates, else $ATTNVIZ_TEMPLATES) is used or refused, never
        // silently replaced by another.
        let env = ProcessInfo.processInfo.environment["ATTNVIZ_TEMPLATES"].flatMap { $0.isEmpty ? nil : $0 }
        if let explicit = override ?? env {
            guard FileManager.default.fileExists(atPath: (explicit as NSString).appendingPathComponent("report.mustache")) else {
                let named = override == nil ? "$ATTNVIZ_TEMPLATES (\(explicit))" : explicit
                throw ReportError.templates(path: named, problem: "no report.mustache in this folder")
            }
            return explicit
        }
        var candidates: [String] = []
        let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        candidates.append(exe.appendingPathComponent("../share/attnviz/templates").standardized.path)
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../templates").standardized.path)
        for dir in candidates where FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("report.mustache")) {
            return dir
        }
        throw ReportError.templates(path: candidates.joined(separator: ", "), problem: "report templates not found (use --templates DIR)")
    }
}
