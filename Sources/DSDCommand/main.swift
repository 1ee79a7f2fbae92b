print("dsd")
