import ArgumentParser
import DSDWire

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Print a new random cluster key (hex) for --cluster-key files.",
        discussion: "Example: umask 077; dsd keygen > /etc/dsd/cluster.key"
    )

    func run() {
        print(ClusterKey.generate().fileContents)
    }
}
