// Module DSDAgent: see Docs/.
