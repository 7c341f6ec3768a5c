import Foundation
import Testing

/// `render --output`: any valid name, staging folders that never stay behind, and a target that
/// is checked at the moment it is replaced (issue 9, items 2, 4, 5 and 10).
@Suite struct OutputFolderTests {
    static func render(_ args: [String], cwd: String) throws -> CLI.Result {
        try CLI.run(["render", "s.txt", "--model", CLI.tinyBert, "--quiet"] + args, cwd: cwd)
    }

    static func hidden(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix(".attnviz-") }.sorted()
    }

    /// One-character names, `.`, `./` and a trailing slash are valid targets (`a` trapped in
    /// NSString.deletingLastPathComponent).
    @Test(arguments: ["a", "b/", "./c", "d/e"])
    func shortNames(name: String) throws {
        let tmp = try TempDir()
        _ = try tmp.write("s.txt", "The cat sat.")
        let r = try Self.render(["--output", name], cwd: tmp.path)
        #expect(r.status == 0, "\(r.status) \(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: tmp.file(name) + "/index.html"))
        #expect(Self.hidden(tmp.path).isEmpty)
    }

    @Test func currentFolderWhenEmptyOrNot() throws {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", "The cat sat.")
        let empty = tmp.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        for target in [".", "./"] {
            let r = try CLI.run(["render", input, "--model", CLI.tinyBert, "--quiet", "--output", target], cwd: empty)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(FileManager.default.fileExists(atPath: empty + "/index.html"))
        }
        // The temporary folder holds s.txt: not a report, so `.` is refused and nothing changes.
        let r = try Self.render(["--output", "."], cwd: tmp.path)
        BadInputTests.expectOneLineError(r, mentions: ["not empty", "refusing"])
        #expect(FileManager.default.fileExists(atPath: input))
        #expect(Self.hidden(tmp.path).isEmpty)
    }

    /// A 255-byte name is valid; the staging folder's name must not depend on it.
    @Test func longValidName() throws {
        let tmp = try TempDir()
        _ = try tmp.write("s.txt", "The cat sat.")
        let name = String(repeating: "r", count: 255)
        let r = try Self.render(["--output", name], cwd: tmp.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: tmp.file(name) + "/index.html"))
        #expect(Self.hidden(tmp.path).isEmpty)
    }

    /// Starts a render of a long text and returns once its staging folder exists.
    static func startRender(tmp: TempDir, output: String) throws -> Process {
        let text = String(repeating: "the quick brown fox jumps over the lazy dog . ", count: 20)
        let input = try tmp.write("long.txt", text)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["render", input, "--model", CLI.tinyBert, "--quiet", "--output", output]
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let parent = (output as NSString).deletingLastPathComponent
        let deadline = Date().addingTimeInterval(30)
        while hidden(parent).isEmpty, p.isRunning, Date() < deadline { usleep(2000) }
        return p
    }

    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func signalsRemoveTheStagingFolder(signal: Int32) throws {
        let tmp = try TempDir()
        let p = try Self.startRender(tmp: tmp, output: tmp.file("out"))
        #expect(!Self.hidden(tmp.path).isEmpty, "the render never showed a staging folder")
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == signal, "status \(p.terminationStatus)")
        #expect(Self.hidden(tmp.path).isEmpty, "left behind: \(Self.hidden(tmp.path))")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("out")))
    }

    /// SIGKILL cannot be caught; the next render into the same folder removes what the dead
    /// process left, but never the staging folder of a live one.
    @Test func staleStagingOfDeadProcessesIsRemoved() throws {
        let tmp = try TempDir()
        let p = try Self.startRender(tmp: tmp, output: tmp.file("out"))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let stale = Self.hidden(tmp.path)
        #expect(!stale.isEmpty, "SIGKILL should have left a staging folder to clean")
        let live = tmp.file(".attnviz-staging-\(getpid())-feed")  // this test process is alive
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        _ = try tmp.write("s.txt", "The cat sat.")
        let r = try Self.render(["--output", "out"], cwd: tmp.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.hidden(tmp.path) == [(live as NSString).lastPathComponent])
    }

    /// A folder created at the target while the figures are drawn is the user's: the render
    /// fails cleanly and the folder is untouched (it was deleted before).
    @Test func folderCreatedDuringTheRenderIsKept() throws {
        let tmp = try TempDir()
        let out = tmp.file("out")
        let p = try Self.startRender(tmp: tmp, output: out)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let mine = try tmp.write("out/thesis.txt", "do not delete")
        p.waitUntilExit()
        #expect(p.terminationStatus != 0 && p.terminationStatus < 128, "status \(p.terminationStatus)")
        #expect(try String(contentsOfFile: mine, encoding: .utf8) == "do not delete")
        #expect(Self.hidden(tmp.path).isEmpty)
    }

    /// An old report is replaced whole; an old report turned into something else during the
    /// render is not.
    @Test func reportReplacedButNotAfterItChanged() throws {
        let tmp = try TempDir()
        _ = try tmp.write("s.txt", "The cat sat.")
        #expect(try Self.render(["--output", "out"], cwd: tmp.path).status == 0)
        _ = try tmp.write("out/extra.txt", "old")
        #expect(try Self.render(["--output", "out"], cwd: tmp.path).status == 0)
        #expect(!FileManager.default.fileExists(atPath: tmp.file("out/extra.txt")), "a re-render replaces the report whole")

        let p = try Self.startRender(tmp: tmp, output: tmp.file("out"))
        try FileManager.default.removeItem(atPath: tmp.file("out/index.html"))
        _ = try tmp.write("out/notes.txt", "mine now")
        p.waitUntilExit()
        #expect(p.terminationStatus != 0 && p.terminationStatus < 128)
        #expect(FileManager.default.fileExists(atPath: tmp.file("out/notes.txt")))
        #expect(Self.hidden(tmp.path).isEmpty)
    }

    /// A file-size limit (as a full disk) while the figures are written: one line in words (it
    /// was a raw NSError dump), no staging folder, no report.
    @Test func writeFailureIsOneLineAndLeavesNothing() throws {
        let tmp = try TempDir()
        _ = try tmp.write("s.txt", "The cat sat on the mat.")
        let shell = "ulimit -f 8; exec \"$0\" render s.txt --model \"$1\" --output out --quiet"
        let r = try CLI.run(["-c", shell, CLI.binary, CLI.tinyBert], cwd: tmp.path, shell: true)
        BadInputTests.expectOneLineError(r, mentions: ["too large"])
        #expect(!r.stderr.contains("NSError") && !r.stderr.contains("Domain="), "\(r.stderr)")
        #expect(Self.hidden(tmp.path).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: tmp.file("out")))
    }
}
