// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "attnviz",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "attnviz", targets: ["attnviz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.0.0"),
        .package(url: "https://github.com/pointfreeco/swift-snapshot-testing", from: "1.17.0"),
    ],
    targets: [
        // C bridges: thin system-library targets, found through pkg-config.
        .systemLibrary(
            name: "CCairo", pkgConfig: "pangocairo",
            providers: [.apt(["libcairo2-dev", "libpango1.0-dev"])]),
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        // libdeflate: the PNG writer's deflate (README, "Performance": faster than zlib at
        // the same size).
        .systemLibrary(
            name: "CDeflate", pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]),
        // glibc's mallopt (malloc.h), for Memory.keepFreedMemory.
        .systemLibrary(name: "CMalloc"),
        // libpng reports errors by longjmp, which Swift cannot catch: a few lines of C turn
        // them into status codes.
        .target(
            name: "CPNG",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("z")]),

        .target(name: "AttnvizTensor", dependencies: ["COpenBLAS", "CMalloc"]),
        // Plain values the forward pass records; the renderer and report see only these.
        .target(name: "AttnvizTrace", dependencies: ["AttnvizTensor"]),
        .target(name: "AttnvizModel", dependencies: ["AttnvizTensor", "AttnvizTrace"]),
        .target(name: "AttnvizRender", dependencies: ["CCairo", "CPNG", "CDeflate"]),
        .target(
            name: "AttnvizReport",
            dependencies: [
                "AttnvizTrace", "AttnvizRender", "AttnvizTensor",
                .product(name: "Mustache", package: "swift-mustache"),
            ]),
        .executableTarget(
            name: "attnviz",
            dependencies: [
                "AttnvizModel", "AttnvizRender", "AttnvizReport", "AttnvizTensor", "AttnvizTrace",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "attnviz-bench",
            dependencies: ["AttnvizModel", "AttnvizRender", "AttnvizTensor", "AttnvizReport"],
            path: "Sources/bench"),
        // libFuzzer targets (make fuzz); a plain build replays corpora (make test's smoke run).
        .executableTarget(name: "attnviz-fuzz", dependencies: ["AttnvizModel", "AttnvizTrace"], path: "Sources/fuzz"),

        .testTarget(
            name: "AttnvizTensorTests", dependencies: ["AttnvizTensor"]),
        .testTarget(
            name: "AttnvizModelTests", dependencies: ["AttnvizModel", "AttnvizTensor", "AttnvizTrace"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "AttnvizReportTests", dependencies: ["AttnvizReport", "AttnvizTensor"]),
        .testTarget(
            name: "AttnvizCLITests", dependencies: ["attnviz", "AttnvizModel", "AttnvizRender", "AttnvizReport", "AttnvizTensor"]),
        .testTarget(
            name: "AttnvizRenderTests",
            dependencies: [
                "AttnvizRender", "CPNG",
                .product(name: "SnapshotTesting", package: "swift-snapshot-testing"),
            ],
            exclude: ["__Snapshots__"]),
    ]
)
