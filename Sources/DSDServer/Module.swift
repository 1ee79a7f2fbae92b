// Module DSDServer: see Docs/.
