// Module DSDWire: see Docs/.
