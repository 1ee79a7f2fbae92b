// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

/// Linker flags for `dsd` that keep startup from touching pages nobody needs again, so every
/// agent on a host stays small (measured: Docs/decisions.md, "The agent's resident memory"):
/// lld packs the relative relocations (DT_RELR: kilobytes instead of 1.5 MB the loader reads at
/// every start), and only the symbols the shared libraries need are exported (the static Swift
/// runtime's `-export-dynamic` put 19,000 symbols, 1.3 MB, in the dynamic table).
let residentFootprintFlags = [
    "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
]

let package = Package(
    name: "dsd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dsd", targets: ["DSDCommand"]),
        .executable(name: "dsd-wal-tool", targets: ["DSDWalTool"]),
        .executable(name: "dsd-bench", targets: ["DSDBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.100.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
    ],
    targets: [
        // Pure core: tables, versions, resolution rules, state machines. No I/O.
        .target(
            name: "DSDCore",
            dependencies: [.product(name: "HashTreeCollections", package: "swift-collections")],
            swiftSettings: strict
        ),
        // Operating-system helpers the drivers share without Foundation: threads, streams, paths.
        .target(name: "DSDPosix", swiftSettings: strict),
        // Write-ahead log and snapshots. Plain POSIX I/O, no networking.
        .target(
            name: "DSDLog",
            dependencies: ["DSDPosix", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Crash-test and benchmark driver for the log (used by DSDLogTests and `make bench`).
        .executableTarget(name: "DSDWalTool", dependencies: ["DSDLog"], swiftSettings: strict),
        // Binary messages, framing and the authentication handshake.
        .target(
            name: "DSDWire",
            dependencies: [
                "DSDCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The directory driver: connections, committer, pushes.
        .target(
            name: "DSDServer",
            dependencies: [
                "DSDCore", "DSDWire", "DSDLog", "DSDPosix", "DSDEtcd", "DSDAgent",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The agent driver: replica, upstream link, local socket.
        .target(
            name: "DSDAgent",
            dependencies: [
                "DSDCore", "DSDWire", "DSDPosix",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Client of etcd's v3 JSON gateway over HTTP/1.1, for a directory kept in etcd.
        .target(
            name: "DSDEtcd",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Swift API for local programs: a blocking client of the agent's Unix socket.
        .target(
            name: "DSDClient",
            dependencies: ["DSDCore", "DSDWire", "DSDPosix", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        // libfuse3 through pkg-config, plus a tiny C shim for what Swift cannot import.
        .systemLibrary(
            name: "CFuse",
            pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]
        ),
        // C helpers over libfuse3 for what Swift cannot import (macros, variadic calls).
        .target(name: "CFuseShim", dependencies: ["CFuse"]),
        // The /dsd filesystem: pure tree model + the libfuse low-level bridge.
        .target(
            name: "DSDFuse",
            dependencies: [
                "DSDCore", "DSDPosix", "CFuse", "CFuseShim",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The `dsd` executable: the only place that wires modules together.
        .executableTarget(
            name: "DSDCommand",
            dependencies: [
                "DSDCore", "DSDWire", "DSDLog", "DSDServer", "DSDAgent", "DSDFuse", "DSDClient", "DSDPosix", "DSDEtcd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict,
            linkerSettings: [.unsafeFlags(residentFootprintFlags, .when(platforms: [.linux]))]
        ),
        // Benchmarks printed by `make bench`: propagation latency, bytes on the wire, memory.
        .executableTarget(
            name: "DSDBench",
            dependencies: [
                "DSDCore", "DSDWire", "DSDClient", "DSDServer", "DSDAgent", "DSDEtcd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DSDIntegrationTests",
            dependencies: [
                "DSDCore", "DSDWire", "DSDClient", "DSDTestSupport", "DSDEtcd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DSDLivenessTests", dependencies: ["DSDCore", "DSDWire", "DSDClient", "DSDTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "DSDRouteTests",
            dependencies: [
                "DSDCore", "DSDWire", "DSDClient", "DSDTestSupport", .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(name: "DSDClientTests", dependencies: ["DSDClient", "DSDCore"], swiftSettings: strict),
        // Shared by the process-level tests: child processes, a cluster of real `dsd` processes.
        .target(
            name: "DSDTestSupport", dependencies: ["DSDClient", "DSDCore", "DSDWire"], path: "Tests/DSDTestSupport",
            swiftSettings: strict),
        .testTarget(
            name: "DSDMountTests", dependencies: ["DSDTestSupport", "DSDClient", "DSDCore"], swiftSettings: strict),
        .testTarget(name: "DSDCoreTests", dependencies: ["DSDCore", "DSDTestSupport"], swiftSettings: strict),
        .testTarget(name: "DSDLogTests", dependencies: ["DSDLog", "DSDTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "DSDWireTests",
            dependencies: [
                "DSDWire", "DSDCore", "DSDTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DSDServerTests",
            dependencies: [
                "DSDServer", "DSDCore", "DSDWire", "DSDEtcd", "DSDTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "DSDEtcdTests",
            dependencies: ["DSDEtcd", "DSDTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        .testTarget(name: "DSDPosixTests", dependencies: ["DSDPosix"], swiftSettings: strict),
        .testTarget(name: "DSDFuseTests", dependencies: ["DSDFuse", "DSDCore"], swiftSettings: strict),
    ]
)
