@testable import DSDCore

/// The tables of the design document's figures (FIG. 2A–2G), as text in the load format.
let figureText = """
    # FIG. 2A
    DSD_MTID_GATEWAY GW.1 HOST0:1700 1
    # FIG. 2B: MDS.1 names its primary MDS.1.1; MDS.1.0 is the backup
    DSD_MTID_METADATA MDS.1 HOST9:1872 1
    DSD_MTID_METADATA MDS.1.0 HOST11:1872 1
    DSD_MTID_METADATA MDS.1.1 HOST9:1872 1
    DSD_MTID_METADATA MDS.2 HOST0:1872 1
    # FIG. 2C
    DSD_MTID_BSS BSS.4 HOST1:1900 1
    # FIG. 2D
    DSD_HOST_ROUTE HOST0.0 10.7.6.4 1
    DSD_HOST_ROUTE HOST0.1 10.8.6.4 1
    DSD_HOST_ROUTE HOST1.0 10.17.6.4 0
    DSD_HOST_ROUTE HOST1.1 10.16.0.2 1
    DSD_HOST_ROUTE HOST9.0 16.7.13.1 1
    DSD_HOST_ROUTE HOST9.1 16.7.14.1 1
    DSD_HOST_ROUTE HOST11.0 16.7.13.11 1
    # FIG. 2G
    DSD_MTID_METADATA_PART 0 MDS.1 1
    DSD_MTID_METADATA_PART 1 MDS.1 1
    DSD_MTID_METADATA_PART 2 MDS.2 1
    # FIG. 2F
    DSD_MTID_BITFILE_PART 0 BSS.4 1
    """

/// A directory holding the figures' tables.
func figureDirectory(settings: Directory.Settings = .testing) throws -> Directory {
    var directory = Directory(epoch: 1, settings: settings)
    let document = try LoadFormat.parse(figureText)
    for mutation in try directory.mutations(loading: document) {
        _ = try directory.commit(mutation)
    }
    return directory
}

/// Commits a put by table name.
@discardableResult
func put(
    _ directory: inout Directory, _ table: StandardTable, _ key: String, _ value: String,
    valid: Bool = true
) throws -> Change {
    try directory.commit(.put(table.id, Entry(key: key, value: value, valid: valid)))
}
