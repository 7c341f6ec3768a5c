import AttnvizTensor
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The report's folder and the staging folder it is built in.
///
/// - The staging folder sits beside the target (same file system, so the final move is one
///   `rename`), named `.attnviz-staging-<pid>-<random>`: short whatever the target's name, so a
///   long but valid `--output` name still works.
/// - Whether the target may be replaced (absent, an empty folder, or an attnviz report) is checked
///   before the figures are drawn, to fail early, and again on what is actually moved aside at
///   the moment of replacing: the old folder is renamed aside, checked, and only then is the new
///   report moved in (never over anything: `RENAME_NOREPLACE`) and the old one removed. Something
///   that is not a report is put back where it was, untouched.
/// - SIGINT, SIGTERM and SIGHUP remove the staging folder (and put an old report back) before the
///   process dies; staging folders of processes that no longer exist (SIGKILL, power loss) are
///   removed by the next render into the same parent folder.
struct OutputFolder {
    /// The target as given, and the parent and name it is split into (no Foundation path
    /// helpers: `NSString.deletingLastPathComponent` traps on one-character names).
    let path: String
    let parent: String
    let name: String

    static let stagingPrefix = ".attnviz-staging-"
    static let asidePrefix = ".attnviz-old-"

    init(_ output: String) throws {
        var trimmed = Substring(output)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        var name = trimmed, parent: Substring = ""
        if let slash = trimmed.lastIndex(of: "/") {
            name = trimmed[trimmed.index(after: slash)...]
            parent = trimmed[..<slash]
            if parent.isEmpty { parent = "/" }
        }
        // ".", "..", "/" and "x/." name a folder through its path, not as an entry of a parent:
        // resolve them to an absolute path first.
        if name.isEmpty || name == "." || name == ".." {
            let absolute = URL(fileURLWithPath: String(trimmed)).standardizedFileURL.path
            guard absolute != "/", let slash = absolute.lastIndex(of: "/") else {
                throw ReportError.output(path: output, problem: "cannot write a report over the root folder")
            }
            name = absolute[absolute.index(after: slash)...]
            parent = absolute[..<slash]
            if parent.isEmpty { parent = "/" }
        }
        path = output
        self.parent = parent.isEmpty ? "." : String(parent)
        self.name = String(name)
    }

    var target: String { parent == "/" ? "/" + name : parent + "/" + name }

    func sibling(_ prefix: String) -> String {
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return (parent == "/" ? "/" : parent + "/") + "\(prefix)\(getpid())-\(random)"
    }

    // MARK: Checks

    enum Kind { case absent, emptyFolder, report, other(String) }

