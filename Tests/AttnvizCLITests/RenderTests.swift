import AttnvizRender
import Foundation
import Testing

/// `attnviz render` end to end, through the binary.
@Suite struct RenderTests {
    static let hostile = "The cat <script>alert(1)</script> & \"quotes\" sat on the mat."

    /// Every id of the catalogue copy the report is built from.
    static func catalogIDs() throws -> [String] {
        let text = try String(contentsOf: CLI.repoRoot.appendingPathComponent("templates/questions.md"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> String? in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard line.hasPrefix("|"), let id = cells.first, id.contains("-"), !id.hasPrefix("-"), id != "id" else { return nil }
            return id
        }
    }

    static let sectionsOfThisIssue = ["arch-overview", "input-tokenize", "pos-sinusoidal", "pos-learned", "attn-multihead", "attn-model-view",
                                      "attn-padding-mask", "attn-scaled", "block-residual", "block-layernorm"]

    static func imgSources(_ html: String) -> [String] {
        html.components(separatedBy: "<img src=\"").dropFirst().compactMap { $0.split(separator: "\"").first.map(String.init) }
    }

    @Test func reportIsCompleteEscapedAndValid() throws {
        let tmp = try TempDir()
        let input = try tmp.write("hostile.txt", Self.hostile)
        let out = tmp.file("report")
        let r = try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", out, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("index.html"))
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)

        // Every <img> exists and decodes.
        let sources = Self.imgSources(html)
        #expect(sources.count >= Self.sectionsOfThisIssue.count)
        for src in sources {
            #expect(!src.hasPrefix("/") && !src.contains("://"), "links must be relative: \(src)")
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/" + src))
            let image = try PNGCodec.decode(data)
            #expect(image.width > 0 && image.height > 0, "\(src)")
        }
        // Every catalogue id is in the coverage table.
        let coverage = try #require(html.components(separatedBy: "id=\"coverage\"").last)
        let ids = try Self.catalogIDs()
        #expect(ids.count >= 30)
        for id in ids { #expect(coverage.contains("<code>\(id)</code>"), "coverage table lacks \(id)") }
        // The sections of this issue exist and have figures.
        for id in Self.sectionsOfThisIssue {
            let body = html.components(separatedBy: "<section id=\"q-\(id)\"").dropFirst().first?.components(separatedBy: "</section>").first
            #expect(body != nil, "no section \(id)")
            #expect(body?.contains("<img src=\"figures/") == true, "section \(id) has no figure")
        }
        // The input shows as text.
        #expect(!html.contains("<script>alert(1)</script>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&amp;"))
        #expect(html.contains("&quot;quotes&quot;") || html.contains("&#34;quotes&#34;"))
        // Nothing points outside the folder.
        #expect(!html.contains("http://") && !html.contains("https://"))
    }

    @Test func renderingTwiceGivesIdenticalFiles() throws {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", "Attention is all you need.")
        for name in ["a", "b"] {
            // Measured times differ between runs; --no-timings is what promises identical bytes.
            let r = try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", tmp.file(name), "--quiet", "--no-timings"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let fm = FileManager.default
        let files = try fm.subpathsOfDirectory(atPath: tmp.file("a")).sorted()
        #expect(files == (try fm.subpathsOfDirectory(atPath: tmp.file("b"))).sorted())
        for f in files where !f.hasSuffix("figures") {
            #expect(fm.contents(atPath: tmp.file("a/" + f)) == fm.contents(atPath: tmp.file("b/" + f)), "\(f) differs")
        }
    }

    @Test func unwritableOutputLeavesNoFolder() throws {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", "The cat sat.")
        // /proc refuses new folders even for root.
        let r = try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", "/proc/attnviz-report", "--quiet"])
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").filter { !$0.hasPrefix("attnviz: note") }.count == 1, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/proc/attnviz-report"))
        // A parent that is a file: nothing is created next to it either.
        let file = try tmp.write("plain", "x")
        let r2 = try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", file + "/report", "--quiet"])
        #expect(r2.status != 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted() == ["plain", "s.txt"])
    }

