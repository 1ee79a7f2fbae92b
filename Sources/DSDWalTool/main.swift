print("dsd-wal-tool")