    static func kind(of path: String) -> Kind {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .absent }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return .other("exists and is not a folder") }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        if contents.isEmpty { return .emptyFolder }
        let index = path + "/index.html"
        guard let html = FileManager.default.contents(atPath: index), String(decoding: html, as: UTF8.self).contains(ReportBuilder.marker) else {
            return .other("folder is not empty and holds no attnviz report; refusing to replace it")
        }
        return .report
    }

    /// Fails when the target holds something that is not an earlier report.
    func checkReplaceable() throws {
        if case let .other(problem) = Self.kind(of: target) { throw ReportError.output(path: path, problem: problem) }
    }

    // MARK: Staging

    /// Creates the parent (if needed) and a fresh staging folder with `figures/`, after removing
    /// stale staging folders of dead processes; registers it for clean-up on signals.
    func makeStaging() throws -> String {
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
            throw ReportError.output(path: parent, problem: "cannot create the folder: \(Self.reason(error))")
        }
        Self.removeStale(in: parent)
        let staging = sibling(Self.stagingPrefix)
        SignalCleanup.shared.begin(staging: staging)
        do { try fm.createDirectory(atPath: staging + "/figures", withIntermediateDirectories: true) } catch {
            SignalCleanup.shared.end()
            try? fm.removeItem(atPath: staging)
            throw ReportError.output(path: path, problem: "cannot write here: \(Self.reason(error))")
        }
        return staging
    }

    /// Removes a staging folder after a failure and forgets it.
    func discard(staging: String) {
        try? FileManager.default.removeItem(atPath: staging)
        SignalCleanup.shared.end()
    }

    /// Staging and aside folders whose process (the pid in the name) no longer exists.
    static func removeStale(in parent: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for entry in entries {
            guard let prefix = [stagingPrefix, asidePrefix].first(where: { entry.hasPrefix($0) }) else { continue }
            guard let pid = Int32(entry.dropFirst(prefix.count).prefix(while: { $0 != "-" })), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) == -1, errno == ESRCH {
                try? FileManager.default.removeItem(atPath: (parent == "/" ? "" : parent) + "/" + entry)
            }
        }
    }

    // MARK: Replacing

    /// Moves the finished staging folder to the target. An existing target is renamed aside
    /// first and checked as it is then (not as it was when the render started); only an earlier
    /// report or an empty folder is removed, anything else is put back.
    func replace(with staging: String) throws {
        let fm = FileManager.default
        let target = self.target
        var aside: String?
        if case .absent = Self.kind(of: target) {} else {
            let old = sibling(Self.asidePrefix)
            guard rename(target, old) == 0 else { throw ReportError.output(path: path, problem: "cannot replace: \(Self.errnoText())") }
            SignalCleanup.shared.moved(aside: old, from: target)
            if case let .other(problem) = Self.kind(of: old) {
                _ = Self.renameNoReplace(old, target)
                SignalCleanup.shared.moved(aside: nil, from: target)
                throw ReportError.output(path: path, problem: problem)
            }
            aside = old
        }
        guard Self.renameNoReplace(staging, target) == 0 else {
            let reason = errno == EEXIST || errno == ENOTEMPTY ? "something was created there during the render" : Self.errnoText()
            if let aside { _ = Self.renameNoReplace(aside, target) }
            SignalCleanup.shared.moved(aside: nil, from: target)
            throw ReportError.output(path: path, problem: "cannot move the report into place: \(reason)")
        }
        SignalCleanup.shared.end()
        if let aside { try? fm.removeItem(atPath: aside) }
    }

    /// Writes a new file of the report with POSIX calls, so that a full disk or a file-size limit
    /// is reported in words ("File too large"), not as a Foundation error code.
    static func write(_ data: Data, to path: String) throws {
        let failure = POSIXWrite.file(path, data, exclusive: false)
        if failure != 0 { throw ReportError.output(path: path, problem: POSIXWrite.text(failure)) }
    }

    /// rename(2) that never replaces an existing entry.
    static func renameNoReplace(_ from: String, _ to: String) -> Int32 {
        if let renameat2 = Self.renameat2 {
            let r = renameat2(-100 /* AT_FDCWD */, from, -100, to, 1 /* RENAME_NOREPLACE */)
            if r == 0 || errno != EINVAL && errno != ENOSYS { return r }
        }
        // File systems without RENAME_NOREPLACE: check, then rename (a small window remains).
        var info = stat()
        if lstat(to, &info) == 0 { errno = EEXIST; return -1 }
        return rename(from, to)
    }

    /// glibc's renameat2 (≥ 2.28), looked up at run time: Swift's Glibc module does not export it.
    typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    static let renameat2: RenameAt2? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
    }()

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// An error's reason in words: the POSIX text for file-system errors (disk full, read-only),
    /// not a raw NSError dump.
    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }
}

/// What a catchable signal must undo: the staging folder in progress, and an old report that is
/// renamed aside at that moment. Signal handlers run on a dispatch queue (not in async-signal
/// context), then the signal is raised again with its default action so the exit status says
/// which signal ended the process.
final class SignalCleanup: @unchecked Sendable {
    static let shared = SignalCleanup()
    private let lock = NSLock()
    private var staging: String?
    private var aside: (old: String, target: String)?
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "attnviz.signals")
    static let signals = [SIGINT, SIGTERM, SIGHUP]

    func begin(staging: String) {
        lock.lock(); defer { lock.unlock() }
        self.staging = staging
        guard sources.isEmpty else { return }
        for sig in Self.signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [weak self] in self?.fire(sig) }
            source.resume()
            sources.append(source)
        }
    }

    func moved(aside old: String?, from target: String) {
        lock.lock(); defer { lock.unlock() }
        aside = old.map { ($0, target) }
    }

    func end() {
        lock.lock(); defer { lock.unlock() }
        staging = nil
        aside = nil
    }

    private func fire(_ sig: Int32) {
        lock.lock()
        if let staging { try? FileManager.default.removeItem(atPath: staging) }
        if let aside { _ = OutputFolder.renameNoReplace(aside.old, aside.target) }
        staging = nil
        aside = nil
        // Keep the lock: no other thread may start a new staging folder now.
        signal(sig, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, sig)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)  // libdispatch blocks it on its thread
        raise(sig)
        exit(128 + sig)
    }
}