    @Test func rerenderReplacesAReportButNeverAnotherFolder() throws {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", "The cat sat.")
        let out = tmp.file("report")
        #expect(try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", out, "--quiet"]).status == 0)
        try Data("stale".utf8).write(to: URL(fileURLWithPath: out + "/figures/stale.png"))
        #expect(try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", out, "--quiet"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: out + "/figures/stale.png"), "a re-render replaces the old report whole")
        let precious = tmp.file("precious")
        try FileManager.default.createDirectory(atPath: precious, withIntermediateDirectories: true)
        _ = try tmp.write("precious/notes.txt", "keep me")
        let r = try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", precious, "--quiet"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("refusing to replace"))
        #expect(FileManager.default.fileExists(atPath: precious + "/notes.txt"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).allSatisfy { !$0.hasPrefix(".attnviz-staging") })
    }

    @Test func installedTemplatesAreFoundFromAnyDirectory() throws {
        let tmp = try TempDir()
        let fm = FileManager.default
        try fm.createDirectory(atPath: tmp.file("prefix/bin"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: tmp.file("prefix/share/attnviz"), withIntermediateDirectories: true)
        try fm.copyItem(atPath: CLI.binary, toPath: tmp.file("prefix/bin/attnviz"))
        try fm.copyItem(atPath: CLI.repoRoot.appendingPathComponent("templates").path, toPath: tmp.file("prefix/share/attnviz/templates"))
        let report = tmp.file("prefix/share/attnviz/templates/report.mustache")
        let marked = try String(contentsOfFile: report, encoding: .utf8).replacingOccurrences(of: "<footer>", with: "<footer>INSTALLED-COPY ")
        try marked.write(toFile: report, atomically: true, encoding: .utf8)
        let input = try tmp.write("s.txt", "The cat sat.")
        try fm.createDirectory(atPath: tmp.file("elsewhere"), withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tmp.file("prefix/bin/attnviz"))
        p.arguments = ["render", input, "--model", CLI.tinyBert, "--quiet"]
        p.currentDirectoryURL = URL(fileURLWithPath: tmp.file("elsewhere"))
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let html = try String(contentsOfFile: tmp.file("elsewhere/output/s/index.html"), encoding: .utf8)
        #expect(html.contains("INSTALLED-COPY"))
        // The build's own binary, run from another directory, finds the checkout's templates.
        let r = try CLI.run(["render", input, "--model", CLI.tinyBert, "--quiet"], cwd: tmp.file("elsewhere"))
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func optionMistakesAreOneLineErrors() throws {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", "The cat sat.")
        for args in [["--layers", "7"], ["--heads", "4"], ["--layers", "x"], ["--format", "bmp"], ["--templates", tmp.path]] {
            let r = try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", tmp.file("o"), "--quiet"] + args)
            #expect(r.status != 0, "\(args)")
            #expect(r.stderr.split(separator: "\n").first?.contains("rror") == true, "\(args): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: tmp.file("o")), "\(args)")
        }
    }

    /// The real model, opened in headless Chromium: no broken image; a screenshot is saved.
    @Test func realModelReportOpensInChromium() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("attnviz-browser-check").path
        try? FileManager.default.removeItem(atPath: out)
        let r = try CLI.run(["render", CLI.repoRoot.appendingPathComponent("examples/sentence.txt").path, "--output", out, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/bin/bash")
        check.arguments = [CLI.repoRoot.appendingPathComponent("scripts/check-report.sh").path, out, out + "-screenshot.png"]
        let pipe = Pipe()
        check.standardOutput = pipe
        try check.run()
        let said = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        print(said)
        #expect(check.terminationStatus == 0, "\(said)")
        #expect(said.contains("broken=0"))
    }
}
