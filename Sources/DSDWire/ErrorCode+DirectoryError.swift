import DSDCore

extension ErrorCode {
    /// The wire code for a rejected mutation.
    public init(_ error: DirectoryError) {
        switch error {
        case .noSuchTable, .noSuchTableID: self = .noSuchTable
        case .noSuchEntry: self = .notFound
        case .invalidKey, .keyTooLong: self = .invalidKey
        case .invalidValue, .valueTooLong: self = .invalidValue
        case .invalidTableName, .tableNameTooLong: self = .invalidTableName
        case .tableExists, .tableIDUnavailable: self = .tableExists
        case .tooManyTables: self = .tooManyTables
        case .tableFull: self = .tableFull
        case .standardTable: self = .notPermitted
        case .tableNotEmpty: self = .notEmpty
        case .staleVersion, .staleEpoch: self = .staleVersion
        case .inconsistentSnapshot: self = .internal
        case .invalidBatch: self = .invalidBatch
        case .inBatch(_, let error): self = ErrorCode(error)
        }
    }
}
