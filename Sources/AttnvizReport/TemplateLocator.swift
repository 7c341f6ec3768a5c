import Foundation

/// Where the report templates are. The top-level templates/ folder is not a SwiftPM resource, so
/// the binary looks, in order: --templates DIR; $ATTNVIZ_TEMPLATES; an installed copy beside the
/// binary (`make install` puts one in PREFIX/share/attnviz/templates, next to PREFIX/bin); and
/// the checkout it was built from (its path is compiled in), so a build from the checkout works
/// from any working directory.
public enum TemplateLocator {
    public static func find(override: String?, executable: String = CommandLine.arguments[0]) throws -> String {
        if let override {
            // An explicit folder is used or refused, never silently replaced by another.
            guard FileManager.default.fileExists(atPath: (override as NSString).appendingPathComponent("report.mustache")) else {
                throw ReportError.templates(path: override, problem: "no report.mustache in this folder")
            }
            return override
        }
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["ATTNVIZ_TEMPLATES"], !env.isEmpty { candidates.append(env) }
        let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        candidates.append(exe.appendingPathComponent("../share/attnviz/templates").standardized.path)
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../templates").standardized.path)
        for dir in candidates where FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("report.mustache")) {
            return dir
        }
        throw ReportError.templates(path: candidates.joined(separator: ", "), problem: "report templates not found (use --templates DIR)")
    }
}
