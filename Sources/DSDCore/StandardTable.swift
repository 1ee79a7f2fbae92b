/// The tables of the design document (FIG. 2A–2G, 6B, 6C), present in every directory with
/// fixed ids.
public enum StandardTable: UInt32, CaseIterable, Sendable {
    case gateway = 1
    case metadata = 2
    case bss = 3
    case hostRoute = 4
    case metadataPart = 5
    case bitfilePart = 6
    case smsa = 7
    case mi = 8

    public var id: TableID { TableID(rawValue) }

    public var name: String {
        switch self {
        case .gateway: "DSD_MTID_GATEWAY"
        case .metadata: "DSD_MTID_METADATA"
        case .bss: "DSD_MTID_BSS"
        case .hostRoute: "DSD_HOST_ROUTE"
        case .metadataPart: "DSD_MTID_METADATA_PART"
        case .bitfilePart: "DSD_MTID_BITFILE_PART"
        case .smsa: "DSD_SMSA"
        case .mi: "DSD_MI"
        }
    }

    /// Tables whose values are server routes (`HOST9:1872`), searched by find-server.
    public static let serverTables: [StandardTable] = [.gateway, .metadata, .bss]
}
